@_spi(RunProof) import CutoverCore
import Foundation

/// Starts runs and drives them: reads a run's events, folds them, decides, performs, appends.
public struct Engine: Sendable {
    public let store: any EventStore
    public let registry: StepRegistry
    public let clock: any RunClock
    public let ids: any IDSource
    public let configuration: EngineConfiguration
    /// Called after every event the engine appends or reads from others, for live progress.
    public let observer: (@Sendable (Event, RunState) -> Void)?
    /// The log's halt, as this engine follows it.
    public let halt: HaltWatch

    public init(
        store: any EventStore, registry: StepRegistry, clock: any RunClock, ids: any IDSource,
        configuration: EngineConfiguration, observer: (@Sendable (Event, RunState) -> Void)? = nil
    ) {
        self.store = store
        self.registry = registry
        self.clock = clock
        self.ids = ids
        self.configuration = configuration
        self.observer = observer
        halt = HaltWatch(store: store)
    }

    /// What a run is started from: a validated workflow bound to a validated runbook.
    public struct StartRequest: Sendable {
        public var workflow: Workflow
        public var runbook: Runbook
        public var mode: RunMode
        public var startedBy: String
        public var workflowDigest: String
        public var runbookDigest: String
        /// The schedule firing the run is started for, when a scheduler starts it.
        public var schedule: ScheduledFiring?
        /// The run and step a child run is started for.
        public var parent: RunParent?

        public init(
            workflow: Workflow, runbook: Runbook, mode: RunMode, startedBy: String, workflowDigest: String, runbookDigest: String,
            schedule: ScheduledFiring? = nil
        ) {
            self.schedule = schedule
            self.workflow = workflow
            self.runbook = runbook
            self.mode = mode
            self.startedBy = startedBy
            self.workflowDigest = workflowDigest
            self.runbookDigest = runbookDigest
        }
    }

    /// Appends `RunStarted`, taking the runbook's service for this run, and the run's lease
    /// for this process (`drive` carries it on; a starter that dies lets it expire).
    /// `runID`: the id a child run gets from its parent's step; a new one otherwise.
    /// - Throws: `StoreError.scopeLocked` naming the active run of the same service;
    ///   `HaltedError` while the log is halted; `EngineError.unknownStepType` if the workflow
    ///   names a type this build lacks.
    public func start(_ request: StartRequest, runID given: String? = nil) throws -> String {
        // A halt recorded after this look still stops the run, at its first step boundary.
        let haltNow = try halt.current()
        if haltNow.halted { throw HaltedError(haltNow) }
        let now = clock.now()
        let runID = given ?? ids.newRunID(at: now)
        var planned: [PlannedStep] = []
        for step in request.workflow.steps {
            guard let type = registry[step.type] else { throw EngineError.unknownStepType(step.type) }
            var p = step.planned(kind: type.kind(with: step.with))
            // The runbook's rules that guard it, looked at before each of its attempts.
            let rules = request.runbook.safety.filter { $0.guards(type: p.type, mutating: p.isCompensable) }.map(\.id)
            if !rules.isEmpty { p.safety = rules }
            planned.append(p)
        }
        let started = RunStarted(
            workflow: request.workflow.name, workflowDigest: request.workflowDigest,
            runbook: request.runbook.service, runbookDigest: request.runbookDigest, scope: request.runbook.service,
            mode: request.mode, startedBy: request.startedBy, steps: planned,
            workflowSnapshot: request.workflow.source, runbookSnapshot: request.runbook.source, schedule: request.schedule,
            groups: request.workflow.groups.isEmpty ? nil : request.workflow.groups.map(\.planned), parent: request.parent)
        // The starter holds the run from its first event: no worker takes a run between its
        // start and its starter's drive.
        try store.acquireLease(run: runID, owner: configuration.owner, now: now, ttl: configuration.leaseTTL, isGone: { _ in false })
        let events: [Event]
        do {
            events = try store.append(
                [EventDraft(at: now, actor: request.startedBy, body: .runStarted(started))], to: runID, expectedNext: 1,
                options: AppendOptions(now: now, lockScope: request.runbook.service))
        } catch let e as StoreError where e.isRetryable && (e.code == .unavailable || e.code == .io || e.code == .busy) {
            // The answer may have been lost after the commit: a run that did start is this
            // starter's (its lease kept), never a worker's to take while the starter says no.
            if let first = try? store.events(of: runID, after: 0).first, case .runStarted = first.body {
                return runID
            }
            if (try? store.span(of: runID)) == .some(nil) { try? store.releaseLease(run: runID, owner: configuration.owner) }
            throw EngineError.startUncertain(runID: runID, cause: e)
        } catch {
            try? store.releaseLease(run: runID, owner: configuration.owner)
            throw error
        }
        if let observer, let first = events.first, let state = try? RunState.fold(runID, events) { observer(first, state) }
        return runID
    }

    /// Drives `runID` until it finishes, needs a person, (when configured to detach) waits for
    /// one, or `configuration.stop` is requested. Returns the run's state at that point.
    /// - Throws: `StoreError.leaseHeld` when another live process drives the run;
    ///   storage errors; `CancellationError` on shutdown.
    public func drive(_ runID: String, known: RunState? = nil) async throws -> RunState {
        let driver = try RunDriver(engine: self, runID: runID, known: known)
        return try await driver.run()
    }

    /// A proof that this process holds the log's shipping (the lease named `log:ship`), for a
    /// shipment made outside a run (`cutover log ship`, a worker's every few seconds): one such
    /// shipper at a time per log, and its writes fenced as a step's changes are.
    /// - Throws: `StoreError.leaseHeld` while another live process ships.
    public func shippingProof() throws -> RunProof {
        let before = clock.uptime()
        let now = clock.now()
        try store.acquireLease(run: Self.shippingLease, owner: configuration.owner, now: now, ttl: configuration.leaseTTL, isGone: configuration.isOwnerGone)
        let clock = self.clock
        return RunProof(
            runID: Self.shippingLease, holder: configuration.owner, epoch: Int64((now.timeIntervalSince1970 * 1_000).rounded(.down)) + configuration.leaseTTL.milliseconds,
            validUntil: before + configuration.leaseTTL - configuration.leaseMargin, uptime: { clock.uptime() })
    }

    /// Lets the log's shipping go (`shippingProof`), for another process to take.
    public func releaseShipping() {
        try? store.releaseLease(run: Self.shippingLease, owner: configuration.owner)
    }

    /// The lease one shipper of a log holds.
    public static let shippingLease = "log:ship"

    /// The run's current state from its events.
    /// - Throws: `StoreError.unknownRun`, or `FoldError` for a log that does not fold.
    public func state(of runID: String) throws -> RunState {
        guard let state = try store.fold(runID) else { throw StoreError.unknownRun(runID) }
        return state
    }
}

/// How a driving process behaves.
public struct EngineConfiguration: Sendable {
    /// This process's lease owner name, `host:pid:nonce`.
    public var owner: String
    /// The actor recorded on the engine's own events.
    public var actor: String
    public var leaseTTL: Duration
    /// How much sooner than its lease a driver stops trusting it: proofs hold until the last
    /// write of the lease plus `leaseTTL` less this, on the monotonic clock, so clocks that
    /// disagree by less than this between machines cannot let two drivers act at once.
    public var leaseMargin: Duration
    /// Called before each proof is made (a test holds a driver there, as a freeze would).
    public var beforeProof: (@Sendable (_ run: String, _ step: String) async -> Void)?
    /// How often waits look for signals from other processes and for the log's halt (a
    /// quarter of a second by default: a halt stops a waiting step well within a second).
    public var signalPollInterval: Duration
    /// Return instead of waiting when the run waits for people (approval, paused).
    public var detachWhenWaiting: Bool
    /// Whether a lease owner's process is gone (so its lease can be taken at once).
    public var isOwnerGone: @Sendable (String) -> Bool
    /// Set to stop at the next step boundary (the step in flight finishes first).
    public var stop: StopRequest
    /// How long a driver waits, between two events, for a log that stopped answering (a
    /// PostgreSQL server restarting, a connection lost) before it stops; nothing else happens
    /// meanwhile, so the run waits at that step boundary.
    public var storeOutageLimit: Duration = .seconds(600)
    /// The secret managers this process reads `aws-sm:` and `gcp-sm:` references from.
    public var secretSources: [any SecretSource]
    /// Checks approval signatures; without it, no approval of a request that lists keys counts.
    public var approvalSignatures: (any ApprovalSignatureChecking)?
    /// Loads a child run's workflow and runbook (names or files) for a `workflow` step, checked
    /// as a run's are; without it, `workflow` steps fail.
    public var childDefinitions: (@Sendable (_ workflow: String, _ runbook: String, _ mode: RunMode) throws -> Engine.StartRequest)?
    /// For a child run's driver: why its parent run was aborted, or nil while it was not. The
    /// child records the abort as its own at its next step boundary or wait, and rolls back.
    public var parentAbort: (@Sendable () throws -> String?)?
    /// For a child run's driver: called each time it extends its own lease (an append, a
    /// renewal in a wait, a proof), to extend the lease of the parent run whose step drives it
    /// (and of that run's parent). Throws when this process no longer holds the parent: the
    /// child's driver stops.
    public var keepParentAlive: (@Sendable () throws -> Void)?
    /// Evaluates the runbook's safety rules before the steps they guard; without it, a step a
    /// rule guards stops for a person (the rule cannot be looked at here).
    public var safety: (any SafetyEvaluating)?
    /// Ships the log before each mutating step's first change (after its rules and its
    /// before-state, before the proof its call takes); nil when the log is not shipped.
    public var shipping: (any LogShipper)?

    public init(
        owner: String, actor: String, leaseTTL: Duration = .seconds(30), leaseMargin: Duration? = nil,
        signalPollInterval: Duration = .milliseconds(250), detachWhenWaiting: Bool = false,
        isOwnerGone: @escaping @Sendable (String) -> Bool = { _ in false }, stop: StopRequest = StopRequest(),
        secretSources: [any SecretSource] = [], approvalSignatures: (any ApprovalSignatureChecking)? = nil,
        beforeProof: (@Sendable (_ run: String, _ step: String) async -> Void)? = nil
    ) {
        self.secretSources = secretSources
        self.approvalSignatures = approvalSignatures
        // 5 s, or a sixth of a short lease.
        self.leaseMargin = leaseMargin ?? min(.seconds(5), leaseTTL / 6)
        self.beforeProof = beforeProof
        self.stop = stop
        self.owner = owner
        self.actor = actor
        self.leaseTTL = leaseTTL
        self.signalPollInterval = signalPollInterval
        self.detachWhenWaiting = detachWhenWaiting
        self.isOwnerGone = isOwnerGone
    }
}

public enum EngineError: Error, Sendable, CustomStringConvertible {
    case unknownStepType(String)
    /// The log stopped answering as the run was started: it may or may not have begun.
    case startUncertain(runID: String, cause: StoreError)

    public var description: String {
        switch self {
        case .unknownStepType(let t): "step type \"\(t)\" is not part of this cutover build"
        case .startUncertain(let run, let cause):
            "the log stopped answering as run \(run) was started, so it may have begun: `cutover status \(run)` says whether it did (it holds the service if so; its lease keeps workers off it for now) (\(cause.message))"
        }
    }
}
