import CutoverCore
import CutoverEngine
import CutoverStore
import Foundation
import Testing
import TestSupport

/// A workflow, a mode and the failures the simulated clouds will produce.
struct CrashScenario: Sendable, CustomTestStringConvertible {
    var name: String
    var workflow: String
    var mode: RunMode
    var failures: [(String, [StepError])] = []
    var world: [String: String] = [:]
    var testDescription: String { name }
}

let throttled = StepError(code: "throttled", message: "rate exceeded", retryable: true)

let crashScenarios: [CrashScenario] = [
    CrashScenario(name: "live failover with a retried step", workflow: referenceWorkflow, mode: .live, failures: [("scale", [throttled])]),
    CrashScenario(name: "drill with planned rollback through the pivot", workflow: referenceWorkflow, mode: .drill),
    CrashScenario(name: "failure before the pivot, automatic rollback", workflow: """
        {"name": "w", "steps": [
          {"id": "scale", "type": "sim.set", "with": {"key": "capacity", "value": "4"}},
          {"id": "dns", "type": "sim.set", "with": {"key": "dns", "value": "dr"}, "retry": {"attempts": 2, "backoff": "1s"}},
          {"id": "soak", "type": "wait", "with": {"duration": "5m"}},
          {"id": "dr-health", "type": "sim.check", "with": {"key": "health", "equals": "great"}, "retry": {"attempts": 2, "backoff": "5s"}},
          {"id": "writes", "type": "sim.pivot", "with": {"key": "writes", "value": "primary"}}
        ]}
        """, mode: .live, failures: [("dns", [throttled])]),
    CrashScenario(name: "failure after the pivot stops for a person",
                  workflow: referenceWorkflow.replacingOccurrences(
                    of: #""key": "dns", "equals": "dr"}}"#, with: #""key": "slo", "equals": "met"}, "retry": {"attempts": 2, "backoff": "30s"}}"#),
                  mode: .live, world: ["slo": "breached"]),
    // Members finish in any order two at a time; the end state is the same whatever the order.
    CrashScenario(name: "drill through a parallel group with a retried member", workflow: """
        {"name": "w", "steps": [
          {"id": "health", "type": "sim.check", "with": {"key": "health", "equals": "ok"}},
          {"id": "scale-all", "maxConcurrency": 2, "parallel": [
            {"id": "gpu-a", "type": "sim.set", "with": {"key": "a", "value": "4"}},
            {"id": "gpu-b", "type": "sim.set", "with": {"key": "b", "value": "4"}, "retry": {"attempts": 2, "backoff": "1s"}},
            {"id": "gpu-c", "type": "sim.set", "with": {"key": "c", "value": "4"}}
          ]},
          {"id": "writes", "type": "sim.pivot", "with": {"key": "writes", "value": "primary"}},
          {"id": "dns", "type": "sim.set", "with": {"key": "dns", "value": "dr"}}
        ]}
        """, mode: .drill, failures: [("gpu-b", [throttled])], world: ["a": "0", "b": "0", "c": "0"]),
    // One at a time, so which sibling had finished when one failed is the same in every run.
    CrashScenario(name: "a parallel member fails, its group's done members are undone", workflow: """
        {"name": "w", "steps": [
          {"id": "scale", "type": "sim.set", "with": {"key": "capacity", "value": "4"}},
          {"id": "scale-all", "maxConcurrency": 1, "parallel": [
            {"id": "gpu-a", "type": "sim.set", "with": {"key": "a", "value": "4"}},
            {"id": "gpu-b", "type": "sim.set", "with": {"key": "b", "value": "4"}},
            {"id": "gpu-c", "type": "sim.set", "with": {"key": "c", "value": "4"}}
          ]},
          {"id": "writes", "type": "sim.pivot", "with": {"key": "writes", "value": "primary"}}
        ]}
        """, mode: .live, failures: [("gpu-b", [StepError(code: "quota", message: "no GPUs left", retryable: false)])],
        world: ["a": "0", "b": "0", "c": "0"]),
    // A child run beside a change of the parent's own, both undone by the drill's rollback:
    // a crash anywhere in the child's stream too (the store counts every stream's events).
    // Step ids differ from the child's: the duplicate check looks for a step in every stream.
    CrashScenario(name: "drill with a child workflow in a parallel group", workflow: """
        {"name": "w", "steps": [
          {"id": "services", "parallel": [
            {"id": "recs", "type": "workflow", "with": {"workflow": "child-scale", "runbook": "recs"}},
            {"id": "grow", "type": "sim.set", "with": {"key": "capacity", "value": "4"}}
          ]},
          {"id": "dns", "type": "sim.set", "with": {"key": "dns", "value": "dr"}}
        ]}
        """, mode: .drill, world: ["recs": "0"]),
    CrashScenario(name: "a failure after a child run rolls the child back", workflow: """
        {"name": "w", "steps": [
          {"id": "recs", "type": "workflow", "with": {"workflow": "child-scale", "runbook": "recs"}},
          {"id": "dns", "type": "sim.set", "with": {"key": "dns", "value": "dr"}}
        ]}
        """, mode: .live, failures: [("dns", [StepError(code: "refused", message: "zone is locked", retryable: false)])],
        world: ["recs": "0"]),
]

/// What must be the same whether or not the run crashed on its way.
struct RunSummary: Equatable, CustomStringConvertible {
    var status: RunStatus
    var planned: Bool?
    var world: [String: String]
    var steps: [String: String]

    init(_ state: RunState, _ world: SimulatedWorld) {
        status = state.status
        planned = state.outcome?.planned
        self.world = world.snapshot
        var steps: [String: String] = [:]
        for s in state.orderedSteps {
            steps[s.id] = "\(s.phase.rawValue)/\(s.compensation.rawValue)/\(s.output?.canonicalString ?? "-")"
        }
        self.steps = steps
    }

    var description: String { "\(status.rawValue) planned=\(planned.map(String.init) ?? "-") world=\(world) steps=\(steps)" }
}

@Suite struct CrashMatrixTests {
    /// Runs `scenario` start to end, crashing as `arm` sets up, then resumes it on the same
    /// database with a new process. Returns the summary and what happened along the way.
    func run(_ scenario: CrashScenario, on kind: StoreKind, arm: (Harness, CrashingStore) -> Void = { _, _ in }) async throws
        -> (summary: RunSummary, appended: Int, effects: Int, crashed: Bool, harness: Harness, run: String)
    {
        var world = ["dns": "primary", "capacity": "0", "writes": "replica", "health": "ok"]
        world.merge(scenario.world) { $1 }
        let h = try Harness(world: world, store: kind)
        for (step, errors) in scenario.failures { h.world.failExecute(step, with: errors) }
        let log = h.log
        h.world.checkDuplicates { step, op in
            let events = (try? log.runIDs().flatMap { try log.events(of: $0, after: 0) }) ?? []
            return events.contains {
                switch ($0.body, op) {
                case (.stepSucceeded(let s), .execute): s.step == step
                case (.compensationSucceeded(let s), .compensate): s.step == step
                default: false
                }
            }
        }
        let store = CrashingStore(h.log)
        arm(h, store)
        let first = engine(h, store: store)
        let runID = try first.start(h.request(try h.workflow(scenario.workflow), mode: scenario.mode, by: "alice-oncall"))
        var crashed = false
        do {
            _ = try await first.drive(runID)
        } catch is SimulatedCrash {
            crashed = true
        }
        crashed = crashed || store.hasCrashed
        let appended = store.appendedCount
        // A new process on the same machine: the old one is gone, its lease can be taken.
        let state = try await engine(h, owner: "test:2").drive(runID)
        return (RunSummary(state, h.world), appended, h.world.effects.count, crashed, h, runID)
    }

    /// Every scenario on every store: the store's contract includes surviving these.
    @Test(arguments: StoreKind.all, crashScenarios)
    func crashAfterEveryEventAndEverySideEffect(_ kind: StoreKind, _ scenario: CrashScenario) async throws {
        let reference = try await run(scenario, on: kind)
        #expect(!reference.crashed)
        #expect(reference.summary.status != .running)
        var points = 0
        for k in 1...reference.appended {
            let r = try await runCrashingAfterEvents(scenario, k, on: kind)
            points += 1
            #expect(r.crashed || k >= reference.appended, "crash point \(k) was never reached")
            check(r, against: reference.summary, point: "after event \(k)")
        }
        for j in 1...reference.effects {
            let r = try await run(scenario, on: kind) { h, store in h.world.crash(afterEffect: j) { store.crash() } }
            points += 1
            #expect(r.crashed, "side effect \(j) was never reached")
            check(r, against: reference.summary, point: "after side effect \(j)")
        }
        print("crash matrix (\(kind)): \(scenario.name): \(reference.appended) event crash points + \(reference.effects) side-effect crash points = \(points) runs, each ending \(reference.summary.status.rawValue)")
    }

    func runCrashingAfterEvents(_ scenario: CrashScenario, _ k: Int, on kind: StoreKind = .sqlite) async throws
        -> (summary: RunSummary, appended: Int, effects: Int, crashed: Bool, harness: Harness, run: String)
    {
        try await run(scenario, on: kind) { _, store in store.crash(afterEvents: k) }
    }

    func check(_ r: (summary: RunSummary, appended: Int, effects: Int, crashed: Bool, harness: Harness, run: String), against reference: RunSummary, point: String) {
        #expect(r.summary == reference, "crash \(point): ended \(r.summary), uncrashed run ended \(reference)")
        let duplicates = r.harness.world.effects.filter(\.afterRecordedDone)
        #expect(duplicates.isEmpty, "crash \(point): side effects applied again after being recorded done: \(duplicates)")
        let chain = try? r.harness.log.verifyChain()
        #expect(chain?.intact == true, "crash \(point): the log does not verify: \(chain?.firstProblem?.message ?? "unreadable")")
    }
}
