import CutoverCore
import Testing

@Suite struct FoldTests {
    @Test func aRunMustStartWithRunStarted() {
        let e = Event(seq: 1, runID: "run-1", runSeq: 1, atMillis: 0, actor: "a", body: .runPaused(Signal()), bodyJSON: "{}", hash: [])
        #expect(throws: FoldError.self) { try RunState.fold("run-1", [e]) }
    }

    @Test func gapsOtherRunsAndUnknownStepsAreRefused() throws {
        var b = RunBuilder()
        b.pass("health")
        var events = b.events
        // A gap in the run's sequence.
        let gap = Event(seq: 9, runID: "run-1", runSeq: 9, atMillis: 0, actor: "a", body: .stepNote(StepNote(step: "health", message: "x")), bodyJSON: "{}", hash: [])
        #expect { try RunState.fold("run-1", events + [gap]) } throws: { ($0 as? FoldError)?.reason.contains("does not follow 3") == true }
        // Another run's event.
        let foreign = Event(seq: 4, runID: "run-2", runSeq: 4, atMillis: 0, actor: "a", body: .runPaused(Signal()), bodyJSON: "{}", hash: [])
        #expect { try RunState.fold("run-1", events + [foreign]) } throws: { ($0 as? FoldError)?.reason.contains("belongs to run run-2") == true }
        // A step the plan does not have.
        let unknown = Event(seq: 4, runID: "run-1", runSeq: 4, atMillis: 0, actor: "a", body: .stepStarted(StepAttempt(step: "ghost", attempt: 1)), bodyJSON: "{}", hash: [])
        #expect { try RunState.fold("run-1", events + [unknown]) } throws: { ($0 as? FoldError)?.description.contains("\"ghost\"") == true }
        // A second RunStarted.
        events.append(Event(seq: 4, runID: "run-1", runSeq: 4, atMillis: 0, actor: "a", body: b.events[0].body, bodyJSON: "{}", hash: []))
        #expect(throws: FoldError.self) { try RunState.fold("run-1", events) }
    }

    @Test func stepsMoveThroughTheirPhases() throws {
        var b = RunBuilder()
        b.pass("health")
        b.fail("scale", retryable: true, retryAt: 5_000_000)
        var s = try b.state()
        #expect(s.steps["health"]?.phase == .succeeded)
        #expect(s.steps["scale"]?.phase == .retrying)
        #expect(s.steps["scale"]?.retryAtMillis == 5_000_000)
        #expect(s.steps["scale"]?.lastError?.code == "boom")
        b.pass("scale", attempt: 2)
        s = try b.state()
        #expect(s.steps["scale"]?.phase == .succeeded)
        #expect(s.steps["scale"]?.attempts == 2)
        #expect(s.steps["scale"]?.lastError == nil)
        #expect(s.completionOrder == ["health", "scale"])
        #expect(s.pivotStarted == false)
        b.add(.stepStarted(StepAttempt(step: "writes", attempt: 1)))
        s = try b.state()
        #expect(s.pivotStarted, "the pivot counts from its start: writes may already be on")
        #expect(s.lastRunSeq == Int64(b.events.count))
    }

    @Test func interruptionsAreCountedApartFromFailures() throws {
        var b = RunBuilder()
        b.add(.stepStarted(StepAttempt(step: "health", attempt: 1)))
        b.add(.stepFailed(StepFailed(step: "health", attempt: 1, error: .interrupted, retryAtMillis: 0)))
        let s = try b.state()
        #expect(s.steps["health"]?.interruptions == 1)
        #expect(s.steps["health"]?.phase == .retrying)
    }

    @Test func approvalsCountDistinctAllowedPeopleOnly() throws {
        var b = RunBuilder()
        b.add(.stepStarted(StepAttempt(step: "health", attempt: 1)))
        b.add(.approvalRequested(ApprovalRequested(step: "health", required: 2, approvers: ["alice", "bob", "oncall"], excluded: ["oncall"])))
        #expect(try b.state().status == .waitingApproval)
        for who in ["alice", "alice", "oncall", "mallory", "bob"] {
            b.add(.approvalGranted(ApprovalGranted(step: "health", by: who)), by: who)
        }
        let s = try b.state()
        #expect(s.countedApprovers("health") == ["alice", "bob"])
        b.add(.stepSucceeded(StepSucceeded(step: "health", attempt: 1, output: .null)))
        #expect(try b.state().status == .running)
    }

    @Test func pauseAndResumeRestoreTheStatusBefore() throws {
        var b = RunBuilder()
        b.add(.stepStarted(StepAttempt(step: "health", attempt: 1)))
        b.add(.approvalRequested(ApprovalRequested(step: "health", required: 1, approvers: [], excluded: [])))
        b.add(.pauseRequested(Signal()), by: "alice")
        #expect(try b.state().pauseRequest == "alice")
        b.add(.runPaused(Signal()))
        var s = try b.state()
        #expect(s.status == .paused)
        #expect(s.pauseRequest == nil)
        b.add(.resumeRequested(Signal()), by: "bob")
        b.add(.runResumed(Signal()))
        s = try b.state()
        #expect(s.status == .waitingApproval)
        #expect(s.resumeRequest == nil)
    }

    @Test func resumingFromNeedsAttentionMakesFailedStepsPendingAgain() throws {
        var b = RunBuilder()
        b.pass("health")
        b.pass("scale")
        b.pass("writes")
        b.fail("dns")
        b.add(.runNeedsAttention(NeedsAttention(reason: "r", decision: "d")))
        var s = try b.state()
        #expect(s.status == .needsAttention)
        #expect(s.attention?.decision == "d")
        b.add(.resumeRequested(Signal()), by: "alice")
        b.add(.runResumed(Signal()))
        s = try b.state()
        #expect(s.status == .running)
        #expect(s.steps["dns"]?.phase == .pending)
        #expect(s.attention == nil)
        #expect(s.steps["dns"]?.attempts == 1, "the attempt count goes on, so a retry is attempt 2")
    }

    @Test func rollbackTracksCompensationAndClearsSignals() throws {
        var b = RunBuilder()
        b.pass("health")
        b.pass("scale")
        b.add(.pauseRequested(Signal()), by: "alice")
        b.add(.abortRequested(Signal(reason: "wrong region")), by: "bob")
        b.add(.rollbackStarted(RollbackStarted(planned: false, reason: "aborted", aborted: true)))
        var s = try b.state()
        #expect(s.status == .compensating)
        #expect(s.pauseRequest == nil && s.abortRequest == nil)
        b.add(.compensationStarted(StepAttempt(step: "scale", attempt: 1)))
        b.add(.compensationFailed(StepFailed(step: "scale", attempt: 1, error: StepError(code: "x", message: "no", retryable: true), retryAtMillis: 9)))
        s = try b.state()
        #expect(s.steps["scale"]?.compensation == .retrying)
        b.add(.compensationStarted(StepAttempt(step: "scale", attempt: 2)))
        b.add(.compensationSucceeded(StepAttempt(step: "scale", attempt: 2)))
        b.add(.runAborted(RunOutcome(reason: "aborted")))
        s = try b.state()
        #expect(s.steps["scale"]?.compensation == .succeeded)
        #expect(s.steps["scale"]?.compensationAttempts == 2)
        #expect(s.status == .aborted)
        #expect(s.outcome?.reason == "aborted")
    }

    @Test func compensationOutsideARollbackIsRefused() throws {
        var b = RunBuilder()
        b.pass("scale")
        b.add(.compensationStarted(StepAttempt(step: "scale", attempt: 1)))
        #expect(throws: FoldError.self) { try b.state() }
    }

    @Test func beforeStateIsKeptFromTheFirstRecording() throws {
        var b = RunBuilder()
        b.add(.stepStarted(StepAttempt(step: "scale", attempt: 1)))
        b.add(.beforeRecorded(BeforeRecorded(step: "scale", attempt: 1, state: .int(2))))
        b.add(.stepFailed(StepFailed(step: "scale", attempt: 1, error: .interrupted, retryAtMillis: 0)))
        b.add(.stepStarted(StepAttempt(step: "scale", attempt: 2)))
        b.add(.beforeRecorded(BeforeRecorded(step: "scale", attempt: 2, state: .int(8))))
        #expect(try b.state().steps["scale"]?.before == .int(2), "a retry sees its own change, not what was there before the run")
    }
}
