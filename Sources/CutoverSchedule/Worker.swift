import CutoverCore
import CutoverEngine
import Foundation

/// How a worker behaves.
public struct WorkerConfiguration: Sendable {
    /// The lease owner of every run this worker drives (`host:pid:nonce`).
    public var owner: String
    /// The actor recorded on what its drivers append.
    public var actor: String
    public var leaseTTL: Duration
    /// How often the log is looked at when nothing wakes the worker sooner.
    public var pollInterval: Duration
    /// Runs driven at once, at most.
    public var maxRuns: Int
    /// Whether a lease owner's process is gone (on this host), so its lease is taken at once.
    public var isOwnerGone: @Sendable (String) -> Bool
    /// The secret managers the runs read `aws-sm:` and `gcp-sm:` references from.
    public var secretSources: [any SecretSource]
    /// Scheduled runs are left to the scheduler running in the same process.
    public var leavesScheduledRuns: Bool

    public init(
        owner: String, actor: String, leaseTTL: Duration = .seconds(30), pollInterval: Duration = .seconds(2), maxRuns: Int = 16,
        isOwnerGone: @escaping @Sendable (String) -> Bool = { _ in false }, secretSources: [any SecretSource] = [], leavesScheduledRuns: Bool = false
    ) {
        self.owner = owner
        self.actor = actor
        self.leaseTTL = leaseTTL
        self.pollInterval = pollInterval
        self.maxRuns = maxRuns
        self.isOwnerGone = isOwnerGone
        self.secretSources = secretSources
        self.leavesScheduledRuns = leavesScheduledRuns
    }
}

/// What a worker needs from its host: whether a run may be driven from here, something that
/// wakes it when the log changes, and somewhere to say what it does.
public struct WorkerEnvironment: Sendable {
    /// Nil when this host may drive the run; else why not (a secret it cannot read, a target
    /// it cannot reach), and the run is left to another worker.
    public var admit: @Sendable (RunState) async -> String?
    /// Returns when the log may have changed (a PostgreSQL notification), or after `timeout`.
    public var wake: @Sendable (Duration) async -> Void
    public var log: @Sendable (String) -> Void

    public init(
        admit: @escaping @Sendable (RunState) async -> String?, wake: @escaping @Sendable (Duration) async -> Void,
        log: @escaping @Sendable (String) -> Void
    ) {
        self.admit = admit
        self.wake = wake
        self.log = log
    }
}

/// Drives every run that needs a driver: one started and left (`--detach`, a starter that
/// died), approved since, asked to resume or abort, or left by a driver whose lease expired;
/// never one that waits for a person, has ended, or is held by a live lease. Several workers
/// share a log: the run's lease, taken in one transaction, lets exactly one drive it, and a
/// run whose worker died or was cut off is taken over once its lease expires (the step in
/// flight settled by `observe`). Asked to stop, the steps in flight finish and every lease is
/// given back.
public actor Worker {
    let store: any EventStore
    let registry: StepRegistry
    let clock: any RunClock
    let ids: any IDSource
    let configuration: WorkerConfiguration
    let environment: WorkerEnvironment
    let stop: StopRequest
    /// Runs being driven by this worker now.
    private(set) var driving: Set<String> = []
    /// Runs that have ended: never looked at again.
    private var ended: Set<String> = []
    /// The other runs as last folded, carried on with their new events only.
    private var known: [String: RunState] = [:]
    /// Why each run was last left alone, so that a reason is said once, not every poll.
    private var leftAlone: [String: String] = [:]

    public init(
        store: any EventStore, registry: StepRegistry, clock: any RunClock, ids: any IDSource, configuration: WorkerConfiguration,
        environment: WorkerEnvironment, stop: StopRequest
    ) {
        self.store = store
        self.registry = registry
        self.clock = clock
        self.ids = ids
        self.configuration = configuration
        self.environment = environment
        self.stop = stop
    }

    var engine: Engine {
        var c = EngineConfiguration(
            owner: configuration.owner, actor: configuration.actor, leaseTTL: configuration.leaseTTL, detachWhenWaiting: true,
            isOwnerGone: configuration.isOwnerGone, stop: stop)
        c.secretSources = configuration.secretSources
        return Engine(store: store, registry: registry, clock: clock, ids: ids, configuration: c)
    }

    /// Looks for runs to drive and drives them until asked to stop; then waits for the steps
    /// in flight. A log that does not answer is waited for, said once.
    public func run() async throws {
        await withTaskGroup(of: Void.self) { group in
            var unavailable: String?
            while !stop.isRequested {
                do {
                    for (run, state) in try candidates() {
                        guard driving.count < configuration.maxRuns, !stop.isRequested else { break }
                        if let why = await environment.admit(state) {
                            leftAlone(run, "left to another worker: \(why)")
                            continue
                        }
                        driving.insert(run)
                        leftAlone[run] = nil
                        group.addTask { await self.drive(run) }
                    }
                    if unavailable != nil { environment.log("the log answers again") }
                    unavailable = nil
                } catch {
                    let text = "\(error)"
                    if unavailable != text { environment.log("cannot read the log, waiting for it: \(text)") }
                    unavailable = text
                }
                await environment.wake(configuration.pollInterval)
            }
            await group.waitForAll()
        }
    }

    private func leftAlone(_ run: String, _ why: String) {
        guard leftAlone[run] != why else { return }
        leftAlone[run] = why
        environment.log("run \(run): \(why)")
    }

    /// The runs a driver would carry on now, with no live lease and not driven here, oldest
    /// first.
    func candidates() throws -> [(String, RunState)] {
        let now = clock.now()
        var found: [(String, RunState)] = []
        for run in try store.runIDs() where !ended.contains(run) && !driving.contains(run) {
            var state: RunState
            if var s = known[run] {
                for e in try store.events(of: run, after: s.lastRunSeq) { try s.apply(e) }
                state = s
            } else {
                guard let s = try store.fold(run) else { continue }
                state = s
            }
            if state.status.isTerminal {
                ended.insert(run)
                known[run] = nil
                leftAlone[run] = nil
                continue
            }
            known[run] = state
            guard state.awaitsDriver else { continue }
            if configuration.leavesScheduledRuns, state.plan?.schedule != nil { continue }
            if let lease = try store.leaseHolder(run: run), lease.expires > now, !configuration.isOwnerGone(lease.owner) { continue }
            found.append((run, state))
        }
        return found
    }

    /// Drives one run until it ends, waits for a person, or the worker is asked to stop.
    func drive(_ run: String) async {
        environment.log("run \(run): driving it")
        do {
            let state = try await engine.drive(run)
            environment.log("run \(run): \(state.status.isTerminal ? "ended" : "left") \(state.status.rawValue)")
        } catch let e as StoreError where e.code == .leaseHeld {
            environment.log("run \(run): another worker took it first (\(e.holder ?? "another process"))")
        } catch {
            environment.log("run \(run): stopped driving it: \(error)")
        }
        driving.remove(run)
    }
}
