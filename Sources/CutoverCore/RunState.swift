/// A run's state: the fold of its events and nothing else. No I/O, no clock.
public struct RunState: Sendable, Equatable {
    public let runID: String
    public private(set) var status: RunStatus = .running
    public private(set) var plan: RunStarted?
    /// Each planned step's position in the plan, so lookups do not scan it.
    private var positions: [String: Int] = [:]
    /// Steps before this position have all succeeded: the decision starts here.
    private(set) var firstUnfinished = 0
    /// Each parallel group's members: their positions in the plan, and how many may be in flight.
    private(set) var groups: [String: (members: Range<Int>, maxConcurrency: Int)] = [:]
    /// Steps whose attempt in flight asked for approvals and waits for them: while any does,
    /// a run going forward is `waitingApproval`.
    private(set) var awaitingApproval: Set<String> = []
    public private(set) var steps: [String: StepRecord] = [:]
    /// Steps in the order they succeeded; compensation walks it backwards.
    public private(set) var completionOrder: [String] = []
    /// Steps that left a change in place before succeeding (`StepProgress.inPlace`), in the
    /// order they first did: a rollback undoes those that never succeeded first.
    public private(set) var inPlaceOrder: [String] = []
    public private(set) var lastRunSeq: Int64 = 0
    public private(set) var startedAtMillis: Int64?
    public private(set) var lastEventMillis: Int64?
    public private(set) var driver: String?
    public private(set) var pauseRequest: (String)?
    public private(set) var resumeRequest: (String)?
    public private(set) var abortRequest: (by: String, reason: String?)?
    public private(set) var rollbackRequest: (by: String, reason: String?)?
    public private(set) var statusBeforePause: RunStatus?
    /// The run was paused by the log's halt (not by a person): lifting the halt resumes it.
    public private(set) var pausedByHalt = false
    public private(set) var rollback: RollbackStarted?
    public private(set) var attention: NeedsAttention?
    public private(set) var outcome: RunOutcome?
    /// A pivot step has started: from here a live run never rolls back on its own.
    public private(set) var pivotStarted = false

    public init(runID: String) { self.runID = runID }

    /// Folds a whole run.
    /// - Throws: `FoldError` at the first event that cannot follow the ones before it.
    public static func fold(_ runID: String, _ events: some Sequence<Event>) throws -> RunState {
        var state = RunState(runID: runID)
        for e in events { try state.apply(e) }
        return state
    }

    /// The plan's steps in workflow order.
    public var orderedSteps: [StepRecord] { (plan?.steps ?? []).compactMap { steps[$0.id] } }

    public func planned(_ id: String) -> PlannedStep? { positions[id].flatMap { plan?.steps[$0] } }

    /// A step's position in the plan.
    public func position(of id: String) -> Int? { positions[id] }

    /// The distinct approvers of a step who count: allowed, not excluded, and proven. An
    /// approval is proven by its signature when the request lists keys; otherwise by being
    /// appended by the approver itself, or, for a drill only, by the scheduler in the name of
    /// a standing approval. Without `proof` a signature is taken as it claims: for views and
    /// for choosing which runs to drive, since the driver, `approve` and `audit verify` check
    /// every signature before it counts for anything.
    public func countedApprovers(_ step: String, proof: ApprovalProof? = nil) -> [String] {
        guard let record = steps[step] else { return [] }
        var seen: [String] = []
        for grant in record.grants where !seen.contains(grant.by) && unproven(grant, of: record, proof: proof) == nil {
            seen.append(grant.by)
        }
        return seen
    }

    /// Why an approval of a step does not count, or nil when it does.
    public func unproven(_ grant: ApprovalGrant, of record: StepRecord, proof: ApprovalProof?) -> String? {
        guard let request = record.approvalRequest else { return "no approval was requested" }
        if request.excluded.contains(grant.by) { return "\(grant.by) started this live run" }
        if !request.approvers.isEmpty, !request.approvers.contains(grant.by) { return "\(grant.by) is not a listed approver" }
        if let keys = request.keys, !keys.isEmpty {
            guard let proof else { return grant.signature == nil ? "it is not signed" : nil }
            return proof.problem(runID: runID, step: record.id, requestSeq: grant.requestSeq, keys: keys, grant: grant)
        }
        if grant.standing != nil { return plan?.mode == .drill ? nil : "a standing approval counts for drills only" }
        return grant.by == grant.actor ? nil : "appended by \(grant.actor), not by \(grant.by)"
    }

    /// Applies one event.
    /// - Throws: `FoldError` when the event cannot follow the ones before it.
    public mutating func apply(_ event: Event) throws {
        guard event.runID == runID else { throw FoldError(event, "belongs to run \(event.runID), not \(runID)") }
        var startsTheRun = false
        if case .runStarted = event.body { startsTheRun = true }
        try checkPlace(seq: event.seq, runSeq: event.runSeq, type: event.type, startsTheRun: startsTheRun, step: event.stepID)
        try applyBody(event)
        lastRunSeq = event.runSeq
        lastEventMillis = event.atMillis
    }

    /// Applies a `StepNote` known only by the step it names. A note changes nothing but the
    /// run's position and time, and long monitor steps write thousands: stores that can read
    /// the step from a stored body without decoding it fold them this way.
    /// - Throws: `FoldError` as `apply` would for the same note.
    public mutating func applyNote(step: String, seq: Int64, runSeq: Int64, atMillis: Int64) throws {
        try checkPlace(seq: seq, runSeq: runSeq, type: "StepNote", startsTheRun: false, step: step)
        lastRunSeq = runSeq
        lastEventMillis = atMillis
    }

    /// Whether an event can stand at `runSeq`: the next position, after `RunStarted` unless it
    /// is the start, about a step of the plan. Checked without copying the plan or a step's
    /// record out of their storage.
    private func checkPlace(seq: Int64, runSeq: Int64, type: String, startsTheRun: Bool, step: String?) throws {
        guard runSeq == lastRunSeq + 1 else {
            throw FoldError(seq: seq, runSeq: runSeq, type: type, "run sequence \(runSeq) does not follow \(lastRunSeq)")
        }
        if startedAtMillis == nil, !startsTheRun {
            throw FoldError(seq: seq, runSeq: runSeq, type: type, "the first event of a run must be RunStarted")
        }
        if let step, positions[step] == nil {
            throw FoldError(seq: seq, runSeq: runSeq, type: type, "refers to step \"\(step)\", which is not in the run's plan")
        }
    }

    private mutating func applyBody(_ event: Event) throws {
        let at = event.atMillis
        switch event.body {
        case .runStarted(let p):
            guard plan == nil else { throw FoldError(event, "a run starts only once") }
            plan = p
            positions.reserveCapacity(p.steps.count)
            for (i, s) in p.steps.enumerated() { positions[s.id] = i }
            for g in p.groups ?? [] {
                let at = p.steps.indices.filter { p.steps[$0].group == g.id }
                guard let first = at.first, let last = at.last, at.count == last - first + 1 else {
                    throw FoldError(event, "parallel group \(g.id) has no steps, or its steps are not side by side in the plan")
                }
                groups[g.id] = (first..<(last + 1), max(1, g.maxConcurrency))
            }
            if let stray = p.steps.first(where: { $0.group != nil && groups[$0.group!] == nil }) {
                throw FoldError(event, "step \(stray.id) names parallel group \(stray.group!), which the plan does not list")
            }
            startedAtMillis = at
            steps.reserveCapacity(p.steps.count)
            for s in p.steps { steps[s.id] = StepRecord(id: s.id) }
        case .driverAttached(let p):
            driver = p.owner
        case .stepStarted(let p):
            try expect(status == .running || status == .waitingApproval, event)
            modify(p.step) {
                $0.phase = .running
                $0.attempts = p.attempt
                $0.firstStartedMillis = $0.firstStartedMillis ?? at
                $0.safetyRecheckAtMillis = nil
                $0.safetyStop = nil
                $0.safetyFailingSince = [:]
                // An override lets one attempt start; the next is looked at on its own.
                $0.overrides = [:]
            }
            if planned(p.step)?.pivot == true { pivotStarted = true }
        case .stepSucceeded(let p):
            modify(p.step) {
                $0.phase = .succeeded
                $0.output = p.output
                $0.observed = p.observed
                $0.finishedMillis = at
                $0.lastError = nil
            }
            completionOrder.append(p.step)
            if let plan {
                while firstUnfinished < plan.steps.count, steps[plan.steps[firstUnfinished].id]?.phase == .succeeded { firstUnfinished += 1 }
            }
            approvalSettled(p.step)
        case .stepFailed(let p):
            modify(p.step) {
                $0.phase = p.retryAtMillis == nil ? .failed : .retrying
                if p.error.code == StepError.interrupted.code { $0.interruptions += 1 }
                $0.lastError = p.error
                $0.retryAtMillis = p.retryAtMillis
                $0.finishedMillis = at
            }
            approvalSettled(p.step)
        case .stepNote:
            break
        case .stepProgress(let p):
            modify(p.step) {
                $0.progress[p.key] = p.data
                if let output = p.inPlace { $0.inPlace = output }
            }
            if p.inPlace != nil, !inPlaceOrder.contains(p.step) { inPlaceOrder.append(p.step) }
        case .beforeRecorded(let p):
            modify(p.step) { $0.before = $0.before ?? p.state }
        case .timerSet(let p):
            modify(p.step) { $0.timers[p.name] = p.untilMillis }
        case .approvalRequested(let p):
            modify(p.step) {
                $0.approvalRequest = p
                $0.approvalRequestSeq = event.seq
            }
            awaitingApproval.insert(p.step)
            if status == .running { status = .waitingApproval }
        case .approvalGranted(let p):
            modify(p.step) {
                $0.grants.append(ApprovalGrant(by: p.by, actor: event.actor, signature: p.signature, standing: p.standing, seq: event.seq, requestSeq: $0.approvalRequestSeq))
            }
        case .safetyChecked(let p):
            guard plan?.steps[positions[p.step] ?? 0].safety?.contains(p.rule) == true else {
                throw FoldError(event, "checks rule \(p.rule), which does not guard step \(p.step)")
            }
            modify(p.step) {
                if p.held || p.overriddenBy != nil {
                    $0.safetyFailingSince[p.rule] = nil
                    return
                }
                $0.safetyFailingSince[p.rule] = $0.safetyFailingSince[p.rule] ?? at
                if let recheck = p.recheckAtMillis { $0.safetyRecheckAtMillis = max($0.safetyRecheckAtMillis ?? recheck, recheck) }
                if p.stops == true { $0.safetyStop = SafetyStop(rule: p.rule, detail: p.detail) }
            }
        case .safetyOverridden(let p):
            // Counted as an approval is: by the approver itself, a listed one, not a live run's starter.
            if overrideProblem(p, actor: event.actor) == nil { modify(p.step) { $0.overrides[p.rule] = p.by } }
        case .pauseRequested:
            pauseRequest = event.actor
        case .resumeRequested:
            resumeRequest = event.actor
        case .abortRequested(let p):
            abortRequest = (event.actor, p.reason)
        case .rollbackRequested(let p):
            rollbackRequest = (event.actor, p.reason)
        case .runPaused(let p):
            statusBeforePause = status
            status = .paused
            // A person's pause asked for before the halt outlives the halt.
            pausedByHalt = p.halt == true && pauseRequest == nil
            pauseRequest = nil
        case .runResumed:
            if status == .paused {
                status = statusBeforePause ?? .running
                // Members of a parallel group may have finished, or asked for approvals, during the pause.
                if status == .waitingApproval, awaitingApproval.isEmpty { status = .running }
                if status == .running, !awaitingApproval.isEmpty { status = .waitingApproval }
            } else if status == .needsAttention {
                // A person chose to go on: failed attempts and compensations may be tried again,
                // and the safety rules are looked at afresh.
                for id in steps.keys {
                    modify(id) {
                        if $0.phase == .failed { $0.phase = .pending }
                        if $0.compensation == .failed { $0.compensation = .pending }
                        $0.safetyStop = nil
                        $0.safetyRecheckAtMillis = nil
                        $0.safetyFailingSince = [:]
                    }
                }
                status = rollback == nil ? .running : .compensating
                attention = nil
            }
            statusBeforePause = nil
            pauseRequest = nil
            resumeRequest = nil
            pausedByHalt = false
        case .rollbackStarted(let p):
            rollback = p
            status = .compensating
            // An abort or rollback supersedes a pause asked for before it.
            abortRequest = nil
            rollbackRequest = nil
            pauseRequest = nil
            attention = nil
            for id in steps.keys { modify(id) { if $0.compensation == .failed { $0.compensation = .pending } } }
        case .compensationStarted(let p):
            try expect(status == .compensating, event)
            modify(p.step) {
                $0.compensation = .running
                $0.compensationAttempts = p.attempt
            }
        case .compensationSucceeded(let p):
            modify(p.step) {
                $0.compensation = .succeeded
                $0.compensationError = nil
            }
        case .compensationFailed(let p):
            modify(p.step) {
                $0.compensation = p.retryAtMillis == nil ? .failed : .retrying
                if p.error.code == StepError.interrupted.code { $0.compensationInterruptions += 1 }
                $0.compensationError = p.error
                $0.compensationRetryAtMillis = p.retryAtMillis
            }
        case .runSucceeded(let p):
            finish(.succeeded, p)
        case .runRolledBack(let p):
            finish(.rolledBack, p)
        case .runFailed(let p):
            finish(.failed, p)
        case .runAborted(let p):
            finish(.aborted, p)
        case .runNeedsAttention(let p):
            status = .needsAttention
            attention = p
            abortRequest = nil
            resumeRequest = nil
            statusBeforePause = nil
        case .scheduleAdded, .schedulePaused, .scheduleResumed, .scheduleRemoved, .drillDue, .drillStarted, .drillSkipped,
            .drillsMissed, .drillFinished, .drillNotified:
            throw FoldError(event, "is a schedule's event, which has no place in a run")
        case .logImported, .haltRequested, .haltLifted:
            throw FoldError(event, "is the log's own event, which has no place in a run")
        }
    }

    /// A step that may have waited for approvals has an outcome: the run waits for approvals
    /// no longer unless another step in flight still does.
    private mutating func approvalSettled(_ step: String) {
        awaitingApproval.remove(step)
        if status == .waitingApproval, awaitingApproval.isEmpty { status = .running }
    }

    /// Why an override does not count, or nil when it does: appended by the approver itself,
    /// one the runbook lists (if it lists any), and not the person who started a live run.
    public func overrideProblem(_ o: SafetyOverridden, actor: String) -> String? {
        guard let plan else { return "the run has not started" }
        if o.by != actor { return "appended by \(actor), not by \(o.by)" }
        if plan.mode == .live, o.by == plan.startedBy { return "\(o.by) started this live run" }
        let approvers = plan.runbookSnapshot["approvers"].flatMap(Approver.list) ?? []
        let listed = approvers.map(\.name)
        if !listed.isEmpty, !listed.contains(o.by) { return "\(o.by) is not one of the runbook's approvers" }
        // Where approvals must be signed, an override would be a way round the keys: it does
        // not count (signed overrides are not built yet; a person resumes once the rule holds).
        if approvers.contains(where: { $0.key != nil }) { return "the runbook's approvers sign their approvals, and overrides cannot be signed yet" }
        return nil
    }

    /// Whether `step`'s attempt in flight has asked for approvals (and has no outcome yet).
    public func isAwaitingApproval(_ step: String) -> Bool { awaitingApproval.contains(step) }

    private mutating func finish(_ final: RunStatus, _ p: RunOutcome) {
        status = final
        outcome = p
        rollbackRequest = nil
        abortRequest = nil
        pauseRequest = nil
        resumeRequest = nil
    }

    /// Changes a step's record in place (a copy out and back would copy its arrays too).
    private mutating func modify(_ id: String, _ change: (inout StepRecord) -> Void) {
        guard let i = steps.index(forKey: id) else { return }
        change(&steps.values[i])
    }

    private func expect(_ condition: Bool, _ event: Event) throws {
        if !condition { throw FoldError(event, "cannot happen while the run is \(status.rawValue)") }
    }

    public static func == (a: RunState, b: RunState) -> Bool {
        a.runID == b.runID && a.status == b.status && a.plan == b.plan && a.steps == b.steps
            && a.completionOrder == b.completionOrder && a.lastRunSeq == b.lastRunSeq && a.rollback == b.rollback
            && a.attention == b.attention && a.outcome == b.outcome && a.pivotStarted == b.pivotStarted
            && a.inPlaceOrder == b.inPlaceOrder && a.awaitingApproval == b.awaitingApproval && a.pausedByHalt == b.pausedByHalt
            && a.statusBeforePause == b.statusBeforePause && a.pauseRequest == b.pauseRequest && a.resumeRequest == b.resumeRequest
            && a.abortRequest?.by == b.abortRequest?.by && a.abortRequest?.reason == b.abortRequest?.reason
            && a.rollbackRequest?.by == b.rollbackRequest?.by && a.rollbackRequest?.reason == b.rollbackRequest?.reason
            && a.firstUnfinished == b.firstUnfinished && a.groups.keys == b.groups.keys
            && a.groups.allSatisfy { id, g in b.groups[id].map { $0.members == g.members && $0.maxConcurrency == g.maxConcurrency } ?? false }
    }
}

/// An event that cannot follow the run's earlier events.
public struct FoldError: Error, Sendable, CustomStringConvertible {
    public let seq: Int64
    public let runSeq: Int64
    public let type: String
    public let reason: String

    init(_ event: Event, _ reason: String) {
        seq = event.seq
        runSeq = event.runSeq
        type = event.type
        self.reason = reason
    }

    init(seq: Int64, runSeq: Int64, type: String, _ reason: String) {
        self.seq = seq
        self.runSeq = runSeq
        self.type = type
        self.reason = reason
    }

    public var description: String { "event \(seq) (\(type), run position \(runSeq)) \(reason)" }
}
