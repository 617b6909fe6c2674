import CutoverCore
import CutoverEngine
import CutoverStore
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
    /// Loads the children of `workflow` steps (the CLI's definitions, by name or file).
    public var childDefinitions: (@Sendable (_ workflow: String, _ runbook: String, _ mode: RunMode) throws -> Engine.StartRequest)?
    /// Evaluates the runbooks' safety rules before the steps they guard.
    public var safety: (any SafetyEvaluating)?
    /// Ships the log before each mutating step's first change.
    public var shipping: (any LogShipper)?

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
    /// Every run not ended for good, as last folded, carried on with its new events only.
    private var known: [String: RunState] = [:]
    /// The log's last position read: only runs with events after it are folded again.
    private var lastSeq: Int64 = 0
    /// Runs whose events do not fold: said once, never driven.
    private var broken: Set<String> = []
    /// Why each run was last left alone, so that a reason is said once, not every poll; and
    /// when this host may ask again (a check that failed is not run again at every wake-up).
    private var leftAlone: [String: (why: String, until: Date)] = [:]
    /// How long a run this host could not drive is left before it checks again.
    private let recheck: TimeInterval = 30

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
        var engineConfiguration = EngineConfiguration(
            owner: configuration.owner, actor: configuration.actor, leaseTTL: configuration.leaseTTL, detachWhenWaiting: true,
            isOwnerGone: configuration.isOwnerGone, stop: stop, secretSources: configuration.secretSources,
            approvalSignatures: SSHApprovalSignatures())
        engineConfiguration.childDefinitions = configuration.childDefinitions
        engineConfiguration.safety = configuration.safety
        engineConfiguration.shipping = configuration.shipping
        return Engine(store: store, registry: registry, clock: clock, ids: ids, configuration: engineConfiguration)
    }

    /// The log's halt: while it holds, no run is taken up.
    private lazy var halt = HaltWatch(store: store)

    /// Looks for runs to drive and drives them until asked to stop; then waits for the steps
    /// in flight. A log that does not answer is waited for, said once.
    public func run() async throws {
        await withTaskGroup(of: Void.self) { group in
            var unavailable: String?
            while !stop.isRequested {
                let looked = clock.now()
                do {
                    for run in try candidates() {
                        guard driving.count < configuration.maxRuns, !stop.isRequested else { break }
                        guard let state = known[run] else { continue }
                        if let why = await environment.admit(state) {
                            leftAlone(run, "left to another worker: \(why)")
                            continue
                        }
                        // The check may have taken a while: asked to stop, or the run moved on
                        // or taken meanwhile, it is not taken.
                        guard !stop.isRequested, try refreshed(run)?.awaitsDriver == true, try !liveLease(run) else { continue }
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
                // Woken by every append (its own drivers' too): at most five looks a second.
                let since = clock.now().timeIntervalSince(looked)
                if since < 0.2, !stop.isRequested { try? await Task.sleep(for: .milliseconds(Int((0.2 - since) * 1_000))) }
            }
            await group.waitForAll()
        }
    }

    private func leftAlone(_ run: String, _ why: String) {
        let first = leftAlone[run]?.why != why
        leftAlone[run] = (why, clock.now().addingTimeInterval(recheck))
        if first { environment.log("run \(run): \(why)") }
    }

    /// The runs a driver would carry on now, with no live lease, not driven here and not left
    /// alone a moment ago, oldest first. The log's rows since the last look are read once: a
    /// known run's are applied as they come, a run not known yet is folded whole; a run that
    /// does not fold is said once and left.
    func candidates() throws -> [String] {
        if try halt.current().halted { return [] }
        if let head = try store.head(), head.seq > lastSeq {
            var unknown: [String] = []
            try store.forEachRow(from: lastSeq + 1, through: head.seq) { row in
                let run = String(decoding: row.runID, as: UTF8.self)
                guard LogStream.isRun(run), !broken.contains(run) else { return }
                guard var state = known[run] else {
                    if !unknown.contains(run) { unknown.append(run) }
                    return
                }
                // Already applied when the run was read again after a slow check.
                guard row.runSeq > state.lastRunSeq else { return }
                do {
                    try state.apply(try row.event(knownRun: run))
                    keep(state)
                } catch {
                    leaveBroken(run, error)
                }
            }
            for run in unknown {
                do {
                    if let state = try store.fold(run) { keep(state) }
                } catch let e as StoreError where e.code != .corrupt {
                    throw e
                } catch {
                    leaveBroken(run, error)
                }
            }
            lastSeq = head.seq
        }
        let now = clock.now()
        return try known.values.sorted { ($0.startedAtMillis ?? 0, $0.runID) < ($1.startedAtMillis ?? 0, $1.runID) }.compactMap { state in
            let run = state.runID
            guard !driving.contains(run), state.awaitsDriver else { return nil }
            if configuration.leavesScheduledRuns, state.plan?.schedule != nil { return nil }
            // A child run is carried on by its parent's `workflow` step, which watches the
            // parent's abort and keeps the parent's lease: a worker takes up the parent instead.
            if state.plan?.parent != nil { return nil }
            if let left = leftAlone[run], left.until > now { return nil }
            return try liveLease(run) ? nil : run
        }
    }

    /// Keeps a run's fold, unless it has ended for good.
    private func keep(_ state: RunState) {
        known[state.runID] = state.isFinal ? nil : state
        if state.isFinal { leftAlone[state.runID] = nil }
    }

    private func leaveBroken(_ run: String, _ error: Error) {
        broken.insert(run)
        known[run] = nil
        environment.log("run \(run): its events do not fold, so it is left alone (`cutover audit verify` tells more): \(error)")
    }

    /// The run folded afresh (after a slow check), kept.
    private func refreshed(_ run: String) throws -> RunState? {
        guard var state = known[run] else { return nil }
        for e in try store.events(of: run, after: state.lastRunSeq) { try state.apply(e) }
        known[run] = state
        return state
    }

    /// Whether a live lease (unexpired, its process not gone) holds the run.
    private func liveLease(_ run: String) throws -> Bool {
        guard let lease = try store.leaseHolder(run: run) else { return false }
        return lease.expires > clock.now() && !configuration.isOwnerGone(lease.owner)
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
        // What the drive appended is applied at the next look, with the rest of the log's rows.
        driving.remove(run)
    }
}
