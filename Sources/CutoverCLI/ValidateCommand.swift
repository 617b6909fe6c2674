import CutoverCore
import Foundation

/// `cutover validate FILE...`: every problem in every file, nothing written.
enum ValidateCommand {
    static func run(_ args: Arguments, _ ctx: Context) throws -> Int32 {
        guard !args.positionals.isEmpty else { throw UsageError("missing FILE; give one or more workflow or runbook files") }
        var issues: [ValidationIssue] = []
        for file in args.positionals {
            guard let data = FileManager.default.contents(atPath: file) else {
                issues.append(ValidationIssue(file: file, path: "", message: "cannot read the file"))
                continue
            }
            do {
                if isRunbook(file, data) {
                    _ = try Runbook.load(file: file, data: data, providers: ctx.registry.providers)
                    if let root = try? JSONValue.parse(data), root["drill"] != nil {
                        _ = try Runbook.load(file: file, data: data, mode: .drill, providers: ctx.registry.providers)
                    }
                } else {
                    _ = try Workflow.load(file: file, data: data, registry: ctx.registry)
                }
            } catch let failure as ValidationFailure {
                issues += failure.issues
            }
        }
        for issue in issues { ctx.console.err(issue.description) }
        if issues.isEmpty {
            ctx.console.out("\(args.positionals.count) file\(args.positionals.count == 1 ? "" : "s") valid")
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
