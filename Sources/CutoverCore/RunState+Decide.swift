/// What the engine should do next, decided from the fold alone.
public enum NextAction: Sendable, Equatable {
    /// Record `StepStarted`, then execute.
    case startStep(String, attempt: Int)
    /// A member of a parallel group that is stopping (a sibling failed, or an abort) is in
    /// flight: stop it at its next safe point, then settle it by observation (a change it
    /// already made counts as done, to be compensated) without trying it again.
    case cancelStep(String, attempt: Int)
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

extension NextAction {
    /// Whether the action runs, settles or waits for a step going forward (what a parallel
    /// group's members do), rather than changing the run's own course.
    public var isStepWork: Bool {
        switch self {
        case .startStep, .settleStep, .cancelStep, .waitUntil: true
        default: false
        }
    }
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
            return resumeRequest != nil || abortResumes ? .resume : .waitForSignal
        case .needsAttention:
            if let r = rollbackRequest {
                return .beginRollback(RollbackStarted(planned: false, reason: "rollback requested by \(r.by)\(Self.suffix(r.reason))"))
            }
            if abortRequest != nil { return abortAction(plan) }
            // An override of the rule that stopped a step carries the run on, as a resume would.
            return resumeRequest != nil || overrideArrived ? .resume : .waitForSignal
        case .compensating:
            if pauseRequest != nil { return .pause }
            return nextCompensation(nowMillis: nowMillis)
        case .running, .waitingApproval:
            if let group = activeGroup { return groupActions(group.members, limit: group.maxConcurrency, plan, nowMillis: nowMillis)[0] }
            if abortRequest != nil { return abortAction(plan) }
            if pauseRequest != nil { return .pause }
            return nextForward(plan, nowMillis: nowMillis)
        }
    }

    /// Every action that is ready at `nowMillis`. One, as `nextAction` decides, except inside
    /// a parallel group going forward: there every member in flight (`settleStep`, or
    /// `cancelStep` when the group stops), every member that may start within the group's
    /// `maxConcurrency` (`startStep`) and the time the next retry is due (`waitUntil`). Pure.
    public func nextActions(nowMillis: Int64) -> [NextAction] {
        if status == .running || status == .waitingApproval, let plan, let group = activeGroup {
            return groupActions(group.members, limit: group.maxConcurrency, plan, nowMillis: nowMillis)
        }
        return [nextAction(nowMillis: nowMillis)]
    }

    /// The parallel group the run is in, going forward: the first unfinished step's.
    public var activeGroup: (id: String, members: Range<Int>, maxConcurrency: Int)? {
        guard let plan, firstUnfinished < plan.steps.count, let id = plan.steps[firstUnfinished].group, let g = groups[id] else { return nil }
        return (id, g.members, g.maxConcurrency)
    }

    private func groupActions(_ members: Range<Int>, limit: Int, _ plan: RunStarted, nowMillis: Int64) -> [NextAction] {
        var inFlight: [StepRecord] = []
        var failed: StepRecord?
        var stopped: StepRecord?
        var ready: [NextAction] = []
        var retryAt: Int64?
        for i in members {
            guard let step = steps[plan.steps[i].id] else { continue }
            switch step.phase {
            case .succeeded: continue
            case .running: inFlight.append(step)
            case .pending, .retrying:
                if step.safetyStop != nil {
                    stopped = stopped ?? step
                } else if let at = step.waitsUntil(nowMillis) {
                    retryAt = min(retryAt ?? at, at)
                } else {
                    ready.append(.startStep(step.id, attempt: step.attempts + 1))
                }
            case .failed:
                // The cause is a member's own failure, not a sibling's cancellation.
                if failed == nil || failed?.lastError?.code == StepError.cancelledCode { failed = step }
            }
        }
        if failed != nil || abortRequest != nil {
            if !inFlight.isEmpty { return inFlight.map { .cancelStep($0.id, attempt: $0.attempts) } }
            // An abort wins, as it does for a step alone, whatever a member failed with meanwhile.
            if abortRequest != nil || failed == nil { return [abortAction(plan)] }
            return [afterFailure(of: failed!, plan)]
        }
        if pauseRequest != nil { return [.pause] }
        // A member a safety rule stopped waits for a person once its siblings are done.
        if let stopped, inFlight.isEmpty, ready.isEmpty, retryAt == nil { return [safetyAttention(stopped)] }
        var out: [NextAction] = inFlight.map { .settleStep($0.id, attempt: $0.attempts) }
        out += ready.prefix(max(0, limit - inFlight.count))
        if let retryAt { out.append(.waitUntil(millis: retryAt)) }
        return out
    }

    /// The steps `nextActions` would start right after the steps in `done` succeed, when
    /// nothing but starts would follow (no signal, no failure, no retry to wait for); empty
    /// otherwise. Lets the successes and the next starts share one commit. Constant time for
    /// a step that runs alone, the size of the group for a member of one.
    public func stepsStartingAfterSuccess(of done: Set<String>) -> [(id: String, attempt: Int)] {
        guard let plan, status == .running || status == .waitingApproval, abortRequest == nil, pauseRequest == nil else { return [] }
        var next = firstUnfinished
        while next < plan.steps.count, steps[plan.steps[next].id]?.phase == .succeeded || done.contains(plan.steps[next].id) { next += 1 }
        guard next < plan.steps.count else { return [] }
        // A step a safety rule guards starts only after its rules were looked at.
        guard let id = plan.steps[next].group, let g = groups[id] else {
            guard plan.steps[next].safety == nil, let record = steps[plan.steps[next].id], record.phase == .pending else { return [] }
            return [(record.id, record.attempts + 1)]
        }
        var inFlight = 0
        var ready: [(id: String, attempt: Int)] = []
        for i in g.members {
            guard let record = steps[plan.steps[i].id], !done.contains(record.id) else { continue }
            switch record.phase {
            case .succeeded: continue
            case .running: inFlight += 1
            case .pending:
                if plan.steps[i].safety != nil { return [] }
                ready.append((record.id, record.attempts + 1))
            case .retrying, .failed: return []
            }
        }
        return Array(ready.prefix(max(0, g.maxConcurrency - inFlight)))
    }

    private func nextForward(_ plan: RunStarted, nowMillis: Int64) -> NextAction {
        // Steps run one after another outside parallel groups (`groupActions` decides inside one).
        for planned in plan.steps[firstUnfinished...] {
            guard let step = steps[planned.id] else { continue }
            switch step.phase {
            case .succeeded:
                continue
            case .running:
                return .settleStep(step.id, attempt: step.attempts)
            case .pending, .retrying:
                if step.safetyStop != nil { return safetyAttention(step) }
                if let at = step.waitsUntil(nowMillis) { return .waitUntil(millis: at) }
                return .startStep(step.id, attempt: step.attempts + 1)
            case .failed:
                return afterFailure(of: step, plan)
            }
        }
        // A drill's child run leaves its planned rollback to its parent, whose rollback
        // compensates the step that ran it.
        if plan.mode == .drill, plan.parent == nil {
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

    /// A safety rule stopped `step` before its next attempt: a person fixes the cause and
    /// resumes (the rules are looked at again), or an approver overrides the rule.
    private func safetyAttention(_ step: StepRecord) -> NextAction {
        let stop = step.safetyStop!
        return .needsAttention(NeedsAttention(
            reason: "safety rule \(stop.rule) does not hold before step \(step.id): \(stop.detail)",
            decision: "Fix the cause and run `cutover resume \(runID)` (the rule is looked at again), or, if going on anyway is safe, an approver runs `cutover override \(runID) \(step.id) \(stop.rule) --reason TEXT`; `cutover rollback \(runID)` undoes what was done."))
    }

    /// Whether an abort resumes a paused run: one paused going forward, to turn it back; a
    /// rollback that was paused is going back already, and only a person's resume carries it on.
    public var abortResumes: Bool { abortRequest != nil && statusBeforePause != .compensating }

    /// Whether an override counted for the rule that stopped a step, and that stop is all the
    /// run waits on: an override answers the rule, never a failure or a rollback a person must
    /// decide about (those need `resume` or `rollback`).
    public var overrideArrived: Bool {
        guard status == .needsAttention, rollback == nil,
            !steps.values.contains(where: { $0.phase == .failed || $0.compensation == .failed })
        else { return false }
        return steps.values.contains { s in s.safetyStop.map { s.overrides[$0.rule] != nil } ?? false }
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

    /// Steps that changed something and are not yet compensated, latest first: those that
    /// left a change in place without succeeding (they were in flight when the run turned
    /// back), then the completed ones in reverse order of completion.
    public var pendingCompensations: [String] {
        let unfinished = inPlaceOrder.reversed().filter { steps[$0]?.phase != .succeeded }
        return (unfinished + completionOrder.reversed()).filter { id in
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
