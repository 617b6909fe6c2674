import CutoverCore
import CutoverEngine
import CutoverStore
import Foundation
import Testing
import TestSupport

/// A failover shape in miniature: check, change, approve, change, soak, pivot, change, monitor.
let referenceWorkflow = """
    {"name": "sim-failover", "version": 1, "steps": [
      {"id": "health", "type": "sim.check", "with": {"key": "health", "equals": "ok"}},
      {"id": "scale", "type": "sim.set", "with": {"key": "capacity", "value": "${runbook.dr.capacity}"},
       "retry": {"attempts": 3, "backoff": "2s"}},
      {"id": "approve", "type": "approval", "with": {"required": 1, "approvers": ["${runbook.approvers.0}", "${runbook.approvers.1}"]}},
      {"id": "soak", "type": "wait", "with": {"duration": "10m"}},
      {"id": "writes", "type": "sim.pivot", "with": {"key": "writes", "value": "primary"}},
      {"id": "dns", "type": "sim.set", "with": {"key": "dns", "value": "dr"}},
      {"id": "monitor", "type": "sim.check", "with": {"key": "dns", "equals": "dr"}}
    ]}
    """

/// Approves any approval request as alice, the way a person in another process would.
func autoApprove(_ h: Harness) -> @Sendable (Event, RunState) -> Void {
    { event, state in
        guard state.status == .waitingApproval, let step = state.orderedSteps.first(where: { $0.approvalRequest != nil && $0.phase == .running }),
            !step.grants.contains(where: { $0.by == "alice" })
        else { return }
        try? h.signal(state.runID, .approvalGranted(ApprovalGranted(step: step.id, by: "alice")), by: "alice")
    }
}

func engine(_ h: Harness, store: (any EventStore)? = nil, owner: String = "test:1", observer: (@Sendable (Event, RunState) -> Void)? = nil) -> Engine {
    let base = h.engine(store: store, owner: owner)
    return Engine(store: base.store, registry: base.registry, clock: base.clock, ids: base.ids, configuration: base.configuration, observer: observer ?? autoApprove(h))
}

@Suite struct EngineTests {
    @Test func liveRunSucceedsAndChangesTheWorld() async throws {
        let h = try Harness()
        let e = engine(h)
        let run = try e.start(h.request(try h.workflow(referenceWorkflow)))
        let state = try await e.drive(run)
        #expect(state.status == .succeeded)
        #expect(h.world.snapshot == ["dns": "dr", "capacity": "4", "writes": "primary", "health": "ok"])
        #expect(state.steps["approve"]?.output == .object(["approvedBy": .array([.string("alice")])]))
        #expect(try h.log.verifyChain().intact)
        #expect(try h.log.lockHolder(scope: "sim-service") == nil, "a finished run gives its service back")
    }

    @Test func everySideEffectHappensAfterItsStepStartedIsDurable() async throws {
        let h = try Harness()
        let log = h.log
        // At each change, the log's latest event for that step must say the step is under way.
        h.world.checkDuplicates { step, op in
            let last = (try? log.events(of: "run-1", after: 0))?.last { $0.body.stepID == step }
            let type = last?.type ?? "none"
            let ok = op == .execute ? ["StepStarted", "BeforeRecorded"].contains(type) : type == "CompensationStarted"
            return !ok
        }
        let e = engine(h)
        let run = try e.start(h.request(try h.workflow(referenceWorkflow), mode: .drill))
        _ = try await e.drive(run)
        #expect(!h.world.effects.isEmpty)
        #expect(h.world.effects.allSatisfy { !$0.afterRecordedDone })
    }

    @Test func drillRollsEverythingBackInReverseAsPlanned() async throws {
        let h = try Harness()
        let before = h.world.snapshot
        let e = engine(h)
        let run = try e.start(h.request(try h.workflow(referenceWorkflow), mode: .drill, by: "alice"))
        let state = try await e.drive(run)
        #expect(state.status == .rolledBack)
        #expect(state.outcome?.planned == true)
        #expect(h.world.snapshot == before)
        let compensated = try h.events(run).compactMap { e -> String? in
            if case .compensationSucceeded(let p) = e.body { return p.step } else { return nil }
        }
        #expect(compensated == ["dns", "writes", "scale"])
    }

    @Test func failureBeforeThePivotRollsBackWhatChanged() async throws {
        let h = try Harness()
        h.world.failExecute("writes", with: [StepError(code: "refused", message: "replica refused promotion", retryable: false)])
        let e = engine(h)
        let run = try e.start(h.request(try h.workflow(referenceWorkflow)))
        let state = try await e.drive(run)
        // The pivot step failed before changing anything, but it had started: a live run stops for a person.
        #expect(state.status == .needsAttention)
        #expect(state.attention?.reason.contains("after the pivot") == true)
        #expect(state.attention?.decision.contains("cutover rollback \(run)") == true)
        #expect(h.world["capacity"] == "4", "nothing rolled back on its own past the pivot")
    }

    @Test func checkFailingBeforeThePivotCompensatesInReverse() async throws {
        let h = try Harness()
        let wf = try h.workflow("""
            {"name": "w", "steps": [
              {"id": "scale", "type": "sim.set", "with": {"key": "capacity", "value": "4"}},
              {"id": "dns", "type": "sim.set", "with": {"key": "dns", "value": "dr"}},
              {"id": "dr-health", "type": "sim.check", "with": {"key": "health", "equals": "great"}, "retry": {"attempts": 2, "backoff": "1s"}},
              {"id": "writes", "type": "sim.pivot", "with": {"key": "writes", "value": "primary"}}
            ]}
            """)
        let e = engine(h)
        let run = try e.start(h.request(wf))
        let state = try await e.drive(run)
        #expect(state.status == .rolledBack)
        #expect(state.outcome?.planned == false)
        #expect(state.steps["dr-health"]?.attempts == 2)
        #expect(h.world.snapshot == ["dns": "primary", "capacity": "0", "writes": "replica", "health": "ok"])
        #expect(h.world.effects.map(\.step) == ["scale", "dns", "dns", "scale"])
    }

    @Test func failureWithNothingToUndoFails() async throws {
        let h = try Harness()
        let wf = try h.workflow("""
            {"name": "w", "steps": [{"id": "c", "type": "sim.check", "with": {"key": "health", "equals": "bad"}, "retry": {"attempts": 1}}]}
            """)
        let e = engine(h)
        let state = try await e.drive(try e.start(h.request(wf)))
        #expect(state.status == .failed)
        #expect(state.outcome?.reason?.contains("nothing to roll back") == true)
    }

    @Test func retryWaitsTheRecordedBackoff() async throws {
        let h = try Harness()
        h.world.failExecute("scale", with: [StepError(code: "throttled", message: "rate exceeded", retryable: true)])
        let e = engine(h)
        let run = try e.start(h.request(try h.workflow(referenceWorkflow)))
        let state = try await e.drive(run)
        #expect(state.status == .succeeded)
        #expect(state.steps["scale"]?.attempts == 2)
        let events = try h.events(run)
        let failed = events.first { $0.type == "StepFailed" }!
        guard case .stepFailed(let f) = failed.body else { Issue.record("not a failure"); return }
        #expect(f.retryAtMillis == failed.atMillis + 2_000, "2s backoff, no jitter at unit 0.5")
        let restarted = events.first { if case .stepStarted(let s) = $0.body { s.step == "scale" && s.attempt == 2 } else { false } }!
        #expect(restarted.atMillis >= f.retryAtMillis!)
    }

    @Test func nonRetryableCodesAreNotRetried() async throws {
        let h = try Harness()
        h.world.failExecute("scale", with: [StepError(code: "quota", message: "GPU quota exceeded", retryable: true)])
        let wf = try h.workflow("""
            {"name": "w", "steps": [{"id": "scale", "type": "sim.set", "with": {"key": "capacity", "value": "4"}, "retry": {"attempts": 5, "nonRetryable": ["quota"]}}]}
            """)
        let e = engine(h)
        let state = try await e.drive(try e.start(h.request(wf)))
        #expect(state.status == .failed)
        #expect(state.steps["scale"]?.attempts == 1)
    }

    @Test func aStepThatOutlivesItsTimeoutFails() async throws {
        let h = try Harness()
        let wf = try h.workflow("""
            {"name": "w", "steps": [{"id": "slow", "type": "sim.check", "with": {"key": "health", "takes": "10m"}, "timeout": "30s", "retry": {"attempts": 2, "backoff": "1s"}}]}
            """)
        let e = engine(h)
        let start = h.clock.now()
        let state = try await e.drive(try e.start(h.request(wf)))
        #expect(state.status == .failed)
        #expect(state.steps["slow"]?.lastError?.code == "timeout")
        #expect(state.steps["slow"]?.attempts == 2)
        #expect(h.clock.now().timeIntervalSince(start) < 62, "two 30s timeouts and a 1s backoff, not 10 minutes")
    }

    @Test func waitIsDurableAcrossACrash() async throws {
        let h = try Harness()
        let wf = try h.workflow("""
            {"name": "w", "steps": [{"id": "soak", "type": "wait", "with": {"duration": "10m"}}]}
            """)
        let store = CrashingStore(h.log)
        let crashing = Engine(store: store, registry: h.registry, clock: h.clock, ids: h.ids, configuration: h.engine().configuration, observer: { e, _ in
            if e.type == "TimerSet" { store.crash() }
        })
        let run = try crashing.start(h.request(wf))
        let setAt = h.clock.now()
        await #expect(throws: SimulatedCrash.self) { try await crashing.drive(run) }
        h.clock.advance(by: 240)  // the machine is down for 4 minutes
        let resumedAt = h.clock.now()
        let state = try await engine(h, owner: "test:2").drive(run)
        #expect(state.status == .succeeded)
        #expect(h.clock.now() == setAt.addingTimeInterval(600), "the wait ends 10 minutes after it began")
        #expect(h.clock.now().timeIntervalSince(resumedAt) == 360, "only the 6 minutes left were waited")
        #expect(try h.events(run).filter { $0.type == "TimerSet" }.count == 1)
    }

    @Test func liveApprovalNeedsDistinctApproversOtherThanTheStarter() async throws {
        let h = try Harness()
        let wf = try h.workflow("""
            {"name": "w", "steps": [{"id": "ok", "type": "approval", "with": {"required": 2, "approvers": ["oncall", "alice", "bob"]}},
              {"id": "dns", "type": "sim.set", "with": {"key": "dns", "value": "dr"}}]}
            """)
        let detached = h.engine(detach: true)
        let run = try detached.start(h.request(wf, by: "oncall"))
        var state = try await detached.drive(run)
        #expect(state.status == .waitingApproval)
        try h.signal(run, .approvalGranted(ApprovalGranted(step: "ok", by: "oncall")), by: "oncall")
        try h.signal(run, .approvalGranted(ApprovalGranted(step: "ok", by: "alice")), by: "alice")
        try h.signal(run, .approvalGranted(ApprovalGranted(step: "ok", by: "alice")), by: "alice")
        state = try await detached.drive(run)
        #expect(state.status == .waitingApproval, "the starter and a repeated approver do not count")
        #expect(state.countedApprovers("ok") == ["alice"])
        try h.signal(run, .approvalGranted(ApprovalGranted(step: "ok", by: "bob")), by: "bob")
        state = try await detached.drive(run)
        #expect(state.status == .succeeded)
        #expect(state.steps["ok"]?.output == .object(["approvedBy": .array([.string("alice"), .string("bob")])]))
    }

    @Test func pauseDuringAWaitHoldsUntilResumed() async throws {
        let h = try Harness()
        let wf = try h.workflow("""
            {"name": "w", "steps": [{"id": "soak", "type": "wait", "with": {"duration": "10m"}},
              {"id": "dns", "type": "sim.set", "with": {"key": "dns", "value": "dr"}}]}
            """)
        let e = engine(h, observer: { event, state in
            if event.type == "TimerSet" { try? h.signal(state.runID, .pauseRequested(Signal()), by: "alice") }
            if event.type == "RunPaused" {
                h.clock.advance(by: 3_600)
                try? h.signal(state.runID, .resumeRequested(Signal()), by: "bob")
            }
        })
        let run = try e.start(h.request(wf))
        let state = try await e.drive(run)
        #expect(state.status == .succeeded)
        let types = try h.events(run).map(\.type)
        let order = ["TimerSet", "PauseRequested", "RunPaused", "ResumeRequested", "RunResumed", "StepSucceeded", "StepStarted"]
        var index = types.startIndex
        for t in order {
            guard let found = types[index...].firstIndex(of: t) else { Issue.record("\(t) missing or out of order in \(types)"); return }
            index = found
        }
    }

    @Test func abortDuringAWaitCompensatesAndEndsAborted() async throws {
        let h = try Harness()
        let wf = try h.workflow("""
            {"name": "w", "steps": [{"id": "dns", "type": "sim.set", "with": {"key": "dns", "value": "dr"}},
              {"id": "soak", "type": "wait", "with": {"duration": "10m"}},
              {"id": "scale", "type": "sim.set", "with": {"key": "capacity", "value": "4"}}]}
            """)
        let e = engine(h, observer: { event, state in
            if event.type == "TimerSet" { try? h.signal(state.runID, .abortRequested(Signal(reason: "wrong region")), by: "alice") }
        })
        let run = try e.start(h.request(wf))
        let state = try await e.drive(run)
        #expect(state.status == .aborted)
        #expect(state.outcome?.reason == "aborted by alice: wrong region")
        #expect(h.world["dns"] == "primary")
        #expect(h.world["capacity"] == "0", "the step after the abort never ran")
    }

    @Test func anAbortSupersedesAPauseAskedForBeforeIt() async throws {
        let h = try Harness()
        let wf = try h.workflow("""
            {"name": "w", "steps": [{"id": "dns", "type": "sim.set", "with": {"key": "dns", "value": "dr"}},
              {"id": "soak", "type": "wait", "with": {"duration": "10m"}}]}
            """)
        let e = engine(h, observer: { event, state in
            if event.type == "TimerSet" {
                try? h.signal(state.runID, .pauseRequested(Signal()), by: "alice")
                try? h.signal(state.runID, .abortRequested(Signal()), by: "bob")
            }
        })
        let state = try await e.drive(try e.start(h.request(wf)))
        #expect(state.status == .aborted)
        #expect(h.world["dns"] == "primary")
    }

    @Test func abortAfterThePivotStopsForAPersonThenRollbackRestores() async throws {
        let h = try Harness()
        let wf = try h.workflow("""
            {"name": "w", "steps": [{"id": "writes", "type": "sim.pivot", "with": {"key": "writes", "value": "primary"}},
              {"id": "soak", "type": "wait", "with": {"duration": "10m"}}]}
            """)
        let e = engine(h, observer: { event, state in
            if event.type == "TimerSet" { try? h.signal(state.runID, .abortRequested(Signal()), by: "alice") }
        })
        let run = try e.start(h.request(wf))
        var state = try await e.drive(run)
        #expect(state.status == .needsAttention)
        #expect(h.world["writes"] == "primary")
        try h.signal(run, .rollbackRequested(Signal()), by: "alice")
        state = try await engine(h).drive(run)
        #expect(state.status == .rolledBack)
        #expect(h.world["writes"] == "replica")
    }

    @Test func rollbackOfASucceededRunRestoresTheWorld() async throws {
        let h = try Harness()
        let before = h.world.snapshot
        let e = engine(h)
        let run = try e.start(h.request(try h.workflow(referenceWorkflow)))
        _ = try await e.drive(run)
        _ = try h.log.append(
            [EventDraft(at: h.clock.now(), actor: "alice", body: .rollbackRequested(Signal(reason: "latency on DR")))], to: run,
            expectedNext: try h.events(run).count.int64 + 1, options: AppendOptions(now: h.clock.now(), lockScope: "sim-service"))
        let state = try await e.drive(run)
        #expect(state.status == .rolledBack)
        #expect(h.world.snapshot == before)
    }

    @Test func compensationThatKeepsFailingStopsForAPersonAndResumes() async throws {
        let h = try Harness()
        let failing = StepError(code: "api", message: "DNS API down", retryable: true)
        h.world.failCompensate("dns", with: [failing, failing])
        let wf = try h.workflow("""
            {"name": "w", "steps": [{"id": "scale", "type": "sim.set", "with": {"key": "capacity", "value": "4"}},
              {"id": "dns", "type": "sim.set", "with": {"key": "dns", "value": "dr"}, "retry": {"attempts": 2, "backoff": "1s"}},
              {"id": "check", "type": "sim.check", "with": {"key": "health", "equals": "bad"}, "retry": {"attempts": 1}}]}
            """)
        let e = engine(h)
        let run = try e.start(h.request(wf))
        var state = try await e.drive(run)
        #expect(state.status == .needsAttention)
        #expect(state.attention?.reason.contains("compensation of step dns failed after 2 attempts") == true)
        #expect(h.world["capacity"] == "4", "scale is not compensated past a failed compensation")
        try h.signal(run, .resumeRequested(Signal()), by: "alice")
        state = try await e.drive(run)
        #expect(state.status == .rolledBack)
        #expect(h.world.snapshot == ["dns": "primary", "capacity": "0", "writes": "replica", "health": "ok"])
    }

    @Test func oneActiveRunPerService() async throws {
        let h = try Harness()
        let e = h.engine(detach: true)
        let wf = try h.workflow(referenceWorkflow)
        let first = try e.start(h.request(wf))
        #expect(throws: StoreError.scopeLocked(scope: "sim-service", heldBy: first)) { try e.start(h.request(wf)) }
        let e2 = engine(h)
        _ = try await e2.drive(first)
        #expect(throws: Never.self) { try e.start(h.request(wf)) }
    }

    @Test func aLiveLeaseKeepsASecondDriverOut() async throws {
        let h = try Harness()
        let e = h.engine()
        // The starter holds the run from its first event.
        let run = try e.start(h.request(try h.workflow(referenceWorkflow)))
        let blocked = h.engine(owner: "test:2", gone: { _ in false })
        await #expect(throws: StoreError.leaseHeld(run: run, owner: "test:1")) { try await blocked.drive(run) }
        let takeover = engine(h, owner: "test:3")
        h.clock.advance(by: 31)
        #expect(try await takeover.drive(run).status == .succeeded, "an expired lease is taken over")
    }
}

extension Int {
    var int64: Int64 { Int64(self) }
}
