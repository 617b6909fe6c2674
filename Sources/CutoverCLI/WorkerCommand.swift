import CutoverCore
import CutoverEngine
import CutoverPostgresStore
import CutoverSchedule
import CutoverStore
import Foundation

/// `cutover worker [--schedules] [--poll D] [--lease D] [--max-runs N] [--no-preflight]`:
/// drives every run that needs a driver from this host, in the foreground (systemd, a
/// container), until SIGTERM.
enum WorkerCommand {
    static func run(_ args: Arguments, _ ctx: Context) async throws -> Int32 {
        _ = try args.positionals()
        let poll = try SchedulerCommand.duration(args.value("--poll"), "--poll")
        let lease = try SchedulerCommand.duration(args.value("--lease"), "--lease")
        guard lease >= .seconds(3) else { throw UsageError("--lease: at least 3s (a lease is renewed every third of it)") }
        guard let maxRuns = Int(args.value("--max-runs")), (1...1_000).contains(maxRuns) else {
            throw UsageError("--max-runs: expected a number of runs from 1 to 1000, got \"\(args.value("--max-runs"))\"")
        }
        let store = try ctx.openStore(creating: true)
        let stop = StopRequest()
        let console = ctx.console
        let checks = !args.has("--no-preflight")
        let schedules = args.has("--schedules")
        var configuration = WorkerConfiguration(
            owner: ctx.owner, actor: ctx.actor(of: store), leaseTTL: lease, pollInterval: poll, maxRuns: maxRuns,
            isOwnerGone: { ProcessIdentity.isGone($0) }, secretSources: Composition.secretSources(environment: ctx.environment),
            leavesScheduledRuns: schedules)
        configuration.childDefinitions = ctx.childDefinitions
        configuration.safety = Composition.safety(log: store)
        let shipper = try BucketShipper.configured(store, ctx)
        configuration.shipping = shipper
        let wakeups = Wakeups(ctx.store, stop: stop)
        let environment = WorkerEnvironment(
            admit: { checks ? await admit($0, ctx) : nil },
            wake: { await wakeups.wait($0) },
            log: { console.out("\(Progress.clock(Date()))  \($0)") })
        let worker = Worker(
            store: store, registry: ctx.registry, clock: SystemClock(), ids: RandomIDs(), configuration: configuration, environment: environment, stop: stop)
        console.out("\(Progress.clock(Date()))  worker \(ctx.owner) drives runs of \(ctx.dbPath)\(wakeups.listens ? " (woken by its notifications)" : " (polling every \(DurationText.format(poll)))")")
        let finished: Bool = try await withThrowingTaskGroup(of: Bool.self) { group in
            group.addTask {
                try await worker.run()
                return true
            }
            if schedules {
                group.addTask {
                    // The scheduler's troubles (the log gone a while, its lease taken by another
                    // host's) never stop the worker or its runs: it is made again and waits.
                    while !stop.isRequested {
                        let scheduler = SchedulerCommand.make(store, stop: stop, poll: .seconds(10), grace: .seconds(600), ctx, prefix: "scheduler: ")
                        do {
                            try await scheduler.run(once: false)
                        } catch is CancellationError {
                            break
                        } catch {
                            console.out("\(Progress.clock(Date()))  scheduler: stopped: \(error); starting again in 10s")
                            for _ in 0..<40 where !stop.isRequested { try? await Task.sleep(for: .milliseconds(250)) }
                        }
                    }
                    return true
                }
            }
            if let shipper {
                // The log leaves the machine every few seconds too, not only before changes.
                group.addTask {
                    await LogCommands.shipEvery(.seconds(5), shipper, ctx.engine(store, detach: true, observer: nil), stop: stop) { console.out("\(Progress.clock(Date()))  \($0)") }
                    return true
                }
            }
            group.addTask { await Driving.stopOnSignals(stop, console, stopping: "stopping: the steps in flight finish and their leases are given back, then the worker exits (signal again to stop at once)") }
            defer { group.cancelAll() }
            // Done when the worker (and the scheduler and the shipper) have stopped, or at a second signal.
            var remaining = (schedules ? 2 : 1) + (shipper != nil ? 1 : 0)
            while let done = try await group.next() {
                if !done { return false }
                remaining -= 1
                if remaining == 0 { return true }
            }
            return true
        }
        if !finished {
            console.err("stopped at once; runs left mid-step are taken over once their leases expire")
            return ExitCode.interrupted
        }
        console.out("\(Progress.clock(Date()))  worker stopped")
        return ExitCode.ok
    }

    /// Whether this host can drive `state`: every secret its steps read, and every target they
    /// reach, from here (preflight's secrets and connections; what the world holds is the
    /// run's own to check). Nil when it can; else the failed checks.
    static func admit(_ state: RunState, _ ctx: Context) async -> String? {
        guard let plan = state.plan else { return nil }
        do {
            let name = "run \(state.runID)"
            let runbook = try Runbook.load(
                file: "\(name)'s runbook", data: Data(plan.runbookSnapshot.value.canonicalBytes), mode: plan.mode, providers: ctx.registry.providers)
            let workflow = try Workflow.load(
                file: "\(name)'s workflow", data: Data(plan.workflowSnapshot.value.canonicalBytes), registry: ctx.registry, runbook: runbook)
            let failed = await PreflightCommand.checks(workflow, runbook, mode: plan.mode, ctx, reachOnly: true).filter { !$0.passed }
            guard !failed.isEmpty else { return nil }
            return failed.map { "\($0.kind.rawValue) \($0.subject): \($0.detail)" }.joined(separator: "; ")
        } catch {
            return "its workflow and runbook do not load here: \(error)"
        }
    }
}

/// What wakes a worker: on PostgreSQL the log's notifications (a connection of its own that
/// listens), with polling as the fallback; on SQLite, the poll alone. A stop wakes it at once.
final class Wakeups: @unchecked Sendable {
    // @unchecked: the listener is used by one waiting thread at a time (the worker waits once).
    private let listener: PostgresNotifications?
    private let stop: StopRequest
    var listens: Bool { listener?.listening == true }

    init(_ location: StoreLocation, stop: StopRequest) {
        self.stop = stop
        if case .postgres(let uri) = location { listener = PostgresNotifications(uri: uri) } else { listener = nil }
        _ = listener?.wait(.milliseconds(1))
    }

    /// Returns after `timeout`, at a notification, or at a stop, whichever is first (a stop is
    /// looked for every 250 ms).
    func wait(_ timeout: Duration) async {
        let until = ContinuousClock.now + timeout
        let stop = stop
        guard let listener else {
            while !stop.isRequested, ContinuousClock.now < until { try? await Task.sleep(for: min(.milliseconds(250), until - ContinuousClock.now)) }
            return
        }
        // The listener blocks: one thread of its own for the whole wait.
        await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
            Thread.detachNewThread {
                while !stop.isRequested, ContinuousClock.now < until {
                    if listener.wait(min(.milliseconds(250), until - ContinuousClock.now)) { break }
                }
                c.resume()
            }
        }
    }
}
