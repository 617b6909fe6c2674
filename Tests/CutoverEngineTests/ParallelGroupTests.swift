import CutoverCore
import CutoverEngine
import CutoverStore
import Foundation
import Testing
import TestSupport

/// A check, then four changes in a parallel group of at most `limit` at a time (each held
/// for `hold` of real time), then a change after the group that reads a member's output.
func groupWorkflow(limit: Int, hold: String = "1s", extra: String = "") -> String {
    """
    {"name": "sim-parallel", "steps": [
      {"id": "health", "type": "sim.check", "with": {"key": "health", "equals": "ok"}},
      {"id": "scale-all", "maxConcurrency": \(limit), "parallel": [
        {"id": "gpu-a", "type": "sim.set", "with": {"key": "a", "value": "4", "hold": "\(hold)"}},
        {"id": "gpu-b", "type": "sim.set", "with": {"key": "b", "value": "4", "hold": "\(hold)"}},
        {"id": "gpu-c", "type": "sim.set", "with": {"key": "c", "value": "4", "hold": "\(hold)"}},
        {"id": "gpu-d", "type": "sim.set", "with": {"key": "d", "value": "4", "hold": "\(hold)"}}\(extra)
      ]},
      {"id": "dns", "type": "sim.set", "with": {"key": "dns", "value": "dr-after-${steps.gpu-a.output.key}"}}
    ]}
    """
}

let parallelWorld = ["dns": "primary", "health": "ok", "a": "0", "b": "0", "c": "0", "d": "0", "writes": "replica"]

@Suite struct ParallelGroupTests {
    @Test func membersRunAtTheSameTimeWithinTheGroupsLimit() async throws {
        let h = try Harness(world: parallelWorld)
        // Each member is held until two are held at once: only members that really overlap end.
        h.world.releaseHolds(whenAtOnce: 2)
        let e = engine(h)
        let run = try e.start(h.request(try h.workflow(groupWorkflow(limit: 2, hold: "10m"))))
        let state = try await e.drive(run)
        #expect(state.status == .succeeded)
        #expect(h.world.mostAtOnce == 2, "at most two members at once, and two did overlap")
        #expect(h.world.snapshot == ["dns": "dr-after-a", "health": "ok", "a": "4", "b": "4", "c": "4", "d": "4", "writes": "replica"])
        // The step after the group started only once every member had succeeded.
        let types = try h.events(run).map { "\($0.type):\($0.body.stepID ?? "")" }
        let dnsStart = try #require(types.firstIndex(of: "StepStarted:dns"))
        for m in ["gpu-a", "gpu-b", "gpu-c", "gpu-d"] {
            #expect(try #require(types.firstIndex(of: "StepSucceeded:\(m)")) < dnsStart)
        }
        #expect(try h.log.verifyChain().intact)
    }

    @Test func oneBranchFailsAfterAnotherSucceededTheDoneOneIsUndoneTheRunningOneCancelled() async throws {
        let h = try Harness(world: parallelWorld)
        // Two at a time: gpu-a is quick and succeeds, and gpu-c takes its slot; gpu-b is held
        // long and is in flight when gpu-c fails for good; gpu-d never gets a slot.
        let wf = """
            {"name": "sim-parallel", "steps": [
              {"id": "health", "type": "sim.check", "with": {"key": "health", "equals": "ok"}},
              {"id": "scale-all", "maxConcurrency": 2, "parallel": [
                {"id": "gpu-a", "type": "sim.set", "with": {"key": "a", "value": "4"}},
                {"id": "gpu-b", "type": "sim.set", "with": {"key": "b", "value": "4", "hold": "10m"}},
                {"id": "gpu-c", "type": "sim.set", "with": {"key": "c", "value": "4", "hold": "50ms"}},
                {"id": "gpu-d", "type": "sim.set", "with": {"key": "d", "value": "4"}}
              ]},
              {"id": "dns", "type": "sim.set", "with": {"key": "dns", "value": "dr"}}
            ]}
            """
        h.world.failExecute("gpu-c", with: [StepError(code: "quota", message: "no GPUs left in the zone", retryable: false)])
        // gpu-b is let go once gpu-c's failure is in the log, however long that took.
        let e = engine(h, observer: { event, _ in
            if case .stepFailed(let f) = event.body, f.step == "gpu-c" { h.world.releaseHolds() }
        })
        let run = try e.start(h.request(try h.workflow(wf)))
        let state = try await e.drive(run)
        #expect(state.status == .rolledBack)
        #expect(state.rollback?.reason.contains("step gpu-c failed") == true)
        // Exactly what was there before: a undone, b never changed, d never started.
        #expect(h.world.snapshot == parallelWorld)
        #expect(state.steps["gpu-a"]?.compensation == .succeeded)
        #expect(state.steps["gpu-b"]?.phase == .failed)
        #expect(state.steps["gpu-b"]?.lastError?.code == StepError.cancelledCode)
        #expect(state.steps["gpu-d"]?.attempts == 0)
        #expect(!h.world.effects.contains { $0.step == "gpu-b" || $0.step == "gpu-d" })
        #expect(state.steps["dns"]?.attempts == 0)
    }

    @Test func aGroupWhosePivotCompletedStopsForAPersonWhenASiblingFails() async throws {
        let h = try Harness(world: parallelWorld)
        let wf = """
            {"name": "sim-parallel", "steps": [
              {"id": "both", "parallel": [
                {"id": "promote", "type": "sim.pivot", "with": {"key": "writes", "value": "dr"}},
                {"id": "gpu-a", "type": "sim.set", "with": {"key": "a", "value": "4"}},
                {"id": "gpu-b", "type": "sim.set", "with": {"key": "b", "value": "4", "hold": "100ms"}}
              ]}
            ]}
            """
        h.world.failExecute("gpu-b", with: [StepError(code: "quota", message: "no GPUs left", retryable: false)])
        let e = engine(h)
        let run = try e.start(h.request(try h.workflow(wf)))
        let state = try await e.drive(run)
        #expect(state.status == .needsAttention)
        #expect(state.attention?.reason.contains("after the pivot (promote)") == true)
        // Nothing compensated: the pivot and its sibling stay as they are for a person.
        #expect(h.world["writes"] == "dr")
        #expect(h.world["a"] == "4")
        #expect(!h.world.effects.contains { $0.operation == .compensate })
    }

    @Test func aStepThatReadsASiblingsOutputIsRefusedByName() throws {
        let h = try Harness(world: parallelWorld)
        let wf = groupWorkflow(limit: 2, extra: #", {"id": "gpu-e", "type": "sim.set", "with": {"key": "e", "value": "${steps.gpu-a.output.key}"}}"#)
        let failure = try #require(throws: ValidationFailure.self) { try h.workflow(wf) }
        let issue = try #require(failure.issues.first)
        #expect(issue.path == "steps[1].parallel[4].with.value")
        #expect(issue.message.contains("does not run before this one"))
    }

    @Test func aMalformedGroupGetsEveryProblemNamed() throws {
        let h = try Harness(world: parallelWorld)
        let wf = """
            {"name": "bad", "steps": [
              {"id": "health", "type": "sim.check", "with": {"key": "health"}},
              {"id": "health", "parallel": [], "maxConcurrency": 0},
              {"id": "g2", "parallel": [{"id": "inner", "parallel": []}, {"id": "x", "type": "sim.nope"}], "maxConcurency": 2}
            ]}
            """
        let failure = try #require(throws: ValidationFailure.self) { try h.workflow(wf) }
        let found = failure.issues.map { "\($0.path): \($0.message)" }
        #expect(found.contains { $0.hasPrefix("steps[1].id: duplicate parallel group id \"health\"") })
        #expect(found.contains { $0.hasPrefix("steps[1].parallel: expected a non-empty array") })
        #expect(found.contains { $0.hasPrefix("steps[2].maxConcurency: unknown field") && $0.contains("maxConcurrency") })
        #expect(found.contains { $0.hasPrefix("steps[2].parallel[0].parallel: a parallel group cannot hold another group") })
        #expect(found.contains { $0.hasPrefix("steps[2].parallel[1].type: unknown step type") })
    }

    @Test func aResumeAfterACrashSettlesEveryMemberLeftInFlight() async throws {
        let h = try Harness(world: parallelWorld)
        let store = CrashingStore(h.log)
        // The machine dies right after two members' changes are made, before their outcomes.
        h.world.crash(afterEffect: 3) { store.crash() }
        let first = engine(h, store: store)
        let run = try first.start(h.request(try h.workflow(groupWorkflow(limit: 4, hold: "50ms"))))
        await #expect(throws: SimulatedCrash.self) { _ = try await first.drive(run) }
        let state = try await engine(h, owner: "test:2").drive(run)
        #expect(state.status == .succeeded)
        #expect(h.world["a"] == "4" && h.world["d"] == "4")
        let observed = state.orderedSteps.filter(\.observed).map(\.id)
        #expect(!observed.isEmpty, "members whose change was made are settled by observing it")
        #expect(h.world.effects.allSatisfy { !$0.afterRecordedDone })
        #expect(try h.log.verifyChain().intact)
    }
}
