import CutoverAudit
import CutoverCore
import CutoverEngine
import CutoverStore
import Dispatch
import Foundation

/// Driving a run from a command (start, resume, abort, rollback), with live progress,
/// SIGINT/SIGTERM stopping it cleanly, and the summary at the end.
enum Driving {
    /// What the command asked for: to carry the run through, or to undo it.
    enum Goal { case finish, undo }

    static func drive(_ run: String, store: any EventStore, _ ctx: Context, detach: Bool, json: Bool, goal: Goal = .finish, progress: Progress? = nil, known: RunState? = nil) async throws -> Int32 {
        let progress = progress ?? Progress(ctx.console, json: json)
        let engine = ctx.engine(store, detach: detach, observer: { progress.observe($0, $1) })
        let result: RunState? = try await withThrowingTaskGroup(of: RunState?.self) { group in
            group.addTask { try await engine.drive(run, known: known) }
            group.addTask {
                await firstSignal()
                return nil
            }
            defer { group.cancelAll() }
            do {
                return try await group.next()!
            } catch is CancellationError {
                return nil
            }
        }
        guard let state = result else {
            ctx.console.err("interrupted: run \(run) stopped where it was; `cutover resume \(run)` carries on from there")
            return ExitCode.interrupted
        }
        signCheckpoint(run, store: store, ctx)
        Summary.print(state, ctx, json: json)
        // A drill says how far behind the shipped log is at its end: the log's own RPO.
        if state.plan?.mode == .drill, state.status.isTerminal, !json {
            for lag in await LogCommands.lag(store, ctx) { ctx.console.out(lag.text) }
        }
        return exitCode(state, detached: detach, goal: goal)
    }

    /// At every stop of a run, signs the chain up to the run's last event when a signing key
    /// exists (`cutover keys init`); without one the log is still hash-chained.
    static func signCheckpoint(_ run: String, store: any EventStore, _ ctx: Context) {
        guard let key = ctx.signingKey() else { return }
        do {
            if let last = try store.span(of: run)?.last { _ = try Auditor.checkpoint(store, key: key, seq: last) }
        } catch {
            ctx.console.err("warning: could not sign a checkpoint for \(run): \(error)")
        }
    }

    /// Drives `run` here unless a live process already does; then that process carries on.
    static func driveUnlessDriven(_ run: String, store: any EventStore, _ ctx: Context, detach: Bool, json: Bool, goal: Goal = .finish) async throws -> Int32 {
        if let holder = try store.leaseHolder(run: run), holder.expires > Date(), !ProcessIdentity.isGone(holder.owner) {
            ctx.console.out("run \(run) is being driven by \(holder.owner); that process will act on this")
            return ExitCode.ok
        }
        do {
            return try await drive(run, store: store, ctx, detach: detach, json: json, goal: goal)
        } catch let e as StoreError where e.code == .leaseHeld {
            // Another process took the run between the look above and our own attempt: the
            // same answer as if it had been there first.
            ctx.console.out("run \(run) is being driven by \(e.holder ?? "another process"); that process will act on this")
            return ExitCode.ok
        }
    }

    static func exitCode(_ state: RunState, detached: Bool, goal: Goal) -> Int32 {
        if goal == .undo, state.status == .rolledBack || state.status == .aborted { return ExitCode.ok }
        return switch state.status {
        case .succeeded: ExitCode.ok
        case .rolledBack: state.outcome?.planned == true ? ExitCode.ok : ExitCode.failure
        case .waitingApproval, .paused: detached ? ExitCode.waiting : ExitCode.failure
        case .failed, .needsAttention, .aborted, .running, .compensating: ExitCode.failure
        }
    }

    /// What a long-running command's signal task does: at the first SIGINT or SIGTERM asks
    /// `stop` and says `stopping`; at a second one returns false (stop at once). True when
    /// cancelled first (the work ended by itself).
    static func stopOnSignals(_ stop: StopRequest, _ console: Console, stopping: String) async -> Bool {
        await firstSignal()
        if Task.isCancelled { return true }
        stop.request()
        console.err(stopping)
        await firstSignal()
        return false
    }

    /// Waits for SIGINT or SIGTERM; returns early if the task is cancelled.
    static func firstSignal() async {
        let (stream, continuation) = AsyncStream<Int32>.makeStream()
        let sources = [SIGINT, SIGTERM].map { number -> DispatchSourceSignal in
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler { continuation.yield(number) }
            source.resume()
            return source
        }
        defer {
            for s in sources { s.cancel() }
            signal(SIGINT, SIG_DFL)
            signal(SIGTERM, SIG_DFL)
        }
        for await _ in stream { return }
    }
}
