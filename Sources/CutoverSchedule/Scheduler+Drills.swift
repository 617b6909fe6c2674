import CutoverCore
import CutoverEngine
import CutoverStore
import Foundation

extension Scheduler {
    /// Starts the run for a firing already recorded as due, unless a run of the same service
    /// is active or the files no longer load: then the firing is skipped, with the reason.
    func startDrill(_ name: String, _ due: DrillDue, _ schedule: inout ScheduleState) throws -> String? {
        guard let definition = schedule.definition else { return nil }
        let firing = ScheduledFiring(name: name, dueAtMillis: due.dueAtMillis)
        let request: Engine.StartRequest
        do {
            request = try environment.request(definition, firing)
        } catch {
            try skip(due, reason: "the workflow or runbook does not load: \(Self.oneLine(error))", blockedBy: nil, &schedule)
            return nil
        }
        if let holder = try store.lockHolder(scope: request.runbook.service) {
            try skip(due, reason: try blockReason(holder, service: request.runbook.service), blockedBy: holder, &schedule)
            return nil
        }
        let run: String
        do {
            run = try engine.start(request)
        } catch let locked as StoreError where locked.code == .scopeLocked {
            let scope = locked.scope ?? "", holder = locked.holder ?? ""
            try skip(due, reason: try blockReason(holder, service: scope), blockedBy: holder, &schedule)
            return nil
        } catch let halted as HaltedError {
            try skip(due, reason: "the log is \(halted.halt.summary); no drill starts until `cutover unhalt`", blockedBy: nil, &schedule)
            return nil
        }
        try appendSurely(.drillStarted(DrillStarted(dueAtMillis: due.dueAtMillis, run: run)), to: &schedule)
        environment.log("schedule \(name): started \(definition.mode.rawValue) \(run) (due \(Self.iso(due.dueAtMillis)))")
        return run
    }

    /// An error as one line: validation failures list every issue, joined.
    static func oneLine(_ error: Error) -> String {
        "\(error)".split(separator: "\n").joined(separator: "; ")
    }

    private func skip(_ due: DrillDue, reason: String, blockedBy: String?, _ schedule: inout ScheduleState) throws {
        try append(.drillSkipped(DrillSkipped(dueAtMillis: due.dueAtMillis, reason: reason, blockedBy: blockedBy)), to: &schedule)
        environment.log("schedule \(schedule.name): skipped the firing due \(Self.iso(due.dueAtMillis)): \(reason)")
    }

    private func blockReason(_ holder: String, service: String) throws -> String {
        let mode = try store.fold(holder)?.plan?.mode
        return switch mode {
        case .live?: "a live failover of \(service), \(holder), is active; a drill now would fight it"
        case .drill?, .readiness?: "the previous scheduled or manual \(mode!.rawValue) of \(service), \(holder), is still active"
        case nil: "run \(holder) holds \(service)"
        }
    }

    /// A firing recorded as due before the scheduler stopped: if its run was started, record
    /// that; if not, start it now. Never two runs for one firing.
    func recover(_ name: String, _ due: DrillDue, _ schedule: inout ScheduleState) throws -> String? {
        if let run = try recordFoundRun(name, due, &schedule) { return run }
        return try startDrill(name, due, &schedule)
    }

    /// The firing was recorded due, then the schedule paused or removed before its run was
    /// recorded: the run is recorded if it was started, else the firing is skipped.
    func settleInactive(_ name: String, _ due: DrillDue, _ schedule: inout ScheduleState) throws -> String? {
        if let run = try recordFoundRun(name, due, &schedule) { return run }
        try skip(due, reason: "the schedule was \(schedule.removed ? "removed" : "paused") before the run was started", blockedBy: nil, &schedule)
        return nil
    }

    /// Looks for the run started for a firing (newest first) and records it as started.
    private func recordFoundRun(_ name: String, _ due: DrillDue, _ schedule: inout ScheduleState) throws -> String? {
        for run in try store.runIDs().reversed() {
            guard let first = try store.events(of: run, after: 0).first, case .runStarted(let p) = first.body else { continue }
            if p.schedule == ScheduledFiring(name: name, dueAtMillis: due.dueAtMillis) {
                try appendSurely(.drillStarted(DrillStarted(dueAtMillis: due.dueAtMillis, run: run)), to: &schedule)
                environment.log("schedule \(name): found run \(run) for the firing due \(Self.iso(due.dueAtMillis)), started before a restart")
                return run
            }
            // Runs are in start order: anything started well before the firing was due is not it.
            if first.atMillis < due.dueAtMillis - 60_000 { break }
        }
        return nil
    }

    // MARK: - Driving

    /// Whether this pass should drive `run`: not when another live process drives it, nor
    /// when it waits for people the schedule's standing approval does not cover (until it ends).
    func shouldDrive(_ run: String) throws -> Bool {
        if let holder = try store.leaseHolder(run: run), holder.owner != configuration.owner, holder.expires > clock.now(),
            !configuration.isOwnerGone(holder.owner)
        {
            return false
        }
        guard parked.contains(run) else { return true }
        guard let state = try store.fold(run) else { return false }
        return state.status.isTerminal || state.status == .needsAttention
    }

    /// Drives a scheduled run to its end, granting its approvals in the names of the people who
    /// approved the schedule, then records how it finished and tells the runbook's channel.
    /// Stops at a step boundary when a stop is requested, to be resumed by the next scheduler.
    /// Errors are logged, not thrown: one drill's trouble does not stop the others.
    func drive(_ run: String) async {
        defer { doneDriving(run) }
        do {
            guard var state = try store.fold(run), let firing = state.plan?.schedule else { return }
            var rounds = 0
            while !state.status.isTerminal, state.status != .needsAttention {
                let needsPeople = state.status == .waitingApproval ? !(try grantStandingApprovals(state, firing)) : false
                if state.status == .paused || needsPeople || rounds > 3 {
                    parked.insert(run)
                    return
                }
                rounds += 1
                state = try await engine.drive(run)
                if stop.isRequested, !state.status.isTerminal {
                    environment.log("stopped \(run) at a step boundary; the next scheduler resumes it")
                    return
                }
            }
            parked.remove(run)
            try await finish(state, firing)
        } catch {
            environment.log("run \(run): \(error)")
        }
    }

    private func doneDriving(_ run: String) { driving.remove(run) }

    /// Appends the approvals still missing in the names of the schedule's approvers; false
    /// when they cannot make up the number required (a person must approve).
    private func grantStandingApprovals(_ state: RunState, _ firing: ScheduledFiring) throws -> Bool {
        guard let definition = try store.schedule(firing.name)?.definition,
            let step = state.orderedSteps.first(where: { $0.phase == .running && $0.approvalRequest != nil }),
            let request = step.approvalRequest
        else { return false }
        let granted = Set(state.countedApprovers(step.id, proof: ApprovalProof(log: store, signatures: SSHApprovalSignatures())))
        // A keyed approver approves with a signature, never in advance.
        let keyed = request.keys ?? [:]
        let allowed = definition.approvedBy.filter {
            (request.approvers.isEmpty || request.approvers.contains($0)) && !request.excluded.contains($0) && keyed[$0] == nil
        }
        let missing = allowed.filter { !granted.contains($0) }.prefix(max(0, request.required - granted.count))
        guard granted.count + missing.count >= request.required else {
            environment.log("run \(state.runID) waits for \(request.required) approval(s) at step \(step.id) that the schedule's standing approval does not cover: `cutover approve \(state.runID)`\(keyed.isEmpty ? "" : " (approvers with keys in the runbook sign theirs: --key FILE)")")
            return false
        }
        var seq = state.lastRunSeq
        for who in missing {
            let comment = "standing approval for the drills of schedule \(firing.name), given when it was added"
            _ = try store.append(
                [EventDraft(
                    at: clock.now(), actor: configuration.actor,
                    body: .approvalGranted(ApprovalGranted(step: step.id, by: who, comment: comment, standing: firing.name)))],
                to: state.runID, expectedNext: seq + 1, options: AppendOptions(now: clock.now()))
            seq += 1
        }
        return true
    }

    /// Writes the report off the actor: it verifies the chain, which on a large log takes
    /// seconds, and meanwhile the scheduler must go on renewing its lease.
    nonisolated func writeReport(_ state: RunState) async -> String? {
        environment.writeReport(state)
    }

    /// `DrillFinished` (with the report written), then the notification, then `DrillNotified`;
    /// after a restart only what is missing is done.
    func finish(_ state: RunState, _ firing: ScheduledFiring) async throws {
        guard let drill = try store.schedule(firing.name)?.drills.last(where: { $0.run == state.runID }), drill.notified == nil else { return }
        var finished = drill.finished
        if finished == nil {
            let report = await writeReport(state)
            let lag = await environment.shippingLag()
            // Folded again after the wait: the stream may have moved on meanwhile.
            guard var schedule = try store.schedule(firing.name) else { return }
            finished = schedule.drills.last(where: { $0.run == state.runID })?.finished
            if finished == nil {
                var notice = DrillNotice(state: state, schedule: firing.name, report: report)
                if !lag.isEmpty { notice.finished.logShipping = lag }
                try appendSurely(.drillFinished(notice.finished), to: &schedule)
                environment.log("schedule \(firing.name): \(state.runID) \(notice.finished.passed ? "passed" : "DID NOT PASS"): \(notice.finished.summary)")
                finished = notice.finished
            }
        }
        guard let finished else { return }
        let notified = await environment.notify(DrillNotice(state: state, schedule: firing.name, report: finished.report))
        // Others may have appended to the schedule while the webhook was answering.
        guard var fresh = try store.schedule(firing.name), fresh.drills.last(where: { $0.run == state.runID })?.notified == nil else { return }
        try appendSurely(.drillNotified(notified), to: &fresh)
    }
}
