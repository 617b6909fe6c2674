import CutoverCore
import Foundation

/// `cutover validate FILE...`: every problem in every file, then every workflow given checked
/// with every runbook given, as `plan` and `start` load them (references resolved and their
/// values checked where they are used, rules across fields, a drill's settings too); nothing
/// written.
enum ValidateCommand {
    static func run(_ args: Arguments, _ ctx: Context) throws -> Int32 {
        guard !args.positionals.isEmpty else { throw UsageError("missing FILE; give one or more workflow or runbook files") }
        var issues: [ValidationIssue] = []
        var workflows: [String] = []
        var runbooks: [(file: String, drill: Bool)] = []
        for file in args.positionals {
            guard let data = FileManager.default.contents(atPath: file) else {
                issues.append(ValidationIssue(file: file, path: "", message: "cannot read the file"))
                continue
            }
            do {
                if isRunbook(file, data) {
                    _ = try Runbook.load(file: file, data: data, providers: ctx.registry.providers)
                    let drill = (try? JSONValue.parse(data))?["drill"] != nil
                    if drill { _ = try Runbook.load(file: file, data: data, mode: .drill, providers: ctx.registry.providers) }
                    runbooks.append((file, drill))
                } else {
                    _ = try Workflow.load(file: file, data: data, registry: ctx.registry)
                    workflows.append(file)
                }
            } catch let failure as ValidationFailure {
                issues += failure.issues
            }
        }
        // Each pair as a run would load it: only files that passed alone, so nothing is said twice.
        var pairs = 0
        for workflow in workflows {
            for runbook in runbooks {
                for mode in runbook.drill ? [RunMode.live, .drill] : [.live] {
                    do {
                        _ = try Definitions.load(workflow: workflow, runbook: runbook.file, mode: mode, registry: ctx.registry)
                    } catch let failure as ValidationFailure {
                        for issue in failure.issues where !issues.contains(issue) {
                            let shown = mode == .drill ? ValidationIssue(file: issue.file, path: issue.path, message: issue.message + " (in a drill)") : issue
                            if !issues.contains(shown) { issues.append(shown) }
                        }
                    }
                }
                pairs += 1
            }
        }
        for issue in issues { ctx.console.err(issue.description) }
        if issues.isEmpty {
            let together = pairs == 0 ? "" : "; \(pairs) workflow and runbook pair\(pairs == 1 ? "" : "s") checked together"
            ctx.console.out("\(args.positionals.count) file\(args.positionals.count == 1 ? "" : "s") valid\(together)")
            return ExitCode.ok
        }
        return ExitCode.usage
    }

    /// Runbooks live in `runbooks/` or have a `service`; everything else is read as a workflow.
    static func isRunbook(_ file: String, _ data: Data) -> Bool {
        if file.split(separator: "/").dropLast().last == "runbooks" { return true }
        if file.split(separator: "/").dropLast().last == "workflows" { return false }
        guard let root = try? JSONValue.parse(data) else { return false }
        return root["service"] != nil && root["steps"] == nil
    }
}
