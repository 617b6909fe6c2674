import CutoverBuildInfo
import CutoverCore
import Foundation

/// `cutover help`, `explain`, `completion` and `version`: what the reference says, generated
/// from the declarations (commands, step schemas, provider schemas, the loaders' field lists).
enum HelpCommand {
    /// What `cutover help TOPIC` knows besides the commands.
    static let topics = ["step-types", "workflow", "runbook", "references", "json", "reference", "man"]

    static func run(_ args: Arguments, _ ctx: Context) throws -> Int32 {
        let words = args.positionals
        guard let topic = words.first else {
            ctx.console.out(Commands.overview)
            return ExitCode.ok
        }
        switch topic {
        case "step-types": ctx.console.out(Reference.stepTypes(ctx.registry))
        case "workflow": ctx.console.out(Reference.workflow)
        case "runbook": ctx.console.out(Reference.runbook(ctx.registry))
        case "references": ctx.console.out(Reference.references)
        case "json": ctx.console.out(JSONShapes.text)
        case "reference": ctx.console.outRaw(Reference.markdown(ctx.registry))
        case "man": ctx.console.outRaw(Reference.man(ctx.registry))
        default:
            guard Commands.names.contains(topic) else {
                throw UsageError(
                    "no help on \"\(TerminalText.escaped(topic))\"\(Suggestion.hint(for: topic, in: Commands.names + topics)); topics: a command, \(topics.joined(separator: ", "))")
            }
            if words.count == 1, !Commands.subcommands(of: topic).isEmpty {
                ctx.console.out(group(topic))
                return ExitCode.ok
            }
            // An unknown subcommand is named as such (`help schedule bogus`).
            let (command, rest) = try Commands.find(words)
            guard rest.isEmpty else {
                throw UsageError("no help on \"\(TerminalText.escaped(words.joined(separator: " ")))\": `cutover help \(command.name)` shows that command's")
            }
            ctx.console.out(command.help)
        }
        return ExitCode.ok
    }

    /// `cutover schedule --help`: each subcommand's usage and summary.
    static func group(_ name: String) -> String {
        let subs = Commands.all.filter { $0.path.count > 1 && $0.path[0] == name }
        return "Usage:\n" + subs.map { "  \($0.usage.replacingOccurrences(of: "\n", with: "\n  "))\n      \($0.summary)" }.joined(separator: "\n")
            + "\n\n`cutover \(name) SUBCOMMAND --help` shows one in full."
    }

    static func explain(_ args: Arguments, _ ctx: Context) throws -> Int32 {
        let name = try args.positionals("TYPE")[0]
        let registry = ctx.registry
        guard let type = registry[name] else {
            throw UsageError("no step type \"\(name)\"\(Suggestion.hint(for: name, in: registry.names)); `cutover help step-types` lists them")
        }
        ctx.console.out(Reference.explain(type, registry))
        return ExitCode.ok
    }

    static func completion(_ args: Arguments, _ ctx: Context) throws -> Int32 {
        let shell = try args.positionals("bash|zsh")[0]
        switch shell {
        case "bash": ctx.console.outRaw(Completion.bash(stepTypes: ctx.registry.names))
        case "zsh": ctx.console.outRaw(Completion.zsh(stepTypes: ctx.registry.names))
        default: throw UsageError("no completion for \"\(shell)\"; expected bash or zsh")
        }
        return ExitCode.ok
    }

    static func version(_ args: Arguments, _ ctx: Context) throws -> Int32 {
        _ = try args.positionals()
        ctx.console.out("cutover \(BuildInfo.version) (\(BuildInfo.commit.isEmpty ? "commit unknown: built outside a git checkout" : BuildInfo.commit))")
        return ExitCode.ok
    }
}
