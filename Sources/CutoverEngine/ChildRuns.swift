import CutoverCore
import Foundation

/// Child runs as the engine starts and drives them for a `workflow` step: each its own run,
/// with its own stream, lease and service lock, its start naming the parent run and step.
struct EngineChildRuns: ChildRuns {
    let engine: Engine
    let parent: RunParent
    let mode: RunMode
    let startedBy: String

    func state(of id: String) throws -> RunState? { try engine.store.fold(id) }

    var stopping: Bool { engine.configuration.stop.isRequested }

    func drive(_ id: String, workflow: String, runbook: String) async throws -> RunState {
        if try engine.store.fold(id) == nil {
            guard let load = engine.configuration.childDefinitions else {
                throw StepError(code: "no-child-runs", message: "step \(parent.step): this process was not given a way to load child workflows", retryable: false)
            }
            var request: Engine.StartRequest
            do {
                request = try load(workflow, runbook, mode)
            } catch {
                throw StepError(code: "bad-child", message: "step \(parent.step): the child workflow \(workflow) for \(runbook) does not load: \(error)", retryable: false)
            }
            // The child is the parent's work: same person, same mode, linked to the step.
            request.startedBy = startedBy
            request.mode = mode
            request.parent = parent
            do {
                _ = try engine.start(request, runID: id)
            } catch let halted as HaltedError {
                throw StepError(code: "halted", message: "step \(parent.step): \(halted)", retryable: true)
            } catch let e as StoreError where e.code == .scopeLocked {
                throw StepError(
                    code: "child-service-held",
                    message: "step \(parent.step): service \(e.scope ?? request.runbook.service) of the child run is held by run \(e.holder ?? "another run"); it starts once that run ends",
                    retryable: true)
            } catch let e as StoreError where e.code == .leaseHeld {
                throw drivenElsewhere(id, e)
            }
        }
        return try await driveHeld(id)
    }

    /// A child another process holds: waited for by the step's next attempt, as an
    /// interruption rather than a failed attempt.
    private func drivenElsewhere(_ id: String, _ e: StoreError) -> StepError {
        StepError(
            code: StepError.interrupted.code,
            message: "step \(parent.step): child run \(id) is driven by another process (\(e.holder ?? "unknown")); trying again once it lets go",
            retryable: true)
    }

    func rollBack(_ id: String, reason: String) async throws -> RunState {
        guard var state = try engine.store.fold(id) else {
            // Never started: nothing of it to undo.
            return RunState(runID: id)
        }
        if [.rolledBack, .failed, .aborted].contains(state.status) { return state }
        if state.rollback == nil, state.rollbackRequest == nil, state.abortRequest == nil {
            for _ in 0..<20 {
                // A child that ended, or stopped for a person, is rolled back; one still going
                // forward (its parent's step failed or was cancelled under it) is aborted, which
                // rolls back what it did, or stops for a person past its pivot.
                let goingBack = state.status == .succeeded || state.status == .needsAttention
                let body: EventBody = goingBack ? .rollbackRequested(Signal(reason: reason)) : .abortRequested(Signal(reason: reason))
                do {
                    _ = try engine.store.append(
                        [EventDraft(at: engine.clock.now(), actor: engine.configuration.actor, body: body)],
                        to: id, expectedNext: state.lastRunSeq + 1,
                        options: AppendOptions(now: engine.clock.now(), lockScope: state.status == .succeeded ? state.plan?.scope : nil))
                    break
                } catch let e as StoreError where e.code == .conflict {
                    state = try engine.state(of: id)
                }
            }
        }
        return try await driveHeld(id)
    }

    /// Drives the child; one another process still drives is waited for by the step's retry,
    /// as an interruption (not a failed attempt). The child's driver reads the parent's new
    /// events at each boundary and wait: an abort of the parent aborts the child, which rolls
    /// back what it changed; and it extends the parent's lease with its own, so a child that
    /// runs longer than the lease does not let another process take the parent.
    private func driveHeld(_ id: String) async throws -> RunState {
        var configuration = engine.configuration
        let watch = ParentWatch(store: engine.store, run: parent.run, step: parent.step)
        configuration.parentAbort = { try watch.abortReason() }
        let lease = ParentLease(store: engine.store, run: parent.run, owner: configuration.owner, ttl: configuration.leaseTTL, clock: engine.clock)
        let outer = configuration.keepParentAlive
        configuration.keepParentAlive = {
            try lease.extend()
            try outer?()
        }
        let child = Engine(
            store: engine.store, registry: engine.registry, clock: engine.clock, ids: engine.ids, configuration: configuration, observer: engine.observer)
        do {
            return try await child.drive(id)
        } catch let e as StoreError where e.code == .leaseHeld {
            throw drivenElsewhere(id, e)
        }
    }
}

/// The parent run as a child's driver reads it: folded, only its new events read each time.
/// The child is aborted while the parent's abort stands (one a person answered earlier by
/// resuming, after the pivot, does not reach a child started since), or while the parent's
/// parallel group stops with the step that drives the child in it (a sibling failed): the
/// parent's decision says `cancelStep` for it.
final class ParentWatch: @unchecked Sendable {
    // @unchecked: `state` is only touched under `lock`.
    private let lock = NSLock()
    private let store: any EventStore
    private let run: String
    private let step: String
    private var state: RunState
    /// The answer for the events folded so far.
    private var answer: String?

    init(store: any EventStore, run: String, step: String) {
        self.store = store
        self.run = run
        self.step = step
        state = RunState(runID: run)
    }

    func abortReason() throws -> String? {
        try lock.withLock {
            let events = try store.events(of: run, after: state.lastRunSeq)
            guard !events.isEmpty || state.lastRunSeq == 0 else { return answer }
            for e in events { try state.apply(e) }
            answer = decide()
            return answer
        }
    }

    private func decide() -> String? {
        if let abort = state.abortRequest {
            return "its parent run \(run) was aborted by \(abort.by)\(abort.reason.map { ": \($0)" } ?? "")"
        }
        guard state.activeGroup != nil else { return nil }
        let stopping = state.nextActions(nowMillis: 0).contains {
            if case .cancelStep(let id, _) = $0 { return id == step }
            return false
        }
        guard stopping else { return nil }
        let cause = state.orderedSteps.first { $0.phase == .failed && $0.lastError?.code != StepError.cancelledCode }
        return "its parent run \(run) stops step \(step)\(cause.map { ": step \($0.id) of its parallel group failed" } ?? "")"
    }
}

/// The parent run's lease, extended by its child's driver: at most every third of the TTL,
/// and only while this process holds it (`extendLease` refuses a lease another process took).
final class ParentLease: @unchecked Sendable {
    // @unchecked: `extendedAt` is only touched under `lock`.
    private let lock = NSLock()
    private let store: any EventStore
    private let run: String
    private let owner: String
    private let ttl: Duration
    private let clock: any RunClock
    private var extendedAt: Duration?

    init(store: any EventStore, run: String, owner: String, ttl: Duration, clock: any RunClock) {
        self.store = store
        self.run = run
        self.owner = owner
        self.ttl = ttl
        self.clock = clock
    }

    func extend() throws {
        try lock.withLock {
            let now = clock.uptime()
            if let at = extendedAt, (now - at) * 3 < ttl { return }
            try store.extendLease(run: run, owner: owner, now: clock.now(), ttl: ttl)
            extendedAt = now
        }
    }
}
