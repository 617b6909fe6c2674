import CutoverCore
import CutoverEngine
import CutoverNet
import CutoverProviders
import CutoverSteps
import CutoverStore
import Foundation
import Testing
import TestSupport

/// The change-rate safety rule, counted from a real log.
@Suite struct ChangeRateTests {
    /// The harness's engine with the shipped rules, counting from its log.
    static func engine(_ h: Harness) -> Engine {
        let base = h.engine()
        var configuration = base.configuration
        configuration.safety = StandardSafetyRules(http: HTTPClient(), providers: ProviderCatalog([]), log: h.log)
        return Engine(store: base.store, registry: base.registry, clock: base.clock, ids: base.ids, configuration: configuration)
    }

    @Test func aSecondChangeWithinTheWindowStopsUntilTheWindowHasPassed() async throws {
        let h = try Harness(world: ["dns": "primary", "health": "ok"])
        let json = """
            {"service": "sim-service", "primary": {"endpoint": "http://primary"}, "dr": {"endpoint": "http://dr"}, "approvers": ["alice"],
             "safety": [{"id": "flapping", "rule": "change-rate", "before": ["sim.set"], "max": 1, "within": "1h"}]}
            """
        let rb = try Runbook.load(file: "runbooks/sim.json", data: Data(json.utf8), providers: h.registry.providers)
        func request(_ value: String) throws -> Engine.StartRequest {
            let wf = try Workflow.load(
                file: "workflows/w.json",
                data: Data(#"{"name": "w", "steps": [{"id": "health", "type": "sim.check", "with": {"key": "health", "equals": "ok"}}, {"id": "dns", "type": "sim.set", "with": {"key": "dns", "value": "\#(value)"}}]}"#.utf8),
                registry: h.registry, runbook: rb)
            return Engine.StartRequest(workflow: wf, runbook: rb, mode: .live, startedBy: "oncall", workflowDigest: "t", runbookDigest: "t")
        }
        let e = Self.engine(h)
        let first = try e.start(try request("dr"))
        #expect(try await e.drive(first).status == .succeeded)
        // Back again ten minutes later: one change of the kind in the last hour already.
        h.clock.advance(by: 600)
        let second = try e.start(try request("primary"))
        let stopped = try await e.drive(second)
        #expect(stopped.status == .needsAttention)
        #expect(stopped.attention?.reason.contains("1 change in the last 1h00m (\(first)/dns), at or over the limit of 1") == true, "\(stopped.attention?.reason ?? "")")
        #expect(h.world["dns"] == "dr")
        // An hour on, the first change is out of the window: a resume looks again and goes on.
        h.clock.advance(by: 3_600)
        try h.signal(second, .resumeRequested(Signal()), by: "bob")
        #expect(try await e.drive(second).status == .succeeded)
        #expect(h.world["dns"] == "primary")
    }

    @Test func membersSideBySideCannotEachSeeRoomForOneMoreChange() async throws {
        let h = try Harness(world: ["a": "0", "b": "0"])
        let json = """
            {"service": "sim-service", "primary": {"endpoint": "http://primary"}, "dr": {"endpoint": "http://dr"}, "approvers": ["alice"],
             "safety": [{"id": "one-at-a-time", "rule": "change-rate", "before": ["sim.set"], "max": 1, "within": "1h"}]}
            """
        let rb = try Runbook.load(file: "runbooks/sim.json", data: Data(json.utf8), providers: h.registry.providers)
        let wf = try Workflow.load(
            file: "workflows/g.json",
            data: Data(#"{"name": "g", "steps": [{"id": "both", "parallel": [{"id": "a", "type": "sim.set", "with": {"key": "a", "value": "1", "hold": "200ms"}}, {"id": "b", "type": "sim.set", "with": {"key": "b", "value": "1", "hold": "200ms"}}]}]}"#.utf8),
            registry: h.registry, runbook: rb)
        let e = Self.engine(h)
        let run = try e.start(Engine.StartRequest(workflow: wf, runbook: rb, mode: .live, startedBy: "oncall", workflowDigest: "t", runbookDigest: "t"))
        let state = try await e.drive(run)
        // One of the two changed; the other was looked at with it under way (or done) and stopped.
        #expect(state.status == .needsAttention)
        #expect([h.world["a"], h.world["b"]].filter { $0 == "1" }.count == 1)
        #expect(state.attention?.reason.contains("1 change in the last 1h00m") == true, "\(state.attention?.reason ?? "")")
    }
}
