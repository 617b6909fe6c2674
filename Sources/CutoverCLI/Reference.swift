import CutoverBuildInfo
import CutoverCore
import Foundation

/// The reference of cutover's commands and files, written from the declarations: the commands
/// (`Commands`), each step type's schema and texts, the providers' target schemas, and the
/// fields the loaders accept. `docs/REFERENCE.md` is `markdown` (a test keeps it so).
enum Reference {
    static func stepTypes(_ registry: StepRegistry) -> String {
        let width = registry.names.map(\.count).max() ?? 0
        return "Step types (`cutover explain TYPE` for one):\n" + registry.names.compactMap { registry[$0] }.map { t in
            "  \(t.name.padding(toLength: width, withPad: " ", startingAt: 0))  \(kindText(t.kind).padding(toLength: 11, withPad: " ", startingAt: 0))  \(firstSentence(t.summary))"
        }.joined(separator: "\n")
    }

    static func kindText(_ kind: StepKind) -> String {
        switch kind {
        case .check: "check"
        case .compensable: "compensable"
        case .pivot: "pivot"
        }
    }

    static func firstSentence(_ text: String) -> String {
        guard let end = text.range(of: ". ") ?? text.range(of: ": ") else { return text }
        return String(text[..<end.lowerBound]) + "."
    }

    /// The runbook reference a target parameter usually names.
    static func sampleTarget(_ c: Capability) -> String {
        switch c {
        case .instanceGroup: "${runbook.dr.gpuGroup}"
        case .dnsZone: "${runbook.dns.authoritative}"
        case .objectStore: "${runbook.dr.models}"
        case .replica: "${runbook.dr.redis}"
        case .alerting: "${runbook.alerts}"
        default: "${runbook.dr.target}"
        }
    }

    /// A value a field could be given, for the example.
    static func sample(_ f: ParameterField) -> JSONValue {
        if let d = f.defaultValue { return d }
        switch f.type {
        case .string: return .string(f.name == "name" ? "recommendations.example.test." : "...")
        case .integer(let min, _): return .int(Swift.max(1, min ?? 1))
        case .number(let min, _): return .double(min ?? 0)
        case .boolean: return .bool(true)
        case .duration: return .string("30s")
        case .url: return .string("${runbook.dr.endpoint}/health")
        case .secret: return .string("env:WEBHOOK_URL")
        case .stringList: return .array([.string("${runbook.dr.address}")])
        case .approverList: return .string("${runbook.approvers}")
        case .integerList(let lo, _): return .array([.int(lo == 0 ? 75 : 200)])
        case .oneOf(let values): return .string(values.first ?? "")
        case .object: return .object([:])
        case .action: return .object(["command": .array([.string("/usr/local/bin/undo"), .string("${output.id}")])])
        case .target(let c): return .string(sampleTarget(c))
        }
    }

    static func example(_ t: AnyStepType) -> String {
        var with: [String: JSONValue] = [:]
        for f in t.parameters where f.required { with[f.name] = sample(f) }
        let step: JSONValue = .object(["id": .string(t.name.replacingOccurrences(of: ".", with: "-")), "type": .string(t.name), "with": .object(with)])
        return step.canonicalString
    }

    static func explain(_ t: AnyStepType, _ registry: StepRegistry) -> String {
        var out = "\(t.name) (\(kindText(t.kind)))\n\n\(t.summary)\n\nParameters (in `with`):"
        for f in t.parameters {
            out += "\n  \(f.name)\(f.required ? " (required)" : "")\(f.summary.isEmpty ? "" : ": \(f.summary)")"
            out += "\n      \(f.expectation)\(f.defaultValue.map { "; default \($0.canonicalString)" } ?? "")"
        }
        let targets = t.parameters.compactMap { f -> String? in
            guard case .target(let c) = f.type else { return nil }
            return "  \(f.name): \(c.noun), served by \(registry.providers.offering(c).joined(separator: ", "))"
        }
        if !targets.isEmpty { out += "\n\nProviders:\n" + targets.joined(separator: "\n") }
        out += "\n\nUndone by compensation: \(t.compensation ?? (t.kind == .check ? "nothing to undo: a check leaves nothing to restore" : "nothing"))"
        out += "\nAfter a crash (observe): \(t.observation ?? "reads nothing; an attempt left in flight runs again")"
        out += "\n\nExample:\n  \(example(t))"
        return out
    }

    /// What each field of a workflow means; a test holds it to the fields the loader accepts.
    static let workflowFields: [(String, String)] = [
        ("name", "the workflow's name (letters, digits, - and _), required"),
        ("version", "an integer, for people; default 1"),
        ("description", "what the workflow does, for people"),
        ("parameters", "an object of values the steps read as ${parameters.NAME}"),
        ("steps", "the steps, in order, required; a step may be a parallel group"),
    ]
    static let groupFields: [(String, String)] = [
        ("id", "the group's id, unique among steps and groups (letters, digits, - and _), required"),
        ("parallel", "the steps that run at the same time, required; each refers only to steps before the group, and steps after it may read theirs"),
        ("maxConcurrency", "how many of them may run at once (1 to 1000); default all"),
        ("description", "what the group is for, for people"),
    ]
    static let stepFields: [(String, String)] = [
        ("id", "the step's id, unique in the workflow (letters, digits, - and _), required"),
        ("type", "a step type (`cutover help step-types`), required"),
        ("description", "what the step is for, for people"),
        ("with", "the step type's parameters (`cutover explain TYPE`); any value may be a ${...} reference"),
        ("retry", "{\"attempts\": 3, \"backoff\": \"1s\", \"maxBackoff\": \"30s\", \"multiplier\": 2, \"jitter\": 0.2}: the defaults; attempts count the first"),
        ("timeout", "a duration (\"2m\"); no default: a step without one may run as long as it takes"),
        ("pivot", "true marks the step after which a run is not rolled back on its own; only a step that changes something can be one"),
    ]
    static let runbookFields: [(String, String)] = [
        ("service", "the service's name (letters, digits, - and _); one active run per service, required"),
        ("description", "what the runbook is for, for people"),
        ("owner", "who owns the service, for people"),
        ("procedure", "a file with the human procedure, shown with runs that need a person"),
        ("primary", "an object describing the primary side, required: its `endpoint`, address and targets, as the workflows refer to them"),
        ("dr", "an object describing the DR side, required: its `endpoint`, address and targets, as the workflows refer to them"),
        ("aws", "AWS defaults for the runbook's targets"),
        ("dns", "the record to switch and its zones"),
        ("models", "the model registry's manifest and copy settings"),
        ("monitor", "the cutover monitor's window and settings"),
        ("thresholds", "rto, rpo, p95 (durations), errorRate (a fraction from 0 to 1), rtoUntil (monitor or dns)"),
        ("approvers", "the people who may approve, an array of names"),
        ("notify", "where notifications go, like {\"webhook\": \"env:WEBHOOK_URL\"}"),
        ("alerts", "the alert manager target"),
        ("safety", "rules looked at right before every mutating step they guard, each look recorded: {\"id\", \"rule\": \"resolves-to-serving\" (name?, nameserver?, healthPath?=/health) | \"replica-lag\" (replica: a runbook path like dr.redis, rpo?) | \"change-rate\" (max, within), \"before\"?: [step types] (default every mutating step), \"onFail\"?: \"stop\" | {\"wait\": \"30s\", \"upTo\": \"10m\"}}; `cutover override` lets an approver go on"),
        ("shipping", "{\"unshipped\": \"stop\"} (default: while the log cannot be shipped, the run pauses before a change) or \"proceed\" (noted, the change goes on); where the log goes is CUTOVER_SHIP_TO"),
        ("drill", "overrides applied for drills and readiness runs (any field but service)"),
    ]

    static let runbookTargetHelp = "the provider that serves the target; `cutover help runbook` lists each one's fields"

    static var workflow: String {
        "A workflow (workflows/NAME.json) is a JSON object:\n" + fieldList(workflowFields)
            + "\n\nEach step is an object:\n" + fieldList(stepFields)
            + "\n\nA parallel group is an object in `steps` whose steps run side by side:\n" + fieldList(groupFields)
            + "\nThe group succeeds when all its steps do. When one fails for good (or the run is aborted), the others stop at their next safe point (a wait, or right before a change), and the group's completed steps are undone with the rest of the run, latest first; a group whose pivot completed stops for a person instead."
            + "\n\n`cutover validate` checks a workflow alone and with each runbook given; `cutover explain TYPE` shows a step type's parameters."
    }

    static func runbook(_ registry: StepRegistry) -> String {
        var out = "A runbook (runbooks/NAME.json) is a JSON object:\n" + fieldList(runbookFields)
        out += "\n\nAny object with a \"provider\" is a target, checked against that provider's fields:"
        for name in registry.providers.names {
            guard let p = registry.providers[name] else { continue }
            let caps = p.capabilities.map(\.noun).sorted().joined(separator: ", ")
            out += "\n  \(name) (\(caps)): " + p.fields.map { f in
                "\(f.name)\(f.required ? "" : "?")" + (f.defaultValue.map { "=\($0.canonicalString)" } ?? "")
            }.joined(separator: ", ")
        }
        return out + "\n\nSecrets are references (env:NAME, file:/path, aws-sm:NAME[#KEY], gcp-sm:projects/P/secrets/S/versions/V), resolved only where a step runs, right before it."
    }

    static var references: String {
        """
        Values in a workflow's `with` may be references, resolved when the step runs:
          ${runbook.PATH}          a value of the runbook (drill overrides applied for drills), like ${runbook.dr.endpoint}
          ${parameters.NAME}       a value of the workflow's `parameters`
          ${steps.ID.output.PATH}  a field of an earlier step's output, like ${steps.models-verify.output.version}
          ${run.id} ${run.mode} ${run.startedBy} ${run.service}
        A value that is one reference takes the referenced value's type (an object, a number);
        inside a longer string it is written as text. Unknown names are refused when the files
        load, with a did-you-mean.
        """
    }

    static func fieldList(_ fields: [(String, String)]) -> String {
        let width = fields.map(\.0.count).max() ?? 0
        return fields.map { "  \($0.0.padding(toLength: width, withPad: " ", startingAt: 0))  \($0.1)" }.joined(separator: "\n")
    }

    /// `docs/REFERENCE.md`.
    static func markdown(_ registry: StepRegistry) -> String {
        var out = "# cutover reference\n\nWritten by `cutover help reference` from the code; a test keeps this file equal to it.\n\n## Commands\n"
        for section in CommandSpec.Section.allCases {
            out += "\n### \(section.rawValue)\n"
            for c in Commands.all where c.section == section {
                out += "\n#### `cutover \(c.name)`\n\n```\n\(c.help)\n```\n"
            }
        }
        out += "\n## Workflows\n\n```\n\(workflow)\n```\n\n## Runbooks\n\n```\n\(runbook(registry))\n```\n\n## References\n\n```\n\(references)\n```\n\n## JSON output\n\n```\n\(JSONShapes.text)\n```\n\n## Step types\n"
        for name in registry.names {
            guard let t = registry[name] else { continue }
            out += "\n### `\(name)`\n\n```\n\(explain(t, registry))\n```\n"
        }
        return out
    }

    /// The man page (roff), from the same declarations.
    static func man(_ registry: StepRegistry) -> String {
        // Backslashes printed as such; every "-" a minus sign (`\-`), so an option copied from
        // the page is typed right; quotes as `\(dq`, so a macro's arguments are not split
        // or joined by them; a line starting with "." or "'" is text, not a request.
        func esc(_ s: String) -> String {
            s.replacingOccurrences(of: "\\", with: "\\e").replacingOccurrences(of: "-", with: "\\-").replacingOccurrences(of: "\"", with: "\\(dq")
                .split(separator: "\n", omittingEmptySubsequences: false)
                .map { $0.hasPrefix(".") || $0.hasPrefix("'") ? "\\&" + $0 : String($0) }.joined(separator: "\n")
        }
        var out = """
            .TH CUTOVER 1 "" "cutover \(BuildInfo.version)" "User Commands"
            .SH NAME
            cutover \\- durable failover workflows with an audited event log
            .SH SYNOPSIS
            .B cutover
            [\\-\\-db PATH] COMMAND [ARGS] [\\-\\-help]
            .SH DESCRIPTION
            cutover runs failovers, failbacks and drills as durable workflows of typed steps,
            recorded in an append-only, hash-chained event log.
            .SH COMMANDS

            """
        for c in Commands.all {
            out += ".TP\n.B cutover \(esc(c.name))\(c.operands.isEmpty ? "" : " " + esc(c.operands))\n\(esc(c.summary))\n"
            for o in c.options {
                out += ".RS\n.TP\n.B \(esc(o.usage))\n\(esc(o.help))\(o.defaultShown.map { " (default \(esc($0)))" } ?? "")\n.RE\n"
            }
        }
        out += ".SH STEP TYPES\n"
        for name in registry.names {
            guard let t = registry[name] else { continue }
            out += ".TP\n.B \(esc(name))\n\(esc(t.summary))\n"
        }
        out += """
            .SH EXIT STATUS
            0 done; 1 failed, rolled back, needs attention or refused; 3 audit verify without a trusted key;
            64 bad usage or invalid definitions; 75 waiting for people (\\-\\-detach); 130 interrupted.
            .SH FILES
            .I .cutover/cutover.sqlite
            the event log (or \\-\\-db, or CUTOVER_DB).
            .SH SEE ALSO
            cutover help reference

            """
        return out
    }
}
