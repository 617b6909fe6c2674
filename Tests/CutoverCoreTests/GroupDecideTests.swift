import CutoverCore
import Testing

/// The decision inside a parallel group: several ready actions at once, each rule here one
/// of them. Pure, like the rest of the decision.
@Suite struct GroupDecideTests {
    let now: Int64 = 2_000_000

    @Test func aGroupStartsAsManyMembersAsItsLimitAllowsAndRefillsAsTheyFinish() throws {
        var b = RunBuilder.grouped(["a", "b", "c"], limit: 2)
        b.pass("health")
        #expect(try b.state().nextActions(nowMillis: now) == [.startStep("a", attempt: 1), .startStep("b", attempt: 1)])
        b.add(.stepStarted(StepAttempt(step: "a", attempt: 1)))
        b.add(.stepStarted(StepAttempt(step: "b", attempt: 1)))
        // Both in flight: nothing more may start.
        #expect(try b.state().nextActions(nowMillis: now) == [.settleStep("a", attempt: 1), .settleStep("b", attempt: 1)])
        // b finishes first: c takes its place while a still runs.
        b.add(.stepSucceeded(StepSucceeded(step: "b", attempt: 1, output: .null)))
        #expect(try b.state().nextActions(nowMillis: now) == [.settleStep("a", attempt: 1), .startStep("c", attempt: 1)])
        // The shortcut that shares a commit agrees.
        let before = try b.state()
        #expect(before.stepsStartingAfterSuccess(of: ["a"]).map(\.id) == ["c"])
        b.add(.stepStarted(StepAttempt(step: "c", attempt: 1)))
        b.add(.stepSucceeded(StepSucceeded(step: "c", attempt: 1, output: .null)))
        b.add(.stepSucceeded(StepSucceeded(step: "a", attempt: 1, output: .null)))
        // The group is over: the next step runs alone.
        let after = try b.state()
        #expect(after.activeGroup == nil)
        #expect(after.nextActions(nowMillis: now) == [.startStep("dns", attempt: 1)])
        #expect(after.completionOrder == ["health", "b", "c", "a"])
    }

    @Test func theStepBeforeAGroupChainsTheGroupsFirstStarts() throws {
        var b = RunBuilder.grouped(["a", "b", "c"], limit: 2)
        b.add(.stepStarted(StepAttempt(step: "health", attempt: 1)))
        let s = try b.state()
        #expect(s.stepsStartingAfterSuccess(of: ["health"]).map(\.id) == ["a", "b"])
        // And the group's last success chains the step after it.
        var g = RunBuilder.grouped(["a", "b"], limit: 2)
        g.pass("health")
        g.pass("a")
        g.add(.stepStarted(StepAttempt(step: "b", attempt: 1)))
        #expect(try g.state().stepsStartingAfterSuccess(of: ["b"]).map(\.id) == ["dns"])
    }

    @Test func aFailedMemberCancelsTheOthersInFlightThenTheGroupRollsBack() throws {
        var b = RunBuilder.grouped(["a", "b", "c"], limit: 3)
        b.pass("health")
        b.pass("a")
        b.add(.stepStarted(StepAttempt(step: "b", attempt: 1)))
        b.fail("c")
        // c failed for good: b, still in flight, is told to stop; nothing new starts.
        #expect(try b.state().nextActions(nowMillis: now) == [.cancelStep("b", attempt: 1)])
        #expect(try b.state().stepsStartingAfterSuccess(of: ["b"]).isEmpty)
        b.add(.stepFailed(StepFailed(step: "b", attempt: 1, error: .cancelled("b", because: "c failed"), retryAtMillis: nil)))
        // Nothing in flight: roll back what the group completed (a), naming c, not b, as the cause.
        guard case .beginRollback(let r) = try b.state().nextAction(nowMillis: now) else {
            Issue.record("expected a rollback, got \(try b.state().nextAction(nowMillis: now))")
            return
        }
        #expect(r.reason.contains("step c failed"))
        #expect(try b.state().pendingCompensations == ["a"])
    }

    @Test func aGroupWhosePivotCompletedStopsForAPersonWhenASiblingFails() throws {
        var b = RunBuilder.grouped(["a", "promote", "c"], limit: 3, pivot: "promote")
        b.pass("health")
        b.pass("promote")
        b.pass("a")
        b.fail("c")
        guard case .needsAttention(let n) = try b.state().nextAction(nowMillis: now) else {
            Issue.record("expected needs-attention, got \(try b.state().nextAction(nowMillis: now))")
            return
        }
        #expect(n.reason.contains("after the pivot (promote)"))
        // In a drill the same group rolls back: the pivot rule is for live runs.
        var d = RunBuilder.grouped(["a", "promote", "c"], limit: 3, pivot: "promote", mode: .drill)
        d.pass("health")
        d.pass("promote")
        d.fail("c")
        guard case .beginRollback = try d.state().nextAction(nowMillis: now) else {
            Issue.record("a drill's group rolls back through its pivot")
            return
        }
    }

    @Test func anAbortCancelsMembersInFlightAndThenAborts() throws {
        var b = RunBuilder.grouped(["a", "b"], limit: 2)
        b.pass("health")
        b.add(.stepStarted(StepAttempt(step: "a", attempt: 1)))
        b.add(.stepStarted(StepAttempt(step: "b", attempt: 1)))
        b.add(.abortRequested(Signal(reason: "wrong region")), by: "bob")
        #expect(try b.state().nextActions(nowMillis: now) == [.cancelStep("a", attempt: 1), .cancelStep("b", attempt: 1)])
        b.add(.stepSucceeded(StepSucceeded(step: "a", attempt: 1, output: .null, observed: true)))
        b.add(.stepFailed(StepFailed(step: "b", attempt: 1, error: .cancelled("b", because: "aborted"), retryAtMillis: nil)))
        guard case .beginRollback(let r) = try b.state().nextAction(nowMillis: now) else {
            Issue.record("expected the abort's rollback")
            return
        }
        #expect(r.aborted == true)
        #expect(try b.state().pendingCompensations == ["a"])
    }

    @Test func aRetryingMemberWaitsWhileTheOthersRun() throws {
        var b = RunBuilder.grouped(["a", "b"], limit: 2)
        b.pass("health")
        b.add(.stepStarted(StepAttempt(step: "a", attempt: 1)))
        b.fail("b", retryable: true, retryAt: now + 500)
        let s = try b.state()
        #expect(s.nextActions(nowMillis: now) == [.settleStep("a", attempt: 1), .waitUntil(millis: now + 500)])
        #expect(s.nextActions(nowMillis: now + 500) == [.settleStep("a", attempt: 1), .startStep("b", attempt: 2)])
    }

    @Test func twoMembersWaitForApprovalsEachOnItsOwn() throws {
        var b = RunBuilder.grouped(["a", "b"], limit: 2)
        b.pass("health")
        b.add(.stepStarted(StepAttempt(step: "a", attempt: 1)))
        b.add(.stepStarted(StepAttempt(step: "b", attempt: 1)))
        b.add(.approvalRequested(ApprovalRequested(step: "a", required: 1, approvers: [], excluded: [])))
        b.add(.approvalRequested(ApprovalRequested(step: "b", required: 1, approvers: [], excluded: [])))
        #expect(try b.state().status == .waitingApproval)
        // a is approved and done; b still waits, so the run does too.
        b.add(.stepSucceeded(StepSucceeded(step: "a", attempt: 1, output: .null)))
        #expect(try b.state().status == .waitingApproval)
        #expect(try b.state().isAwaitingApproval("b"))
        b.add(.stepSucceeded(StepSucceeded(step: "b", attempt: 1, output: .null)))
        #expect(try b.state().status == .running)
    }

    @Test func aResumeAfterTheOnlyApprovalFinishedDuringAPauseGoesOnRunning() throws {
        var b = RunBuilder.grouped(["a", "b"], limit: 2)
        b.pass("health")
        b.add(.stepStarted(StepAttempt(step: "a", attempt: 1)))
        b.add(.stepStarted(StepAttempt(step: "b", attempt: 1)))
        b.add(.approvalRequested(ApprovalRequested(step: "a", required: 1, approvers: [], excluded: [])))
        b.add(.pauseRequested(Signal()), by: "alice")
        b.add(.runPaused(Signal()))
        b.add(.stepFailed(StepFailed(step: "a", attempt: 1, error: .cancelled("a", because: "test"), retryAtMillis: nil)))
        b.add(.resumeRequested(Signal()), by: "alice")
        b.add(.runResumed(Signal()))
        #expect(try b.state().status == .running)
    }

    @Test func aPlanWhoseGroupIsNotSideBySideDoesNotFold() throws {
        let member = { (id: String) in
            PlannedStep(id: id, type: "sim.set", kind: .compensable, pivot: false, retry: .default, timeoutMillis: nil, group: "g")
        }
        let b = RunBuilder(steps: [member("a"), RunBuilder.checkStep, member("b")], groups: [PlannedGroup(id: "g", maxConcurrency: 2)])
        #expect(throws: FoldError.self) { try b.state() }
        let stray = RunBuilder(steps: [member("a")], groups: nil)
        #expect(throws: FoldError.self) { try stray.state() }
    }
}
