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

/// A child run is never left behind: whatever ends the step that drives it, the child is
/// undone with the parent, and its parent's lease outlives a long child.
@Suite struct ChildRunEndsTests {
    @Test func aChildWaitingForAPersonWhenItsGroupStopsIsAbortedAndUndone() async throws {
        let h = try Harness(world: childWorld)
        let wf = """
            {"name": "region", "steps": [
              {"id": "services", "parallel": [
                {"id": "recs", "type": "workflow", "with": {"workflow": "child-approve", "runbook": "recs"}},
                {"id": "boom", "type": "sim.set", "with": {"key": "dns", "value": "dr", "hold": "10m"}}
              ]}
            ]}
            """
        h.world.failExecute("boom", with: [StepError(code: "refused", message: "zone is locked", retryable: false)])
        // Nobody approves the child; its sibling fails once the child waits for a person.
        let e = engine(h, observer: { event, state in
            if case .approvalRequested = event.body, state.plan?.parent != nil { h.world.releaseHolds() }
        })
        let run = try e.start(h.request(try h.workflow(wf)))
        let state = try await e.drive(run)
        #expect(state.status == .rolledBack)
        #expect(state.rollback?.reason.contains("step boom failed") == true, "\(state.rollback?.reason ?? "")")
        #expect(state.steps["recs"]?.lastError?.code == StepError.cancelledCode)
        #expect(state.steps["recs"]?.compensation == .succeeded, "the child it started is the step's change, undone with the rest")
        let child = try h.engine().state(of: "\(run).recs")
        #expect(child.status == .aborted)
        #expect(child.rollback?.reason.contains("its parent run \(run) stops step recs: step boom of its parallel group failed") == true, "\(child.rollback?.reason ?? "")")
        #expect(h.world.snapshot == childWorld, "exactly what was there before")
        #expect(try h.log.lockHolder(scope: "recs") == nil, "the child gave its service back")
    }

    @Test func aChildWhoseStepTimesOutIsRolledBackWithItsParent() async throws {
        let h = try Harness(world: childWorld)
        let wf = """
            {"name": "region", "steps": [
              {"id": "recs", "type": "workflow", "timeout": "10m", "retry": {"attempts": 1}, "with": {"workflow": "child-approve", "runbook": "recs"}},
              {"id": "dns", "type": "sim.set", "with": {"key": "dns", "value": "dr"}}
            ]}
            """
        // Nobody approves: the step's time runs out with its child waiting.
        let e = engine(h, observer: { _, _ in })
        let run = try e.start(h.request(try h.workflow(wf)))
        let state = try await e.drive(run)
        #expect(state.steps["recs"]?.lastError?.code == "timeout")
        #expect(state.status == .rolledBack, "the child it left is a change: rolled back, not 'nothing had been changed'")
        #expect(state.steps["recs"]?.compensation == .succeeded)
        let child = try h.engine().state(of: "\(run).recs")
        #expect(child.status == .aborted)
        #expect(child.steps["scale"]?.compensation == .succeeded)
        #expect(h.world.snapshot == childWorld)
        #expect(try h.log.lockHolder(scope: "recs") == nil)
        #expect(state.steps["dns"]?.attempts == 0)
    }

    @Test func theParentsLeaseOutlivesAChildLongerThanIt() async throws {
        let h = try Harness(world: childWorld)
        let wf = """
            {"name": "region", "steps": [
              {"id": "recs", "type": "workflow", "with": {"workflow": "child-soak", "runbook": "recs"}}
            ]}
            """
        let log = h.log, clock = h.clock
        let seen = Holders()
        // Two minutes of soak against a 30 s lease: when the soak ends, the parent is still held here.
        let e = engine(h, observer: { event, state in
            if case .stepSucceeded(let p) = event.body, p.step == "soak", let parent = state.plan?.parent,
                let lease = try? log.leaseHolder(run: parent.run)
            {
                seen.add("owner", lease.owner)
                seen.add("live", lease.expires > clock.now() ? "yes" : "expired \(clock.now().timeIntervalSince(lease.expires)) s ago")
            }
        })
        let run = try e.start(h.request(try h.workflow(wf)))
        let state = try await e.drive(run)
        #expect(state.status == .succeeded)
        #expect(seen.seen["owner"] == "test:1")
        #expect(seen.seen["live"] == "yes")
    }

    @Test func aChildHeldByAnotherProcessIsWaitedForNotCountedAsAFailure() async throws {
        let h = try Harness(world: childWorld)
        let wf = """
            {"name": "region", "steps": [
              {"id": "recs", "type": "workflow", "retry": {"attempts": 1, "backoff": "5s"}, "with": {"workflow": "child-scale", "runbook": "recs"}}
            ]}
            """
        let base = h.engine(gone: { _ in false })
        let run = try base.start(h.request(try h.workflow(wf)))
        // Another live process holds the child's run for the next 20 s.
        try h.log.acquireLease(run: "\(run).recs", owner: "other:9", now: h.clock.now(), ttl: .seconds(20), isGone: { _ in false })
        let state = try await base.drive(run)
        #expect(state.status == .succeeded, "\(state.steps["recs"]?.lastError?.message ?? "")")
        let recs = try #require(state.steps["recs"])
        #expect(recs.interruptions >= 1 && recs.attempts == recs.interruptions + 1)
        let notes = try h.events(run).compactMap { e -> String? in if case .stepFailed(let f) = e.body { f.error.message } else { nil } }
        #expect(notes.first?.contains("child run \(run).recs is driven by another process (other:9)") == true, "\(notes)")
        #expect(h.world["recs"] == "4")
    }

    @Test func anAbortAnsweredBeforeAChildStartedDoesNotReachIt() async throws {
        let h = try Harness(world: childWorld.merging(["writes": "replica"]) { $1 })
        let wf = """
            {"name": "region", "steps": [
              {"id": "writes", "type": "sim.pivot", "with": {"key": "writes", "value": "dr"}},
              {"id": "recs", "type": "workflow", "with": {"workflow": "child-scale", "runbook": "recs"}}
            ]}
            """
        // Bob aborts as the pivot starts: the run stops for a person after it, who carries on.
        let e = engine(h, observer: { event, state in
            if case .stepStarted(let p) = event.body, p.step == "writes", state.plan?.parent == nil {
                try? h.signal(state.runID, .abortRequested(Signal(reason: "wrong region")), by: "bob")
            }
        })
        let run = try e.start(h.request(try h.workflow(wf)))
        #expect(try await e.drive(run).status == .needsAttention)
        try h.signal(run, .resumeRequested(Signal(reason: "go forward")), by: "bob")
        let state = try await e.drive(run)
        #expect(state.status == .succeeded)
        #expect(try h.engine().state(of: "\(run).recs").status == .succeeded, "the answered abort is not the child's")
        #expect(state.steps["recs"]?.attempts == 1)
        #expect(h.world["recs"] == "4")
    }
}

extension ChildRunEndsTests {
    static let approvingChild = """
        {"name": "region", "steps": [
          {"id": "recs", "type": "workflow", "with": {"workflow": "child-approve", "runbook": "recs"}}
        ]}
        """

    @Test func aWorkerWatchesAChildWaitingForAPersonWithoutDrivingItAgainAndAgain() async throws {
        let h = try Harness(world: childWorld)
        let base = h.engine(detach: true)
        let waitingSince = Holders()
        let clock = h.clock
        let e = Engine(store: base.store, registry: base.registry, clock: base.clock, ids: base.ids, configuration: base.configuration, observer: { event, state in
            if case .approvalRequested = event.body, state.plan?.parent != nil { waitingSince.add("at", "\(clock.now().timeIntervalSince1970)") }
        })
        let run = try e.start(h.request(try h.workflow(Self.approvingChild)))
        let child = "\(run).recs"
        let drive = Task { try await e.drive(run) }
        // Ten simulated minutes of the parent's polls pass with nobody approving.
        while waitingSince.seen["at"].flatMap(Double.init).map({ clock.now().timeIntervalSince1970 < $0 + 600 }) ?? true {
            try await Task.sleep(for: .milliseconds(5))
        }
        #expect(try h.events(child).filter { $0.type == "DriverAttached" }.count == 1, "the waiting child is looked at, not driven again at each poll")
        try h.signal(child, .approvalGranted(ApprovalGranted(step: "go", by: "alice")), by: "alice")
        let state = try await drive.value
        #expect(state.status == .succeeded)
        #expect(try h.events(child).filter { $0.type == "DriverAttached" }.count == 2, "driven again once, when the approval came")
        #expect(h.world["recs"] == "4")
    }

    @Test func aDriverAskedToStopLeavesAWaitingChildAndTheNextTakesTheSameOneUp() async throws {
        let h = try Harness(world: childWorld)
        let base = h.engine(detach: true)
        let stop = base.configuration.stop
        // The worker is asked to stop once the child waits for its approval.
        let e = Engine(store: base.store, registry: base.registry, clock: base.clock, ids: base.ids, configuration: base.configuration, observer: { event, state in
            if case .approvalRequested = event.body, state.plan?.parent != nil { stop.request() }
        })
        let run = try e.start(h.request(try h.workflow(Self.approvingChild)))
        let left = try await e.drive(run)
        #expect(left.status == .running && left.steps["recs"]?.phase == .running, "the step stays in flight")
        let child = "\(run).recs"
        #expect(try h.engine().state(of: child).status == .waitingApproval)
        // Alice approves the child; another worker carries the parent, and so the same child, on.
        try h.signal(child, .approvalGranted(ApprovalGranted(step: "go", by: "alice")), by: "alice")
        let state = try await h.engine(owner: "test:2", detach: true).drive(run)
        #expect(state.status == .succeeded)
        #expect(try h.engine().state(of: child).status == .succeeded)
        #expect(try h.log.runIDs().filter { $0.hasPrefix("\(run).") } == [child], "one child, never a second")
        #expect(h.world["recs"] == "4")
    }
}
