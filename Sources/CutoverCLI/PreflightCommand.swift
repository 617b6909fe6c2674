import CutoverCore
import CutoverEngine
import CutoverNet
import Foundation

/// `cutover preflight WORKFLOW --runbook RUNBOOK [--drill] [--json]`: the checks `start` runs
/// before it writes anything, on their own, as a table.
enum PreflightCommand {
    static func run(_ args: Arguments, _ ctx: Context) async throws -> Int32 {
        let workflow = try args.positionals("WORKFLOW")[0]
        let runbook = args.value("--runbook")
        let mode: RunMode = args.has("--drill") ? .drill : .live
        let (wf, rb, _, _) = try Definitions.load(workflow: workflow, runbook: runbook, mode: mode, registry: ctx.registry)
        let started = ContinuousClock.now
        let rows = await checks(wf, rb, mode: mode, ctx)
        let took = ContinuousClock.now - started
        if args.has("--json") {
            ctx.console.json(JSONValue.object([
                "workflow": .string(wf.name), "runbook": .string(rb.service), "mode": .string(mode.rawValue),
                "passed": .bool(rows.allSatisfy(\.passed)), "checks": .array(rows.map(\.json)),
            ]))
        } else {
            ctx.console.out("preflight of \(wf.name) with runbook \(rb.service) (\(mode.rawValue)), from \(ProcessIdentity.host)")
            for line in table(rows, ctx.console) { ctx.console.out(line) }
            ctx.console.out(verdict(rows, took: took))
        }
        return rows.allSatisfy(\.passed) ? ExitCode.ok : ExitCode.failure
    }

    /// Runs preflight for `start`: a line on stderr when every check passes; otherwise the
    /// checks that failed, and a `CommandFailure` (nothing was started or written).
    static func beforeStart(_ wf: Workflow, _ rb: Runbook, mode: RunMode, _ ctx: Context) async throws {
        let started = ContinuousClock.now
        let rows = await checks(wf, rb, mode: mode, ctx)
        let took = ContinuousClock.now - started
        guard rows.allSatisfy(\.passed) else {
            for line in table(rows.filter { !$0.passed }, ctx.console) { ctx.console.err(line) }
            throw CommandFailure(
                "preflight: \(rows.filter { !$0.passed }.count) of \(rows.count) checks failed (above); nothing was started or written. Fix them and start again, or start with --no-preflight to begin anyway (when the primary is down, the checks that name it fail: read them first). `cutover preflight` shows every check.")
        }
        ctx.console.err("preflight: \(verdict(rows, took: took))")
    }

    static func checks(_ wf: Workflow, _ rb: Runbook, mode: RunMode, _ ctx: Context, reachOnly: Bool = false) async -> [Preflight.Row] {
        let http = HTTPClient()
        let providers = Composition.providers(http: http)
        let preflight = Preflight(registry: ctx.registry, providers: providers, http: http, vault: SecretVault(environment: ctx.environment, sources: Composition.secretSources(environment: ctx.environment, http: http)))
        return await preflight.run(wf, rb, mode: mode, startedBy: ctx.actor, reachOnly: reachOnly)
    }

    static func verdict(_ rows: [Preflight.Row], took: Duration) -> String {
        let failed = rows.filter { !$0.passed }.count
        let skipped = rows.filter(\.skipped).count
        let ran = rows.count - skipped
        let time = DurationText.format(took)
        let left = skipped == 0 ? "" : "; \(skipped) readiness checks after the first change or approval are left to the run"
        if failed == 0 { return "\(ran) checks passed in \(time)\(left); nothing was changed or written" }
        return "\(failed) of \(ran) checks FAILED (\(time))\(left); nothing was changed or written"
    }

    /// One line per check: result, kind, what, time, the steps that need it, what was found.
    static func table(_ rows: [Preflight.Row], _ console: Console) -> [String] {
        let width = min(48, rows.map(\.subject.count).max() ?? 0)
        return rows.map { r in
            let result = r.skipped ? console.paint("skip", .yellow) : r.passed ? console.paint("ok  ", .green) : console.paint("FAIL", .red)
            let kind = r.kind.rawValue.padding(toLength: 6, withPad: " ", startingAt: 0)
            // What a provider answered, or a name from a file, stays on its own row, escaped.
            let plain = TerminalText.escaped(r.subject)
            let subject = plain.count >= width ? plain : plain.padding(toLength: width, withPad: " ", startingAt: 0)
            let time = r.millis.map(Self.time) ?? ""
            let steps = r.kind == .read || r.kind == .check ? "" : " [\(r.steps.joined(separator: ", "))]"
            return "  \(result) \(kind) \(subject) \(String(repeating: " ", count: max(0, 8 - time.count)))\(time)  \(TerminalText.escaped(r.detail))\(console.paint(TerminalText.escaped(steps), .dim))"
        }
    }

    static func time(_ ms: Double) -> String {
        if ms < 10 { return String(format: "%.1f ms", ms) }
        if ms < 1_000 { return "\(Int(ms.rounded())) ms" }
        return String(format: "%.1f s", ms / 1_000)
    }
}
