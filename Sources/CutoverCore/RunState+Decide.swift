/// What the engine should do next, decided from the fold alone.
public enum NextAction: Sendable, Equatable {
    /// Record `StepStarted`, then execute.
    case startStep(String, attempt: Int)
    /// An attempt has no outcome: the driver stopped during it. Observe, or record it interrupted.
    case settleStep(String, attempt: Int)
    /// Wait (durably: the time is in the log) before the next attempt.
    case waitUntil(millis: Int64)
    case succeed
    case beginRollback(RollbackStarted)
    case startCompensation(String, attempt: Int)
    /// A compensation has no outcome: record it interrupted, then run it again.
    case settleCompensation(String, attempt: Int)
    case finishRollback
    case needsAttention(NeedsAttention)
    case fail(reason: String)
    case pause
    case resume
    /// Paused or needing attention: nothing to do until a person sends a signal.
    case waitForSignal
    /// The run is over.
    case finished
}

extension RunState {
    /// Decides the next action at `nowMillis`. Pure: the same state and time, the same answer.
    public func nextAction(nowMillis: Int64) -> NextAction {
        guard let plan else { return .finished }
        switch status {
        case .succeeded:
            if let r = rollbackRequest {
                return .beginRollback(RollbackStarted(planned: false, reason: "rollback requested by \(r.by)\(Self.suffix(r.reason))"))
            }
            return .finished
        case .rolledBack, .failed, .aborted:
            return .finished
        case .paused:
            return resumeRequest != nil || abortRequest != nil ? .resume : .waitForSignal
        case .needsAttention:
            if let r = rollbackRequest {
                return .beginRollback(RollbackStarted(planned: false, reason: "rollback requested by \(r.by)\(Self.suffix(r.reason))"))
            }
            if abortRequest != nil { return abortAction(plan) }
            return resumeRequest != nil ? .resume : .waitForSignal
        case .compensating:
            if pauseRequest != nil { return .pause }
            return nextCompensation(nowMillis: nowMillis)
        case .running, .waitingApproval:
            if abortRequest != nil { return abortAction(plan) }
            if pauseRequest != nil { return .pause }
            return nextForward(plan, nowMillis: nowMillis)
        }
    }

    /// What `nextAction` would decide right after `id` succeeds, when that is simply starting
    /// the next planned step; nil in every other case. O(1), so the driver can ask it after
    /// each step (the answer lets a success and the next start share one commit).
    public func stepStartingAfterSuccess(of id: String) -> (id: String, attempt: Int)? {
        guard let plan, status == .running || status == .waitingApproval, abortRequest == nil, pauseRequest == nil,
            let p = position(of: id), p == firstUnfinished, p + 1 < plan.steps.count
        else { return nil }
        let next = plan.steps[p + 1].id
        guard let record = steps[next], record.phase == .pending else { return nil }
        return (next, record.attempts + 1)
    }

    private func nextForward(_ plan: RunStarted, nowMillis: Int64) -> NextAction {
        for planned in plan.steps[firstUnfinished...] {
            guard let step = steps[planned.id] else { continue }
            switch step.phase {
            case .succeeded:
                continue
            case .running:
                return .settleStep(step.id, attempt: step.attempts)
            case .pending:
                return .startStep(step.id, attempt: step.attempts + 1)
            case .retrying:
                if let at = step.retryAtMillis, nowMillis < at { return .waitUntil(millis: at) }
                return .startStep(step.id, attempt: step.attempts + 1)
            case .failed:
                return afterFailure(of: step, plan)
            }
        }
        if plan.mode == .drill {
            return .beginRollback(RollbackStarted(
                planned: true, reason: "drill: every step passed; rolling back as planned"))
        }
        return .succeed
    }

    private func afterFailure(of step: StepRecord, _ plan: RunStarted) -> NextAction {
        let cause = "step \(step.id) failed after \(step.attempts) attempt\(step.attempts == 1 ? "" : "s"): \(step.lastError?.message ?? "unknown error")"
        if plan.mode == .live, pivotStarted {
            return .needsAttention(NeedsAttention(
                reason: "\(cause). This is after the pivot (\(pivotName(plan))), so cutover will not roll back on its own.",
                decision: "Decide whether to go forward or back. Forward: fix the cause and run `cutover resume \(runID)` to try \(step.id) again. Back: run `cutover rollback \(runID)`, which compensates every completed step including the pivot and discards writes made on DR since."))
        }
        if !pendingCompensations.isEmpty {
            return .beginRollback(RollbackStarted(planned: false, reason: cause))
        }
        return .fail(reason: "\(cause). Nothing had been changed, so there was nothing to roll back.")
    }

    private func abortAction(_ plan: RunStarted) -> NextAction {
        let who = abortRequest.map { "\($0.by)\(Self.suffix($0.reason))" } ?? "someone"
        if plan.mode == .live, pivotStarted {
            return .needsAttention(NeedsAttention(
                reason: "abort requested by \(who) after the pivot (\(pivotName(plan))); cutover does not roll back past the pivot on its own.",
                decision: "Run `cutover rollback \(runID)` to compensate every completed step including the pivot (discarding writes made on DR since), or `cutover resume \(runID)` to carry on with the failover."))
        }
        return .beginRollback(RollbackStarted(planned: false, reason: "aborted by \(who)", aborted: true))
    }

    private func nextCompensation(nowMillis: Int64) -> NextAction {
        guard let id = pendingCompensations.first, let step = steps[id] else { return .finishRollback }
        switch step.compensation {
        case .running:
            return .settleCompensation(id, attempt: step.compensationAttempts)
        case .retrying:
            if let at = step.compensationRetryAtMillis, nowMillis < at { return .waitUntil(millis: at) }
            return .startCompensation(id, attempt: step.compensationAttempts + 1)
        case .failed:
            let message = step.compensationError?.message ?? "unknown error"
            return .needsAttention(NeedsAttention(
                reason: "compensation of step \(id) failed after \(step.compensationAttempts) attempt\(step.compensationAttempts == 1 ? "" : "s"): \(message). The rollback stopped here; steps completed before \(id) are not yet compensated.",
                decision: "Fix the cause and run `cutover resume \(runID)` to retry the compensation, or restore \(id) by hand following the runbook and then run `cutover resume \(runID)`."))
        case .pending, .succeeded:
            return .startCompensation(id, attempt: step.compensationAttempts + 1)
        }
    }

    /// Completed steps that changed something and are not yet compensated, latest first.
    public var pendingCompensations: [String] {
        completionOrder.reversed().filter { id in
            guard let planned = planned(id), planned.isCompensable else { return false }
            return steps[id]?.compensation != .succeeded
        }
    }

    private func pivotName(_ plan: RunStarted) -> String {
        plan.steps.filter(\.pivot).map(\.id).joined(separator: ", ")
    }

    private static func suffix(_ reason: String?) -> String {
        reason.map { ": \($0)" } ?? ""
    }
}
