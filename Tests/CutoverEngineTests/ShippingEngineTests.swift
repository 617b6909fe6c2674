import CutoverCore
import CutoverEngine
import CutoverStore
import Foundation
import Testing
import TestSupport

/// A shipper a test controls: it remembers how far it shipped, and fails while told to.
final class RecordingShipper: LogShipper, @unchecked Sendable {
    // @unchecked: every field is only touched under `lock`.
    private let lock = NSLock()
    private var failing: String?
    private(set) var calls: [Int64] = []

    func fail(_ why: String?) { lock.withLock { failing = why } }
    var shippedThrough: Int64 { lock.withLock { calls.last ?? 0 } }
    var count: Int { lock.withLock { calls.count } }

    func ship(through seq: Int64, _ proof: RunProof) async throws {
        try lock.withLock {
            if let failing { throw StepError(code: "bucket", message: failing, retryable: true) }
            calls.append(seq)
        }
    }
}

@Suite struct ShippingEngineTests {
    static let workflow = """
        {"name": "w", "steps": [
          {"id": "health", "type": "sim.check", "with": {"key": "health", "equals": "ok"}},
          {"id": "dns", "type": "sim.set", "with": {"key": "dns", "value": "dr"}},
          {"id": "scale", "type": "sim.set", "with": {"key": "capacity", "value": "4"}}
        ]}
        """

    func engine(_ h: Harness, _ shipper: RecordingShipper, detach: Bool = false) -> Engine {
        let base = h.engine(detach: detach)
        var configuration = base.configuration
        configuration.shipping = shipper
        return Engine(store: base.store, registry: base.registry, clock: base.clock, ids: base.ids, configuration: configuration)
    }

    @Test func theLogLeavesTheMachineBeforeEachMutatingStepsFirstChange() async throws {
        let h = try Harness()
        let shipper = RecordingShipper()
        let log = h.log
        // At each change: everything the log holds of that step (its start, its before-state)
        // had been shipped.
        let unshipped = Holders()
        h.world.checkDuplicates { step, _ in
            let last = (try? log.head()?.seq) ?? 0
            if shipper.shippedThrough < last { unshipped.add(step, "shipped through \(shipper.shippedThrough), log at \(last)") }
            return false
        }
        let e = engine(h, shipper)
        let run = try e.start(h.request(try h.workflow(Self.workflow)))
        #expect(try await e.drive(run).status == .succeeded)
        #expect(unshipped.seen.isEmpty, "\(unshipped.seen)")
        #expect(shipper.count == 2, "once per mutating step, none for the check: \(shipper.calls)")
    }

    @Test func whileTheLogCannotBeShippedTheRunWaitsForAPersonBeforeTheChange() async throws {
        let h = try Harness()
        let shipper = RecordingShipper()
        shipper.fail("s3://logs/recs: connection refused")
        let e = engine(h, shipper, detach: true)
        let run = try e.start(h.request(try h.workflow(Self.workflow)))
        let held = try await e.drive(run)
        #expect(held.status == .paused)
        let reason = try h.events(run).compactMap { if case .runPaused(let s) = $0.body { s.reason } else { nil } }.last ?? ""
        #expect(reason.contains("the log could not be shipped before step dns changes anything") && reason.contains("connection refused"), "\(reason)")
        #expect(h.world["dns"] == "primary", "nothing changed")
        // The buckets take writes again; a person resumes.
        shipper.fail(nil)
        try h.signal(run, .resumeRequested(Signal()), by: "bob")
        #expect(try await e.drive(run).status == .succeeded)
        #expect(h.world["dns"] == "dr")
    }

    @Test func aRunbookThatSaysProceedNotesTheFailureAndGoesOn() async throws {
        let h = try Harness()
        let shipper = RecordingShipper()
        shipper.fail("gs://logs/recs: 503")
        let rb = try Runbook.load(
            file: "runbooks/sim.json",
            data: Data(#"{"service": "sim-service", "primary": {"endpoint": "http://p"}, "dr": {"endpoint": "http://d"}, "shipping": {"unshipped": "proceed"}}"#.utf8),
            providers: h.registry.providers)
        let wf = try Workflow.load(file: "workflows/w.json", data: Data(Self.workflow.utf8), registry: h.registry, runbook: rb)
        let e = engine(h, shipper)
        let run = try e.start(Engine.StartRequest(workflow: wf, runbook: rb, mode: .live, startedBy: "oncall", workflowDigest: "t", runbookDigest: "t"))
        #expect(try await e.drive(run).status == .succeeded)
        let notes = try h.events(run).compactMap { if case .stepNote(let n) = $0.body { n.message } else { nil } }
        #expect(notes.filter { $0.contains("could not be shipped before this change (the runbook says proceed)") }.count == 2, "\(notes)")
    }

    @Test func aRollbackPausedByShippingIsNotSpunByAnAbort() async throws {
        let h = try Harness()
        let shipper = RecordingShipper()
        h.world.failExecute("scale", with: [StepError(code: "quota", message: "no GPUs", retryable: false)])
        let base = h.engine(detach: true)
        var configuration = base.configuration
        configuration.shipping = shipper
        // The bucket refuses from the moment scale has failed for good: the rollback's undo waits.
        let e = Engine(store: base.store, registry: base.registry, clock: base.clock, ids: base.ids, configuration: configuration, observer: { event, _ in
            if case .stepFailed(let f) = event.body, f.step == "scale" { shipper.fail("bucket gone") }
        })
        let run = try e.start(h.request(try h.workflow(Self.workflow)))
        let paused = try await e.drive(run)
        #expect(paused.status == .paused && paused.statusBeforePause == .compensating, "\(paused.status)")
        #expect(h.world["dns"] == "dr", "the undo waits for the log")
        // An abort appended to the paused rollback (as an older CLI would) resumes nothing.
        try h.signal(run, .abortRequested(Signal(reason: "stop it")), by: "bob")
        let before = try h.events(run).count
        let again = try await e.drive(run)
        #expect(again.status == .paused)
        let added = try h.events(run).dropFirst(before).map(\.type)
        #expect(added.filter { $0 == "RunPaused" || $0 == "RunResumed" }.isEmpty, "\(added)")
        // A person's resume once the bucket takes writes again: the rollback finishes.
        shipper.fail(nil)
        try h.signal(run, .resumeRequested(Signal()), by: "bob")
        #expect(try await e.drive(run).status == .rolledBack)
        #expect(h.world["dns"] == "primary")
    }

    @Test func aRunbookWithABadShippingSettingIsRefusedByPath() throws {
        let h = try Harness()
        #expect {
            try Runbook.load(
                file: "runbooks/bad.json", data: Data(#"{"service": "s", "primary": {}, "dr": {}, "shipping": {"unshipped": "maybe"}}"#.utf8),
                providers: h.registry.providers)
        } throws: { "\($0)".contains("runbooks/bad.json: shipping.unshipped") }
    }
}
