import CutoverCore
import CutoverEngine
@testable import CutoverSchedule
import CutoverStore
import Foundation
import Testing
import TestSupport

/// Which runs a worker takes up.
@Suite struct WorkerChoiceTests {
    @Test func aWorkerTakesUpTheParentOfAChildRunNeverTheChildItself() async throws {
        let h = try Harness(world: ["recs": "0"])
        let wf = """
            {"name": "region", "steps": [
              {"id": "recs", "type": "workflow", "with": {"workflow": "child-approve", "runbook": "recs"}}
            ]}
            """
        // A worker drove the parent until its child waited for approval, then stopped.
        let base = h.engine(detach: true)
        let stop = base.configuration.stop
        let e = Engine(store: base.store, registry: base.registry, clock: base.clock, ids: base.ids, configuration: base.configuration, observer: { event, state in
            if case .approvalRequested = event.body, state.plan?.parent != nil { stop.request() }
        })
        let run = try e.start(h.request(try h.workflow(wf)))
        _ = try await e.drive(run)
        let child = "\(run).recs"
        try h.signal(child, .approvalGranted(ApprovalGranted(step: "go", by: "alice")), by: "alice")
        // Both await a driver now; the child is carried on by its parent's step, which watches
        // the parent's abort and keeps the parent's lease.
        #expect(try h.engine().state(of: child).awaitsDriver)
        let worker = Worker(
            store: h.log, registry: h.registry, clock: h.clock, ids: h.ids, configuration: WorkerConfiguration(owner: "worker:1", actor: "worker"),
            environment: WorkerEnvironment(admit: { _ in nil }, wake: { _ in }, log: { _ in }), stop: StopRequest())
        #expect(try await worker.candidates() == [run])
    }
}
