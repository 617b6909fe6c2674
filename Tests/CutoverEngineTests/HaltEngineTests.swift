import CutoverCore
import CutoverEngine
import CutoverStore
import Foundation
import Testing
import TestSupport

/// The halt as a driver obeys it: a change about to be made is held right before it, and the
/// members of a parallel group stop with the run.
@Suite struct HaltEngineTests {
    func halt(_ h: Harness, _ body: EventBody, by: String) throws {
        let last = try h.log.events(of: LogStream.halt, after: 0).last?.runSeq ?? 0
        _ = try h.log.append([EventDraft(at: h.clock.now(), actor: by, body: body)], to: LogStream.halt, expectedNext: last + 1, options: AppendOptions(now: h.clock.now()))
    }

    @Test func aChangeAboutToBeMadeIsHeldUntilTheHaltIsLifted() async throws {
        let h = try Harness()
        let log = h.log
        // At the moment of each change, was the run resumed after a halt?
        let resumedAtChange = Holders()
        h.world.checkDuplicates { step, _ in
            let events = (try? log.events(of: "run-1", after: 0)) ?? []
            let resumed = events.contains { if case .runResumed(let s) = $0.body { s.halt == true } else { false } }
            resumedAtChange.add(step, resumed ? "after the lift" : "no halt seen")
            return false
        }
        // Halted as the scale step starts; lifted once the run says it is paused.
        let approve = autoApprove(h)
        let e = engine(h, observer: { [self] event, state in
            approve(event, state)
            if case .stepStarted(let p) = event.body, p.step == "scale", p.attempt == 1 {
                try? halt(h, .haltRequested(Signal(reason: "region on fire")), by: "bob")
            }
            if case .runPaused(let s) = event.body, s.halt == true {
                try? halt(h, .haltLifted(Signal(reason: "fire out")), by: "carol")
            }
        })
        let run = try e.start(h.request(try h.workflow(referenceWorkflow)))
        let state = try await e.drive(run)
        #expect(state.status == .succeeded)
        #expect(resumedAtChange.seen["scale"] == "after the lift", "the change waited for the lift")
        let types = try h.events(run).map(\.type)
        let paused = try #require(types.firstIndex(of: "RunPaused"))
        #expect(types[paused - 1] == "BeforeRecorded" || types[paused - 1] == "StepStarted", "\(types)")
        #expect(try h.log.events(of: LogStream.halt, after: 0).map(\.actor) == ["bob", "carol"])
        #expect(try h.log.verifyChain().intact)
    }

    @Test func aHaltedLogRefusesStartsAndAPausedRunWaitsForTheLift() async throws {
        let h = try Harness()
        try halt(h, .haltRequested(Signal(reason: "freeze")), by: "bob")
        let e = engine(h)
        #expect(throws: HaltedError.self) { try e.start(h.request(try h.workflow(referenceWorkflow))) }
        #expect(try h.log.runIDs().isEmpty)
        // A lift without a halt does not fold: the audit would name it.
        try halt(h, .haltLifted(Signal()), by: "carol")
        #expect(throws: FoldError.self) {
            var s = HaltState()
            for ev in try h.log.events(of: LogStream.halt, after: 0) + [Event(seq: 99, runID: LogStream.halt, runSeq: 3, atMillis: 0, actor: "x", body: .haltLifted(Signal()), bodyJSON: "{}", hash: [])] {
                try s.apply(ev)
            }
        }
        let run = try e.start(h.request(try h.workflow(referenceWorkflow)))
        #expect(try await e.drive(run).status == .succeeded)
    }

    @Test func membersOfAParallelGroupStopWithTheRun() async throws {
        let h = try Harness(world: parallelWorld)
        let e = engine(h, observer: { [self] event, state in
            if case .stepStarted(let p) = event.body, p.step == "gpu-b", p.attempt == 1 {
                try? halt(h, .haltRequested(Signal(reason: "hold")), by: "bob")
            }
            if case .runPaused(let s) = event.body, s.halt == true {
                try? halt(h, .haltLifted(Signal()), by: "bob")
            }
        })
        let run = try e.start(h.request(try h.workflow(groupWorkflow(limit: 4, hold: "50ms"))))
        let state = try await e.drive(run)
        #expect(state.status == .succeeded)
        let events = try h.events(run)
        let paused = events.filter { if case .runPaused = $0.body { true } else { false } }
        #expect(paused.count == 1, "one pause for the run, whichever member met the halt first: \(events.map(\.type))")
        #expect(events.contains { if case .runResumed(let s) = $0.body { s.halt == true } else { false } })
    }
}

extension HaltEngineTests {
    @Test func aHaltMetByAWorkersCompensationLeavesItInFlightNotFailed() async throws {
        let h = try Harness(world: ["a": "0", "b": "0"])
        let wf = """
            {"name": "w", "steps": [
              {"id": "set-a", "type": "sim.set", "with": {"key": "a", "value": "1"}},
              {"id": "set-b", "type": "sim.set", "with": {"key": "b", "value": "1"}}
            ]}
            """
        h.world.failExecute("set-b", with: [StepError(code: "refused", message: "no", retryable: false)])
        let base = h.engine(detach: true)
        // Halted as the undo of set-a starts, in a worker (which leaves runs that wait).
        let e = Engine(store: base.store, registry: base.registry, clock: base.clock, ids: base.ids, configuration: base.configuration, observer: { [self] event, _ in
            if case .compensationStarted(let p) = event.body, p.step == "set-a", p.attempt == 1 {
                try? halt(h, .haltRequested(Signal(reason: "freeze")), by: "bob")
            }
        })
        let run = try e.start(h.request(try h.workflow(wf)))
        let held = try await e.drive(run)
        #expect(held.status == .paused)
        #expect(h.world["a"] == "1", "held right before the undo")
        let failures = try h.events(run).compactMap { e -> String? in if case .compensationFailed(let f) = e.body { f.error.code } else { nil } }
        #expect(failures.isEmpty, "a halt is no failure of the compensation: \(failures)")
        try halt(h, .haltLifted(Signal(reason: "thaw")), by: "carol")
        let state = try await e.drive(run)
        #expect(state.status == .rolledBack)
        #expect(h.world.snapshot == ["a": "0", "b": "0"])
        let after = try h.events(run).compactMap { e -> String? in if case .compensationFailed(let f) = e.body { f.error.code } else { nil } }
        #expect(after.allSatisfy { $0 == StepError.interrupted.code }, "\(after)")
        #expect(state.steps["set-a"]?.compensation == .succeeded)
    }
}
