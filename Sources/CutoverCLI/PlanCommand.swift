import CutoverCore
import Foundation

/// `cutover plan WORKFLOW --runbook RUNBOOK`: what a run would do, touching nothing.
enum PlanCommand {
    static func run(_ args: Arguments, _ ctx: Context) throws -> Int32 {
        let workflow = try args.positionals("WORKFLOW")[0]
        let runbook = args.value("--runbook")
        let mode: RunMode = args.has("--drill") ? .drill : .live
        let registry = ctx.registry
        let (wf, rb, wfDigest, _) = try Definitions.load(workflow: workflow, runbook: runbook, mode: mode, registry: registry)
        let scope = Template.Scope(
            runbook: rb.source, parameters: wf.parameters,
            run: ["id": .string("<run id>"), "mode": .string(mode.rawValue), "startedBy": .string(ctx.actor), "service": .string(rb.service)])
        var steps: [JSONValue] = []
        for step in wf.steps {
            let type = registry[step.type]!
            let resolved = resolveKnown(.object(step.with), scope)
            let kind = type.kind(with: step.with)
            let compensation: String
            if step.pivot {
                compensation = "pivot: \(type.compensation ?? "nothing to undo"); never rolled back automatically in a live run"
            } else if kind == .check {
                compensation = "nothing to undo (reads only)"
            } else {
                compensation = type.compensation ?? "nothing to undo"
            }
            steps.append(.object([
                "id": .string(step.id), "type": .string(step.type), "kind": .string(kind.rawValue), "pivot": .bool(step.pivot),
                "with": resolved, "defaults": defaults(of: type, given: step.with), "compensation": .string(compensation),
                "retry": .string("\(step.retry.attempts) attempt\(step.retry.attempts == 1 ? "" : "s"), backoff \(DurationText.format(.milliseconds(step.retry.initialBackoffMillis)))"),
                "timeout": step.timeout.map { .string(DurationText.format($0)) } ?? .null,
                "group": step.group.map(JSONValue.string) ?? .null,
            ]))
        }
        if args.has("--json") {
            ctx.console.json(JSONValue.object([
                "workflow": .string(wf.name), "workflowDigest": .string(wfDigest), "runbook": .string(rb.service),
                "mode": .string(mode.rawValue), "steps": .array(steps),
                "groups": .array(wf.groups.map { g in
                    .object(["id": .string(g.id), "maxConcurrency": .int(Int64(g.maxConcurrency)), "steps": .array(g.members.map(JSONValue.string))])
                }),
            ]))
            return ExitCode.ok
        }
        let c = ctx.console
        c.out(c.paint("Plan: \(wf.name) v\(wf.version) for \(rb.service) (\(mode.rawValue))", .bold))
        c.out(c.paint("Nothing is changed by plan; secrets are shown as references.", .dim))
        var group: String?
        for (i, step) in steps.enumerated() {
            let pivot = step["pivot"]?.boolValue == true ? c.paint("  PIVOT", .yellow) : ""
            let member = step["group"]?.stringValue
            if let member, member != group, let g = wf.groups.first(where: { $0.id == member }) {
                c.out("")
                c.out(c.paint("parallel group \(g.id): \(g.members.count) steps, up to \(g.maxConcurrency) at a time", .bold))
                c.out("     if one fails, the others stop at their next safe point and those done are undone, latest first")
            }
            group = member
            c.out("")
            c.out("\(member == nil ? "" : "  ")\(i + 1). \(c.paint(step["id"]!.stringValue!, .bold))  \(step["type"]!.stringValue!)\(pivot)\(member.map { "  (in \($0))" } ?? "")")
            // In the order the step type declares its parameters, defaults shown as such.
            let with = step["with"]?.objectValue ?? [:]
            let defaults = step["defaults"]?.objectValue ?? [:]
            for field in registry[step["type"]!.stringValue!]!.parameters {
                if let value = with[field.name] {
                    c.out("     \(field.name): \(show(value))")
                } else if let value = defaults[field.name] {
                    c.out(c.paint("     \(field.name): \(show(value)) (default)", .dim))
                }
            }
            c.out("     retry: \(step["retry"]!.stringValue!)\(step["timeout"]?.stringValue.map { "; timeout \($0)" } ?? "")")
            c.out("     undo: \(step["compensation"]!.stringValue!)")
        }
        return ExitCode.ok
    }

    /// The defaults of the parameters `given` leaves out.
    static func defaults(of type: AnyStepType, given: [String: JSONValue]) -> JSONValue {
        .object(Dictionary(uniqueKeysWithValues: type.parameters.compactMap { f in
            given[f.name] == nil ? f.defaultValue.map { (f.name, $0) } : nil
        }))
    }

    /// A value for the text plan: a target as `provider field=value ...`, strings bare.
    static func show(_ value: JSONValue) -> String {
        func text(_ v: JSONValue) -> String {
            guard let s = v.stringValue else { return v.canonicalString }
            // A URL may carry a password or a token in its user part or query.
            return s.contains("://") ? URLText.redacted(s) : s
        }
        if let o = value.objectValue, let provider = o["provider"]?.stringValue {
            return ([provider] + o.keys.sorted().filter { $0 != "provider" }.map { "\($0)=\(text(o[$0]!))" }).joined(separator: " ")
        }
        return text(value)
    }

    /// Resolves runbook, parameter and run references; leaves `${steps...}`, known only at run time.
    static func resolveKnown(_ value: JSONValue, _ scope: Template.Scope) -> JSONValue {
        switch value {
        case .string(let s) where s.contains("${") && !s.contains("${steps."):
            return (try? Template.resolve(value, in: scope)) ?? value
        case .array(let items): return .array(items.map { resolveKnown($0, scope) })
        case .object(let members): return .object(members.mapValues { resolveKnown($0, scope) })
        default: return value
        }
    }
}
