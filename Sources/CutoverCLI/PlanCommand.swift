import CutoverCore
import Foundation

/// `cutover plan WORKFLOW --runbook RUNBOOK`: what a run would do, touching nothing.
enum PlanCommand {
    static func run(_ args: Arguments, _ ctx: Context) throws -> Int32 {
        let workflow = try args.positionals("WORKFLOW")[0]
        guard let runbook = args["--runbook"] else { throw UsageError("missing --runbook RUNBOOK") }
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
            let compensation: String
            if step.pivot {
                compensation = "pivot: \(type.compensation ?? "nothing to undo"); never rolled back automatically in a live run"
            } else if type.kind == .check {
                compensation = "nothing to undo (reads only)"
            } else {
                compensation = type.compensation ?? "nothing to undo"
            }
            steps.append(.object([
                "id": .string(step.id), "type": .string(step.type), "kind": .string(type.kind.rawValue), "pivot": .bool(step.pivot),
                "with": resolved, "compensation": .string(compensation),
                "retry": .string("\(step.retry.attempts) attempt\(step.retry.attempts == 1 ? "" : "s"), backoff \(DurationText.format(.milliseconds(step.retry.initialBackoffMillis)))"),
                "timeout": step.timeout.map { .string(DurationText.format($0)) } ?? .null,
            ]))
        }
        if args.has("--json") {
            ctx.console.out(JSONValue.object([
                "workflow": .string(wf.name), "workflowDigest": .string(wfDigest), "runbook": .string(rb.service),
                "mode": .string(mode.rawValue), "steps": .array(steps),
            ]).canonicalString)
            return ExitCode.ok
        }
        let c = ctx.console
        c.out(c.paint("Plan: \(wf.name) v\(wf.version) for \(rb.service) (\(mode.rawValue))", .bold))
        c.out(c.paint("Nothing is changed by plan; secrets are shown as references.", .dim))
        for (i, step) in steps.enumerated() {
            let pivot = step["pivot"]?.boolValue == true ? c.paint("  PIVOT", .yellow) : ""
            c.out("")
            c.out("\(i + 1). \(c.paint(step["id"]!.stringValue!, .bold))  \(step["type"]!.stringValue!)\(pivot)")
            for (key, value) in (step["with"]?.objectValue ?? [:]).sorted(by: { $0.key < $1.key }) {
                c.out("     \(key): \(value.stringValue ?? value.canonicalString)")
            }
            c.out("     retry: \(step["retry"]!.stringValue!)\(step["timeout"]?.stringValue.map { "; timeout \($0)" } ?? "")")
            c.out("     undo: \(step["compensation"]!.stringValue!)")
        }
        return ExitCode.ok
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
