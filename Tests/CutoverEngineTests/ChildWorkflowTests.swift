import CutoverCore
import CutoverEngine
import CutoverStore
import Foundation
import Testing
import TestSupport

/// A region's plan: a check, then two services failed over side by side as child runs
/// (each holding its own service), then a change of the parent's own.
let regionWorkflow = """
    {"name": "region", "steps": [
      {"id": "health", "type": "sim.check", "with": {"key": "health", "equals": "ok"}},
      {"id": "services", "parallel": [
        {"id": "recs", "type": "workflow", "with": {"workflow": "child-scale", "runbook": "recs"}},
        {"id": "search", "type": "workflow", "with": {"workflow": "child-scale", "runbook": "search"}}
      ]},
      {"id": "dns", "type": "sim.set", "with": {"key": "dns", "value": "dr"}}
    ]}
    """

let childWorld = ["dns": "primary", "health": "ok", "recs": "0", "search": "0"]

@Suite struct ChildWorkflowTests {
    @Test func childRunsAreLinkedBothWaysAndHoldTheirOwnServices() async throws {
        let h = try Harness(world: childWorld)
        let log = h.log
        // While each child changes its world, its own service is held by it.
        let holders = Holders()
        let e = engine(h, observer: { event, state in
            if case .stepStarted(let p) = event.body, p.step == "scale", let scope = state.plan?.scope {
                holders.add(scope, (try? log.lockHolder(scope: scope)) ?? nil)
            }
        })
        let run = try e.start(h.request(try h.workflow(regionWorkflow)))
        let state = try await e.drive(run)
        #expect(state.status == .succeeded)
        #expect(h.world["recs"] == "4" && h.world["search"] == "4" && h.world["dns"] == "dr")
        for service in ["recs", "search"] {
            let output = try #require(state.steps[service]?.output?["run"]?.stringValue)
            #expect(output == "\(run).\(service)")
            let child = try h.engine().state(of: output)
            #expect(child.status == .succeeded)
            #expect(child.plan?.parent == RunParent(run: run, step: service))
            #expect(child.plan?.scope == service)
            #expect(child.plan?.startedBy == "oncall", "a child is the work of whoever started its parent")
            #expect(holders.seen[service] == output)
            #expect(try h.log.lockHolder(scope: service) == nil, "a finished child gives its service back")
        }
        #expect(try h.log.verifyChain().intact)
    }

    @Test func aChildWhoseParentIsRolledBackIsRolledBackToo() async throws {
        let h = try Harness(world: childWorld)
        let wf = """
            {"name": "region", "steps": [
              {"id": "recs", "type": "workflow", "with": {"workflow": "child-scale", "runbook": "recs"}},
              {"id": "dns", "type": "sim.set", "with": {"key": "dns", "value": "dr"}}
            ]}
            """
        h.world.failExecute("dns", with: [StepError(code: "refused", message: "zone is locked", retryable: false)])
        let e = engine(h)
        let run = try e.start(h.request(try h.workflow(wf)))
        let state = try await e.drive(run)
        #expect(state.status == .rolledBack)
        #expect(state.steps["recs"]?.compensation == .succeeded)
        let child = try h.engine().state(of: "\(run).recs")
        #expect(child.status == .rolledBack)
        #expect(child.rollback?.reason.contains("its parent run \(run) rolls back step recs") == true)
        #expect(h.world.snapshot == childWorld, "exactly what was there before")
    }

    @Test func aDrillsChildLeavesItsRollbackToItsParent() async throws {
        let h = try Harness(world: childWorld)
        let e = engine(h)
        let run = try e.start(h.request(try h.workflow(regionWorkflow), mode: .drill))
        let state = try await e.drive(run)
        #expect(state.status == .rolledBack)
        #expect(state.outcome?.planned == true)
        for service in ["recs", "search"] {
            let events = try h.events("\(run).\(service)").map(\.type)
            // The child passed every step and stopped there; the parent's rollback undid it.
            let succeeded = try #require(events.firstIndex(of: "RunSucceeded"))
            let requested = try #require(events.firstIndex(of: "RollbackRequested"))
            #expect(succeeded < requested)
            #expect(events.last == "RunRolledBack")
        }
        #expect(h.world.snapshot == childWorld)
    }

    @Test func aChildPastItsPivotStopsItsParentForAPerson() async throws {
        let h = try Harness(world: childWorld)
        let wf = """
            {"name": "region", "steps": [
              {"id": "recs", "type": "workflow", "pivot": true, "with": {"workflow": "child-promote", "runbook": "recs"}},
              {"id": "dns", "type": "sim.set", "with": {"key": "dns", "value": "dr"}}
            ]}
            """
        h.world.failExecute("dns", with: [StepError(code: "refused", message: "zone is locked", retryable: false)])
        let e = engine(h)
        let run = try e.start(h.request(try h.workflow(wf)))
        let state = try await e.drive(run)
        // Past a child that enabled writes, a live run stops for a person; the child stays.
        #expect(state.status == .needsAttention)
        #expect(h.world["recs-writes"] == "dr")
        #expect(try h.engine().state(of: "\(run).recs").status == .succeeded)
    }
}

extension ChildWorkflowTests {
    @Test func abortingTheParentAbortsTheChildItIsDriving() async throws {
        let h = try Harness(world: childWorld)
        let wf = """
            {"name": "region", "steps": [
              {"id": "recs", "type": "workflow", "with": {"workflow": "child-scale", "runbook": "recs"}},
              {"id": "dns", "type": "sim.set", "with": {"key": "dns", "value": "dr"}}
            ]}
            """
        // Someone aborts the region's run while its child is changing the recs service.
        let e = engine(h, observer: { event, state in
            if case .stepStarted(let p) = event.body, p.step == "scale", let parent = state.plan?.parent {
                try? h.signal(parent.run, .abortRequested(Signal(reason: "wrong region")), by: "bob")
            }
        })
        let run = try e.start(h.request(try h.workflow(wf)))
        let state = try await e.drive(run)
        #expect(state.status == .aborted)
        let child = try h.engine().state(of: "\(run).recs")
        #expect(child.status == .aborted)
        #expect(child.rollback?.reason.contains("its parent run \(run) was aborted by bob: wrong region") == true, "\(child.rollback?.reason ?? "")")
        #expect(h.world.snapshot == childWorld, "the child undid its change; nothing after it ran")
        #expect(state.steps["dns"]?.attempts == 0)
    }
}

/// Who held each service when its child started changing it.
final class Holders: @unchecked Sendable {
    // @unchecked: `seen` is only touched under `lock`.
    private let lock = NSLock()
    private var held: [String: String] = [:]
    func add(_ scope: String, _ holder: String?) { lock.withLock { held[scope] = holder } }
    var seen: [String: String] { lock.withLock { held } }
}
