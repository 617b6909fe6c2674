import CutoverCore
import Testing

/// `nextAction` is the engine's whole policy; each case here is one rule of it.
@Suite struct DecideTests {
    let now: Int64 = 2_000_000

    @Test func startsStepsInOrderAndSettlesOneLeftInFlight() throws {
        var b = RunBuilder()
        #expect(try b.state().nextAction(nowMillis: now) == .startStep("health", attempt: 1))
        b.pass("health")
        #expect(try b.state().nextAction(nowMillis: now) == .startStep("scale", attempt: 1))
        b.add(.stepStarted(StepAttempt(step: "scale", attempt: 1)))
        #expect(try b.state().nextAction(nowMillis: now) == .settleStep("scale", attempt: 1))
    }

    @Test func theShortcutAfterASuccessAgreesWithTheFullDecision() throws {
        // Every prefix of a run: after each step's success, the O(1) answer is either nil or
        // exactly what nextAction says.
        var b = RunBuilder()
        for (i, step) in ["health", "scale", "writes", "dns"].enumerated() {
            b.add(.stepStarted(StepAttempt(step: step, attempt: 1)))
            let before = try b.state()
            b.add(.stepSucceeded(StepSucceeded(step: step, attempt: 1, output: .null)))
            let after = try b.state()
            let quick = before.stepsStartingAfterSuccess(of: [step]).first
            if case .startStep(let id, let attempt) = after.nextAction(nowMillis: now) {
                #expect(quick?.id == id && quick?.attempt == attempt, "after \(step)")
            } else {
                #expect(quick == nil, "after \(step), the last")
            }
            #expect((quick == nil) == (i == 3))
        }
        // A pause asked for meanwhile: no shortcut.
        var p = RunBuilder()
        p.add(.stepStarted(StepAttempt(step: "health", attempt: 1)))
        p.add(.pauseRequested(Signal()), by: "alice")
        #expect(try p.state().stepsStartingAfterSuccess(of: ["health"]).isEmpty)
    }

    @Test func retriesWaitForTheirTimeThenStartTheNextAttempt() throws {
        var b = RunBuilder()
        b.fail("health", retryable: true, retryAt: now + 500)
        let s = try b.state()
        #expect(s.nextAction(nowMillis: now) == .waitUntil(millis: now + 500))
        #expect(s.nextAction(nowMillis: now + 500) == .startStep("health", attempt: 2))
    }

    @Test func aLiveRunThatPassesEveryStepSucceeds() throws {
        var b = RunBuilder()
        for s in ["health", "scale", "writes", "dns"] { b.pass(s) }
        #expect(try b.state().nextAction(nowMillis: now) == .succeed)
        b.add(.runSucceeded(RunOutcome()))
        #expect(try b.state().nextAction(nowMillis: now) == .finished)
    }

    @Test func aDrillRollsBackOnPurposeAndCompensatesInReverseSkippingChecks() throws {
        var b = RunBuilder(mode: .drill)
        for s in ["health", "scale", "writes", "dns"] { b.pass(s) }
        guard case .beginRollback(let r) = try b.state().nextAction(nowMillis: now) else {
            Issue.record("a finished drill must roll back")
            return
        }
        #expect(r.planned)
        b.add(.rollbackStarted(r))
        var order: [String] = []
        while case .startCompensation(let id, let attempt) = try b.state().nextAction(nowMillis: now) {
            #expect(attempt == 1)
            order.append(id)
            b.add(.compensationStarted(StepAttempt(step: id, attempt: attempt)))
            b.add(.compensationSucceeded(StepAttempt(step: id, attempt: attempt)))
        }
        #expect(order == ["dns", "writes", "scale"], "reverse order of completion; the health check changed nothing")
        #expect(try b.state().nextAction(nowMillis: now) == .finishRollback)
    }

    @Test func failureBeforeThePivotRollsBackWhatChanged() throws {
        var b = RunBuilder(steps: [RunBuilder.checkStep, RunBuilder.scaleStep, RunBuilder.dnsStep, RunBuilder.writesStep])
        b.pass("health")
        b.pass("scale")
        b.fail("dns")
        let s = try b.state()
        guard case .beginRollback(let r) = s.nextAction(nowMillis: now) else {
            Issue.record("expected a rollback, got \(s.nextAction(nowMillis: now))")
            return
        }
        #expect(!r.planned)
        #expect(r.reason.contains("step dns failed after 1 attempt: it broke"))
        #expect(s.pendingCompensations == ["scale"], "the failed step cleans up after itself; only completed ones are compensated")
    }

    @Test func aPivotThatFailedMayHaveHalfHappenedSoAPersonDecides() throws {
        var b = RunBuilder()
        b.pass("health")
        b.pass("scale")
        b.fail("writes")
        let s = try b.state()
        #expect(s.pivotStarted)
        guard case .needsAttention(let n) = s.nextAction(nowMillis: now) else {
            Issue.record("expected needs-attention, got \(s.nextAction(nowMillis: now))")
            return
        }
        #expect(n.reason.contains("step writes failed"))
    }

    @Test func failureWithNothingChangedFailsWithoutRollingBack() throws {
        var b = RunBuilder()
        b.fail("health")
        guard case .fail(let reason) = try b.state().nextAction(nowMillis: now) else {
            Issue.record("expected fail")
            return
        }
        #expect(reason.contains("nothing to roll back"))
    }

    @Test func failureAfterThePivotNeedsAPersonInALiveRun() throws {
        var b = RunBuilder()
        for s in ["health", "scale", "writes"] { b.pass(s) }
        b.fail("dns")
        guard case .needsAttention(let n) = try b.state().nextAction(nowMillis: now) else {
            Issue.record("expected needs-attention")
            return
        }
        #expect(n.reason.contains("after the pivot (writes)"))
        #expect(n.decision.contains("cutover rollback run-1"))
        #expect(n.decision.contains("cutover resume run-1"))
    }

    @Test func failureAfterThePivotInADrillRollsBack() throws {
        var b = RunBuilder(mode: .drill)
        for s in ["health", "scale", "writes"] { b.pass(s) }
        b.fail("dns")
        guard case .beginRollback(let r) = try b.state().nextAction(nowMillis: now) else {
            Issue.record("a drill rolls back whatever happens")
            return
        }
        #expect(!r.planned, "a failed drill's rollback was not the plan")
    }

    @Test func abortBeforeThePivotRollsBackAfterItAsksAPerson() throws {
        var before = RunBuilder()
        before.pass("health")
        before.pass("scale")
        before.add(.abortRequested(Signal(reason: "wrong region")), by: "alice")
        guard case .beginRollback(let r) = try before.state().nextAction(nowMillis: now) else {
            Issue.record("expected a rollback")
            return
        }
        #expect(r.aborted)
        #expect(r.reason == "aborted by alice: wrong region")

        var after = RunBuilder()
        for s in ["health", "scale", "writes"] { after.pass(s) }
        after.add(.abortRequested(Signal()), by: "alice")
        guard case .needsAttention(let n) = try after.state().nextAction(nowMillis: now) else {
            Issue.record("expected needs-attention")
            return
        }
        #expect(n.reason.contains("abort requested by alice after the pivot"))
    }

    @Test func pauseWaitsForASignalAndResumeGoesOn() throws {
        var b = RunBuilder()
        b.add(.pauseRequested(Signal()), by: "alice")
        #expect(try b.state().nextAction(nowMillis: now) == .pause)
        b.add(.runPaused(Signal()))
        #expect(try b.state().nextAction(nowMillis: now) == .waitForSignal)
        b.add(.resumeRequested(Signal()), by: "alice")
        #expect(try b.state().nextAction(nowMillis: now) == .resume)
        b.add(.runResumed(Signal()))
        #expect(try b.state().nextAction(nowMillis: now) == .startStep("health", attempt: 1))
    }

    @Test func aRollbackRequestOnASucceededRunCompensatesIt() throws {
        var b = RunBuilder()
        for s in ["health", "scale", "writes", "dns"] { b.pass(s) }
        b.add(.runSucceeded(RunOutcome()))
        b.add(.rollbackRequested(Signal(reason: "DR too slow")), by: "alice")
        guard case .beginRollback(let r) = try b.state().nextAction(nowMillis: now) else {
            Issue.record("expected a rollback")
            return
        }
        #expect(r.reason == "rollback requested by alice: DR too slow")
        #expect(!r.planned)
    }

    @Test func aCompensationThatKeepsFailingStopsTheRollbackForAPerson() throws {
        var b = RunBuilder()
        b.pass("health")
        b.pass("scale")
        b.fail("writes")
        b.add(.rollbackStarted(RollbackStarted(planned: false, reason: "x")))
        b.add(.compensationStarted(StepAttempt(step: "scale", attempt: 1)))
        #expect(try b.state().nextAction(nowMillis: now) == .settleCompensation("scale", attempt: 1))
        b.add(.compensationFailed(StepFailed(step: "scale", attempt: 1, error: StepError(code: "x", message: "quota", retryable: false), retryAtMillis: nil)))
        guard case .needsAttention(let n) = try b.state().nextAction(nowMillis: now) else {
            Issue.record("a failed compensation is never skipped")
            return
        }
        #expect(n.reason.contains("compensation of step scale failed after 1 attempt: quota"))
        b.add(.runNeedsAttention(n))
        b.add(.resumeRequested(Signal()), by: "alice")
        b.add(.runResumed(Signal()))
        let s = try b.state()
        #expect(s.status == .compensating)
        #expect(s.nextAction(nowMillis: now) == .startCompensation("scale", attempt: 2))
    }
}
