import CutoverCore
import Foundation

/// What one attempt of a parallel group's member came to, handed from its task to the
/// driver's loop.
struct MemberOutcome: Sendable {
    enum Kind: Sendable {
        /// The event that records the attempt's outcome.
        case recorded(EventBody)
        /// The member waits for a person and the driver detaches (`detachWhenWaiting`).
        case detached
        /// The log failed under the member: the driver must stop.
        case fatal(Error)
    }

    var step: String
    var kind: Kind
}

/// Where the members' tasks leave their outcomes: the driver's loop takes whatever has
/// arrived at once and records it in one commit.
final class GroupMailbox: @unchecked Sendable {
    // @unchecked: every field is only touched under `lock`.
    private let lock = NSLock()
    private var arrived: [MemberOutcome] = []
    private var poked = false
    private var waiter: CheckedContinuation<Void, Never>?

    func put(_ outcome: MemberOutcome) {
        lock.lock()
        arrived.append(outcome)
        let w = waiter
        waiter = nil
        lock.unlock()
        w?.resume()
    }

    /// Wakes the loop without an outcome (a retry has come due).
    func poke() {
        lock.lock()
        poked = true
        let w = waiter
        waiter = nil
        lock.unlock()
        w?.resume()
    }

    func take() -> [MemberOutcome] {
        lock.lock()
        defer { lock.unlock() }
        let out = arrived
        arrived = []
        poked = false
        return out
    }

    /// Returns once an outcome has arrived or the mailbox was poked since the last `take`.
    func wait() async {
        await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
            lock.lock()
            if !arrived.isEmpty || poked {
                lock.unlock()
                c.resume()
                return
            }
            waiter = c
            lock.unlock()
        }
    }
}

extension RunDriver {
    /// Drives parallel groups: every ready member of the group the run is in starts (their
    /// `StepStarted` in one commit) and runs in a task of its own; outcomes that arrive
    /// together are recorded together, with the starts they make ready. When the group stops
    /// (a member failed, or an abort), members in flight are told to stop at their next safe
    /// point and settled by observation. Returns, with nothing in flight, once the run has
    /// left its groups or has to do something else (roll back, stop for a person, pause).
    func runGroups() async throws -> StepResult {
        let mailbox = GroupMailbox()
        var inFlight: [String: Task<Void, Never>] = [:]
        var timer: (at: Int64, task: Task<Void, Never>)?
        var detaching = false
        groupMailbox = mailbox
        defer {
            timer?.task.cancel()
            groupMailbox = nil
        }
        do {
            while true {
                // Cancelled (the process is stopping): the catch below stops every member.
                try Task.checkCancellation()
                let arrived = mailbox.take()
                var bodies: [EventBody] = []
                var succeeded: Set<String> = []
                for o in arrived {
                    inFlight[o.step] = nil
                    cancelling.remove(o.step)
                    switch o.kind {
                    case .recorded(let body):
                        bodies.append(body)
                        if case .stepSucceeded = body { succeeded.insert(o.step) }
                    case .detached: detaching = true
                    case .fatal(let e): fatal = fatal ?? e
                    }
                }
                if let fatal { throw fatal }
                if !bodies.isEmpty {
                    if succeeded.count == bodies.count, !detaching { try recordSuccesses(bodies, of: succeeded) } else { try record(bodies) }
                    continue
                }
                if inFlight.isEmpty, detaching { return .detached }
                // Asked to stop, or detaching: nothing new starts, members in flight finish.
                let quiet = config.stop.isRequested || detaching
                guard isGoingForward, state.activeGroup != nil else {
                    if inFlight.isEmpty { return .recorded }
                    await withTaskCancellationHandler { await mailbox.wait() } onCancel: { mailbox.poke() }
                    continue
                }
                var starts: [StepAttempt] = []
                var wake: Int64?
                var other: NextAction?
                var progressed = false
                for action in state.nextActions(nowMillis: nowMillis) {
                    switch action {
                    case .startStep(let id, let attempt):
                        if !quiet { starts.append(StepAttempt(step: id, attempt: attempt)) }
                    case .settleStep(let id, let attempt):
                        guard inFlight[id] == nil else { continue }
                        if chained[id] == attempt {
                            chained[id] = nil
                            inFlight[id] = launch(id, attempt: attempt, into: mailbox)
                        } else if quiet {
                            continue
                        } else if waitsWithoutChange(id) {
                            // A check that waited for approvals or on a timer carries on.
                            inFlight[id] = launch(id, attempt: attempt, into: mailbox)
                        } else {
                            // Left in flight by a driver that stopped: observe it.
                            try await settle(id, attempt: attempt)
                            progressed = true
                        }
                    case .cancelStep(let id, let attempt):
                        if inFlight[id] != nil {
                            cancelling.insert(id)
                        } else if chained[id] == attempt {
                            // Its start went into the log but it never ran: nothing to observe.
                            chained[id] = nil
                            try record([.stepFailed(StepFailed(step: id, attempt: attempt, error: .cancelled(id, because: stopReason), retryAtMillis: nil))])
                            progressed = true
                        } else if !quiet {
                            try record([await settleCancelled(id, attempt: attempt)])
                            progressed = true
                        }
                    case .waitUntil(let millis):
                        wake = millis
                    default:
                        other = action
                    }
                }
                if progressed { continue }
                if case .pause = other {
                    try record([.runPaused(Signal(reason: state.pauseRequest.map { "paused by \($0)" }))])
                    continue
                }
                if other != nil, inFlight.isEmpty { return .recorded }
                if !starts.isEmpty {
                    // Each member's safety rules first: their checks go in with the starts;
                    // a member whose rule does not hold is not started.
                    // One member under a change-rate rule clears per pass: the next is looked
                    // at with it in flight, so members side by side cannot each see room for one.
                    var checks: [EventBody] = []
                    var cleared: [StepAttempt] = []
                    var rated = false
                    let seen = state.lastRunSeq
                    for s in starts {
                        let byRate = countsChanges(s.step)
                        if byRate, rated { continue }
                        let (bodies, clear) = await safetyChecks(s.step, attempt: s.attempt)
                        checks += bodies
                        if clear {
                            cleared.append(s)
                            if byRate { rated = true }
                        }
                    }
                    if let fatal { throw fatal }
                    // The looks took time: what was folded meanwhile (a sibling's pause, an
                    // abort) is decided on first, and the rules looked at again.
                    if state.lastRunSeq != seen || config.stop.isRequested { continue }
                    guard try recordUnlessInterrupted(checks + cleared.map { .stepStarted($0) }) else { continue }
                    for s in cleared { inFlight[s.step] = launch(s.step, attempt: s.attempt, into: mailbox) }
                    continue
                }
                if inFlight.isEmpty {
                    guard !quiet, let wake else { return .recorded }
                    // Nothing in flight: wait for the next retry as a run between steps does.
                    if try await wait(until: Date(timeIntervalSince1970: Double(wake) / 1_000), forStep: nil) == .detached { return .detached }
                    continue
                }
                if let wake, timer?.at != wake {
                    timer?.task.cancel()
                    let clock = engine.clock
                    timer = (wake, Task {
                        try? await clock.sleep(until: Date(timeIntervalSince1970: Double(wake) / 1_000))
                        if !Task.isCancelled { mailbox.poke() }
                    })
                }
                await withTaskCancellationHandler { await mailbox.wait() } onCancel: { mailbox.poke() }
            }
        } catch {
            // The driver gives up (the log failed, or it was cancelled): every member stops at
            // its next safe point, and none acts for a driver that is gone.
            for (id, task) in inFlight {
                cancelling.insert(id)
                task.cancel()
            }
            for task in inFlight.values { await task.value }
            _ = mailbox.take()
            throw error
        }
    }

    /// Starts one attempt of a member in a task of its own; its outcome goes to `mailbox`.
    private func launch(_ id: String, attempt: Int, into mailbox: GroupMailbox) -> Task<Void, Never> {
        Task {
            let kind = await self.member(id, attempt: attempt)
            mailbox.put(MemberOutcome(step: id, kind: kind))
        }
    }

    /// One attempt of a member, as `execute` runs a step alone, except that its outcome is
    /// handed back rather than recorded, and a member told to stop is settled by observation.
    private func member(_ id: String, attempt: Int) async -> MemberOutcome.Kind {
        let started = engine.clock.now()
        let outcome = await perform(id, attempt: attempt)
        if let fatal { return .fatal(fatal) }
        if Task.isCancelled { return .fatal(CancellationError()) }
        switch outcome {
        case .success(let output):
            // Finished before it could stop: its change is made, and is compensated with the group.
            return .recorded(.stepSucceeded(StepSucceeded(step: id, attempt: attempt, output: output)))
        case .failure(RunInterruption.detached):
            return .detached
        case .failure where cancelling.contains(id) || isStopping(id):
            return .recorded(await settleCancelled(id, attempt: attempt))
        case .failure(let error):
            return .recorded(failed(id, attempt: attempt, error, since: started))
        }
    }

    /// The outcome of a member stopped because its group stops: done, if `observe` finds its
    /// change in place (then it is compensated with the group), else cancelled, not tried again.
    private func settleCancelled(_ id: String, attempt: Int) async -> EventBody {
        if let observed = await observation(id, attempt: attempt) { return .stepSucceeded(StepSucceeded(step: id, attempt: attempt, output: observed, observed: true)) }
        return .stepFailed(StepFailed(step: id, attempt: attempt, error: .cancelled(id, because: stopReason), retryAtMillis: nil))
    }

    /// Whether the run's decision already stops this member (a sibling's failure or an abort
    /// folded before the loop told it to): a member that failed because its group stops (a
    /// child run aborted with it) is cancelled, not the group's cause.
    private func isStopping(_ id: String) -> Bool {
        state.nextActions(nowMillis: nowMillis).contains {
            if case .cancelStep(let step, _) = $0 { return step == id }
            return false
        }
    }

    /// Why the group the run is in stops, for the record of the members it cancels.
    private var stopReason: String {
        if let abort = state.abortRequest { return "the run was aborted by \(abort.by)" }
        let members = state.activeGroup.flatMap { g in state.plan.map { p in g.members.map { p.steps[$0].id } } } ?? []
        let cause = members.lazy.compactMap { self.state.steps[$0] }.first { $0.phase == .failed && $0.lastError?.code != StepError.cancelledCode }
        return cause.map { "step \($0.id) of its parallel group failed" } ?? "its parallel group stopped"
    }
}
