import CutoverCore
import CutoverStore
import Foundation

/// `cutover watch RUN [--json]`: follows a run from another terminal, reading the log only.
/// It shows the run so far, then each event as it is appended, and ends with the summary when
/// the run ends. It says when nobody drives the run (a driver detached at an approval, or one
/// that died), and keeps watching: someone may resume it.
enum WatchCommand {
    static let poll: Duration = .milliseconds(250)

    static func run(_ args: Arguments, _ ctx: Context) async throws -> Int32 {
        let runID = try args.positionals("RUN")[0]
        let store = try ctx.openStore(creating: false)
        let json = args.has("--json")
        let progress = Progress(ctx.console, json: json)
        guard try !store.events(of: runID, after: 0).isEmpty else { throw StoreError.unknownRun(runID) }
        let outcome: RunState? = try await withThrowingTaskGroup(of: RunState?.self) { group in
            group.addTask { try await follow(runID, store: store, progress: progress, json: json, ctx) }
            group.addTask {
                await Driving.firstSignal()
                return nil
            }
            defer { group.cancelAll() }
            do { return try await group.next()! } catch is CancellationError { return nil }
        }
        guard let state = outcome else {
            ctx.console.err("stopped watching \(runID); the run itself goes on")
            return ExitCode.ok
        }
        Summary.print(state, ctx, json: json)
        return Driving.exitCode(state, detached: false, goal: .finish)
    }

    /// Shows each event as it comes until the run ends; returns its last state.
    private static func follow(_ runID: String, store: any EventStore, progress: Progress, json: Bool, _ ctx: Context) async throws -> RunState {
        var state = RunState(runID: runID)
        var lastNote = ""
        while true {
            for e in try store.events(of: runID, after: state.lastRunSeq) {
                try state.apply(e)
                progress.observe(e, state)
            }
            if state.status.isTerminal, state.nextAction(nowMillis: Int64(Date().timeIntervalSince1970 * 1_000)) == .finished { return state }
            if !json {
                let view = try RunView(state, store: store)
                let note = view.driver == nil ? view.next.map { "nobody drives this run now (\(view.verdict.text)); next: \($0)" } ?? "" : ""
                if note != lastNote, !note.isEmpty { ctx.console.out(ctx.console.paint("  " + note, .dim)) }
                lastNote = note
            }
            try await Task.sleep(for: poll)
        }
    }
}
