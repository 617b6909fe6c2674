import CutoverCore
import Foundation

/// Drives one run from one process: holds its lease, folds its events, and carries out
/// whatever `RunState.nextAction` decides, one durable event before each side effect.
actor RunDriver {
    let engine: Engine
    let runID: String
    var state: RunState
    let vault: SecretVault
    /// A failure of the log itself met inside a step: the driver must stop, not record it.
    var fatal: Error?
    /// Steps whose `StepStarted` went into the log with the previous success (group commit),
    /// by attempt: the next decision finds them in flight and runs them instead of settling them.
    var chained: [String: Int] = [:]
    /// Members of a parallel group told to stop at their next safe point.
    var cancelling: Set<String> = []
    /// The loop of the parallel group being driven, woken by every event folded (a resume a
    /// member recorded may let more members start).
    var groupMailbox: GroupMailbox?
    /// When the lease was last extended (every append extends it too).
    private var leaseRenewedAt = Date.distantPast
    /// Since when (uptime) the log has not answered a wait's reads, while it does not.
    private var outageSince: Duration?
    /// When (uptime) the halt was last read at a step boundary.
    private var haltReadAt: Duration?
    /// The position of the halt's stream when it was last read: a wait for new events ends
    /// when it moves (a halt, or its lifting, since the driver last looked).
    private var haltSeqRead: Int64?
    /// Until when, on the monotonic clock, this process may trust its lease: the uptime just
    /// before the last write that extended it, plus the TTL, less the margin.
    private(set) var leaseTrustedUntil: Duration = .zero

    /// Records that a write which extends the lease succeeded; `startedAt` is the uptime
    /// read before the write was sent (what the store's expiry counts from, at the latest).
    private func leaseExtended(startedAt: Duration) {
        leaseTrustedUntil = startedAt + config.leaseTTL - config.leaseMargin
    }

    /// A proof's fenced write extended the lease.
    func leaseWritten(at now: Date, startedAt: Duration) {
        leaseRenewedAt = now
        leaseExtended(startedAt: startedAt)
    }

    var store: any EventStore { engine.store }
    var config: EngineConfiguration { engine.configuration }

    /// `known`: the run's state as its caller just folded it (the starter, from the events it
    /// appended); read from the log otherwise. Events others appended since are met by the
    /// first append, which conflicts and folds them.
    init(engine: Engine, runID: String, known: RunState? = nil) throws {
        self.engine = engine
        self.runID = runID
        vault = SecretVault(sources: engine.configuration.secretSources)
        if let known, known.runID == runID { state = known } else { state = try engine.state(of: runID) }
    }

    func run() async throws -> RunState {
        if state.status.isTerminal, state.nextAction(nowMillis: nowMillis) == .finished { return state }
        try takeLease()
        defer { try? store.releaseLease(run: runID, owner: config.owner) }
        try record([.driverAttached(DriverAttached(owner: config.owner, resumed: state.lastRunSeq > 1))])
        while true {
            try Task.checkCancellation()
            try inheritAbort()
            if try obeyHalt(force: false) {
                // Held by the log's halt: nothing is decided until it is lifted.
                if config.detachWhenWaiting || config.stop.isRequested { return state }
                try await waitForNewEvents()
                continue
            }
            let action = state.nextAction(nowMillis: nowMillis)
            if config.stop.isRequested, stopsHere(action) { return state }
            if isGoingForward, state.activeGroup != nil, action.isStepWork {
                // A parallel group: its members run side by side until the group is over.
                if try await runGroups() == .detached { return state }
                continue
            }
            switch action {
            case .finished:
                return state
            case .startStep(let id, let attempt):
                // The rules first: their checks go in with the start, or stop it.
                let seen = state.lastRunSeq
                let (checks, clear) = await safetyChecks(id, attempt: attempt)
                if let fatal { throw fatal }
                if state.lastRunSeq != seen { continue }
                guard clear else {
                    try record(checks)
                    continue
                }
                guard try recordUnlessInterrupted(checks + [.stepStarted(StepAttempt(step: id, attempt: attempt))]) else { continue }
                if try await execute(id, attempt: attempt) == .detached { return state }
            case .settleStep(let id, let attempt):
                if chained[id] == attempt {
                    chained[id] = nil
                    if try await execute(id, attempt: attempt) == .detached { return state }
                } else if waitsWithoutChange(id) {
                    // A check that was waiting (for approvals, on a durable timer) when its
                    // driver detached or stopped changed nothing: the same attempt waits on,
                    // nothing failed. Timers wait only what is left; approvals given meanwhile count.
                    if try await execute(id, attempt: attempt) == .detached { return state }
                } else {
                    try await settle(id, attempt: attempt)
                }
            case .cancelStep:
                // Only inside a parallel group, which `runGroups` drives.
                continue
            case .waitUntil(let millis):
                if try await wait(until: Date(timeIntervalSince1970: Double(millis) / 1_000), forStep: nil) == .detached { return state }
            case .succeed:
                try record([.runSucceeded(RunOutcome())], unlock: true)
            case .beginRollback(let rollback):
                try record([.rollbackStarted(rollback)], relock: state.status == .succeeded)
            case .startCompensation(let id, let attempt):
                guard try recordUnlessInterrupted([.compensationStarted(StepAttempt(step: id, attempt: attempt))]) else { continue }
                if try await compensate(id, attempt: attempt) == .detached { return state }
            case .settleCompensation(let id, let attempt):
                try record([.compensationFailed(StepFailed(step: id, attempt: attempt, error: .interrupted, retryAtMillis: nowMillis))])
            case .finishRollback:
                let r = state.rollback
                let outcome = RunOutcome(reason: r?.reason, planned: r?.planned)
                try record([r?.aborted == true ? .runAborted(outcome) : .runRolledBack(outcome)], unlock: true)
            case .needsAttention(let attention):
                try record([.runNeedsAttention(attention)])
            case .fail(let reason):
                try record([.runFailed(RunOutcome(reason: reason))], unlock: true)
            case .pause:
                try record([.runPaused(Signal(reason: state.pauseRequest.map { "paused by \($0)" }))])
            case .resume:
                try record([.runResumed(Signal(reason: state.resumeRequest.map { "resumed by \($0)" }))])
            case .waitForSignal:
                if state.status == .needsAttention || config.detachWhenWaiting { return state }
                try await waitForNewEvents()
            }
        }
    }

    /// Whether the step in flight is a check that was waiting: an approval it asked for or a
    /// durable timer it set. Such an attempt is carried on, not settled as interrupted.
    func waitsWithoutChange(_ id: String) -> Bool {
        guard let record = state.steps[id], record.approvalRequest != nil || !record.timers.isEmpty else { return false }
        return state.planned(id)?.kind == .check
    }

    /// Asked to stop, the driver still records what needs no side effect (a run's end, a
    /// rollback's start) and finishes a step whose start it already recorded with the previous
    /// success; anything that would begin new work or wait stops here.
    private func stopsHere(_ action: NextAction) -> Bool {
        switch action {
        case .startStep, .startCompensation, .settleCompensation, .waitUntil, .waitForSignal: return true
        case .settleStep(let id, let attempt), .cancelStep(let id, let attempt): return chained[id] != attempt
        case .finished, .succeed, .beginRollback, .finishRollback, .needsAttention, .fail, .pause, .resume: return false
        }
    }

    // MARK: - The log

    var nowMillis: Int64 { Int64((engine.clock.now().timeIntervalSince1970 * 1_000).rounded(.down)) }

    private func takeLease() throws {
        let isGone = config.isOwnerGone
        let before = engine.clock.uptime()
        try store.acquireLease(run: runID, owner: config.owner, now: engine.clock.now(), ttl: config.leaseTTL, isGone: { isGone($0) })
        leaseExtended(startedAt: before)
    }

    /// Renews the lease once a third of its time has passed; a failure here means another
    /// process took the run over.
    func renewLease() throws {
        let now = engine.clock.now()
        guard now.timeIntervalSince(leaseRenewedAt) * 3 >= Double(config.leaseTTL.milliseconds) / 1_000 else { return }
        do {
            // Extended only while this process holds it: a lease another driver took over,
            // or took and let go when it finished the run, is never taken back here.
            let before = engine.clock.uptime()
            try store.extendLease(run: runID, owner: config.owner, now: now, ttl: config.leaseTTL)
            leaseExtended(startedAt: before)
            leaseRenewedAt = now
            outageSince = nil
            try config.keepParentAlive?()
        } catch where outlasts(error) {
            // The log does not answer for now: the lease is not renewed (a proof will not hold
            // past it), the wait goes on.
        } catch {
            fatal = fatal ?? error
            throw error
        }
    }

    /// Whether `error` says the log does not answer for now (a server restarting, a
    /// connection lost), and the outage is still within `storeOutageLimit`: a wait rides it
    /// out, and the next append waits for the log at its step boundary.
    private func outlasts(_ error: Error) -> Bool {
        guard let e = error as? StoreError, e.isRetryable, e.code == .unavailable || e.code == .busy else { return false }
        let now = engine.clock.uptime()
        let since = outageSince ?? now
        outageSince = since
        return now - since < config.storeOutageLimit
    }

    /// A child run's driver extends its parent's lease with its own (`keepParentAlive`); when
    /// the parent is no longer this process's, the child's driver stops.
    func keepParentAlive() throws {
        guard let keep = config.keepParentAlive else { return }
        do {
            try keep()
        } catch {
            fatal = fatal ?? error
            throw error
        }
    }

    /// Appends events as this run's driver; when signals from others got there first, folds
    /// them and appends after them.
    func record(_ bodies: [EventBody], unlock: Bool = false, relock: Bool = false) throws {
        while true {
            if try append(bodies, unlock: unlock, relock: relock) { return }
        }
    }

    /// Appends unless events from others arrived first; then folds them and returns false, so
    /// the caller decides again (an abort may have come in before a step started).
    func recordUnlessInterrupted(_ bodies: [EventBody]) throws -> Bool {
        try append(bodies, unlock: false, relock: false)
    }

    func append(_ bodies: [EventBody], unlock: Bool, relock: Bool) throws -> Bool {
        let now = engine.clock.now()
        let scope = state.plan?.scope
        let drafts = bodies.map { EventDraft(at: now, actor: config.actor, body: $0) }
        // Set once an append failed with the log unreachable: its commit may have landed
        // without the answer reaching us, so a conflict after it may be our own events.
        var uncertain = false
        let outageStarted = engine.clock.uptime()
        var pause = 0.2
        while true {
            let before = engine.clock.uptime()
            let expected = state.lastRunSeq + 1
            do {
                let events = try store.append(
                    drafts, to: runID, expectedNext: expected,
                    options: AppendOptions(
                        leaseOwner: config.owner, now: now, lockScope: relock ? scope : nil, unlockScope: unlock ? scope : nil,
                        leaseTTL: config.leaseTTL))
                leaseRenewedAt = now
                leaseExtended(startedAt: before)
                try fold(events)
                try keepParentAlive()
                return true
            } catch let e as StoreError where e.code == .conflict {
                try reload()
                if uncertain, try landed(drafts, from: expected) { return true }
                return false
            } catch let e as StoreError where e.isRetryable && (e.code == .unavailable || e.code == .busy)
                && engine.clock.uptime() - outageStarted < config.storeOutageLimit && !Task.isCancelled
            {
                // The log does not answer: wait at this boundary, nothing else happens, then
                // append the same events again.
                uncertain = uncertain || e.code == .unavailable
                Thread.sleep(forTimeInterval: pause)
                pause = min(pause * 2, 5)
            } catch {
                let e = naming(inFlightIn: error)
                fatal = fatal ?? e
                throw e
            }
        }
    }

    /// Whether the run's events from position `first` are `drafts`, exactly: an append whose
    /// commit landed though its answer was lost.
    private func landed(_ drafts: [EventDraft], from first: Int64) throws -> Bool {
        let found = try store.events(of: runID, after: first - 1).prefix(drafts.count)
        return found.count == drafts.count
            && zip(found, drafts).allSatisfy { $0.body == $1.body && $0.actor == (store.sessionActor ?? $1.actor) && $0.atMillis == $1.atMillis }
    }

    /// A log that vanished under the driver: the message says which step was in flight, the
    /// one change that may have reached the world without the log saying so.
    func naming(inFlightIn error: Error) -> Error {
        guard let e = error as? StoreError, e.code == .unavailable else { return error }
        let steps = state.orderedSteps.filter { $0.phase == .running }.map { "step \($0.id) (attempt \($0.attempts))" }
        let running = steps.isEmpty
            ? state.orderedSteps.first { $0.compensation == .running }.map { "the compensation of step \($0.id)" }
            : steps.joined(separator: ", ")
        let note = running.map { " The step\(steps.count > 1 ? "s" : "") in flight \(steps.count > 1 ? "were" : "was") \($0): it may have changed the world after the log's last record; check it by hand." }
            ?? " No step was in flight."
        return StoreError(.unavailable, e.message + note, cause: e, retryable: false, run: runID)
    }

    /// Folds events others appended since we last looked; true if there were any.
    @discardableResult
    func reload() throws -> Bool {
        let events = try store.events(of: runID, after: state.lastRunSeq)
        try fold(events)
        return !events.isEmpty
    }

    private func fold(_ events: [Event]) throws {
        for e in events {
            try state.apply(e)
            engine.observer?(e, state)
        }
        if !events.isEmpty { groupMailbox?.poke() }
    }

    // MARK: - Waiting

    enum WaitResult { case done, detached }

    /// Sleeps until `deadline` in slices. Inside a step, a pause waits for the resume (the
    /// time keeps running) and an abort throws; between steps (a retry backoff), any signal
    /// ends the wait early so the run decides again.
    func wait(until deadline: Date, forStep step: String?) async throws -> WaitResult {
        while engine.clock.now() < deadline {
            if let step {
                if try await handleSignalsDuringStep(step) == .detached { return .detached }
            } else if try config.stop.isRequested || reloadOrStop() {
                // Between steps a stop need not wait out a retry's backoff: the time is in the log.
                return .done
            }
            try renewLease()
            let slice = min(deadline, engine.clock.now().addingTimeInterval(Double(config.signalPollInterval.milliseconds) / 1_000))
            try await engine.clock.sleep(until: slice)
        }
        return .done
    }

    @discardableResult
    private func reloadOrStop() throws -> Bool {
        do {
            let found = try reload()
            outageSince = nil
            return found
        } catch where outlasts(error) {
            return false
        } catch {
            fatal = fatal ?? error
            throw error
        }
    }

    /// Reads new events and acts on pause and abort while a step waits. Returns `.detached`
    /// when the driver should leave the run to a person.
    /// A member of a parallel group that is told to stop throws `RunInterruption.cancelled`.
    func handleSignalsDuringStep(_ step: String) async throws -> WaitResult {
        try reloadOrStop()
        try inheritAbort()
        if cancelling.contains(step) { throw RunInterruption.cancelled }
        if state.abortRequest != nil, isGoingForward { throw RunInterruption.aborted }
        // The log's halt pauses the run here, in the step's wait, and holds it.
        _ = try obeyHalt(force: true)
        // Members of a parallel group wait out a pause another member recorded, too.
        if state.pauseRequest != nil, state.status != .paused {
            try record([.runPaused(Signal(reason: state.pauseRequest.map { "paused by \($0)" }))])
        }
        while state.status == .paused {
            if cancelling.contains(step) { throw RunInterruption.cancelled }
            if try obeyHalt(force: true) {
                if config.detachWhenWaiting { return .detached }
                try await waitForNewEvents(for: step)
                continue
            }
            if state.status != .paused { break }  // the halt that paused it was lifted
            // An abort resumes a run paused going forward (to turn it back); a rollback it
            // paused is already going back, and only a person's resume carries it on.
            if state.resumeRequest != nil || state.abortResumes {
                try record([.runResumed(Signal(reason: state.resumeRequest.map { "resumed by \($0)" }))])
                break
            }
            if config.detachWhenWaiting { return .detached }
            try await waitForNewEvents(for: step)
        }
        if state.abortRequest != nil, isGoingForward { throw RunInterruption.aborted }
        return .done
    }

    /// How often step boundaries read the log's halt; waits and proofs read it every time.
    static let haltReadInterval: Duration = .milliseconds(200)

    /// While the log is halted, a run going forward or rolling back is paused (`RunPaused`
    /// with `halt`) and held; once the halt is lifted, a run the halt paused is resumed, unless
    /// a person asked for a pause meanwhile. Returns whether the run is held. Unless `force`,
    /// a running run reads the halt at most every `haltReadInterval` (a step boundary is
    /// cheap; every change still passes `proof`, which reads it each time).
    func obeyHalt(force: Bool) throws -> Bool {
        let now = engine.clock.uptime()
        if !force, state.status != .paused, let last = haltReadAt, now - last < Self.haltReadInterval { return false }
        let halt: HaltState
        do {
            halt = try engine.halt.current()
            haltReadAt = now
            haltSeqRead = halt.lastRunSeq
        } catch where outlasts(error) {
            // The log does not answer: nothing can be recorded either, so nothing happens.
            return false
        }
        if halt.halted {
            if [.running, .waitingApproval, .compensating].contains(state.status) {
                try record([.runPaused(Signal(reason: "the log is \(halt.summary)", halt: true))])
            }
            return state.status == .paused
        }
        if state.status == .paused, state.pausedByHalt, state.pauseRequest == nil {
            try record([.runResumed(Signal(reason: "the halt was lifted by \(halt.liftedBy ?? "someone")", halt: true))])
        }
        return false
    }

    /// A child run whose parent was aborted is aborted too, by this driver, naming the parent.
    func inheritAbort() throws {
        // Not once the child needs a person: its abort already came to that (past its pivot).
        guard let check = config.parentAbort, state.abortRequest == nil, state.rollback == nil,
            [.running, .waitingApproval, .paused].contains(state.status), let reason = try check()
        else { return }
        try record([.abortRequested(Signal(reason: reason))])
    }

    var isGoingForward: Bool { state.status == .running || state.status == .waitingApproval }

    /// Waits for any event from another process, renewing the lease meanwhile. A member of a
    /// parallel group (`step`) told to stop throws `RunInterruption.cancelled`.
    /// A halt or its lifting ends the wait too.
    func waitForNewEvents(for step: String? = nil) async throws {
        // Compared with the halt as the driver last read it (not as it is now: a halt recorded
        // since would go unseen until some other event came).
        let haltSeen = haltSeqRead ?? (try? engine.halt.current().lastRunSeq)
        // Members of a parallel group share the state: events another member folded count.
        let seqSeen = state.lastRunSeq
        while true {
            if let step, cancelling.contains(step) { throw RunInterruption.cancelled }
            try renewLease()
            try await engine.clock.sleep(until: engine.clock.now().addingTimeInterval(Double(config.signalPollInterval.milliseconds) / 1_000))
            if try reloadOrStop() || state.lastRunSeq != seqSeen { return }
            if let seen = haltSeen, let now = try? engine.halt.current().lastRunSeq, now != seen { return }
            // A child's wait (for an approval, a resume) ends when its parent turns back, too.
            if let check = config.parentAbort, state.abortRequest == nil, state.rollback == nil, try check() != nil { return }
        }
    }
}
