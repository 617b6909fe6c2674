import CutoverCore
import CutoverProviders
import CutoverSteps
import Foundation
import Testing
import TestSupport

/// The pager follows the traffic, on the sandbox's Alertmanager.
extension SandboxTests {
    static let alertmanager = #"{"provider": "alertmanager", "url": "http://127.0.0.1:19093"}"#

    @Test func alertmanagerKeepsTheAlertingContract() async throws {
        let alerts = try catalog.alerting(try target(Self.alertmanager), ctx)
        try await ProviderContracts.alerting(alerts, label: "c-\(UUID().uuidString.prefix(8).lowercased())")
    }

    @Test func alertsMoveWithTheTrafficAndComeBackOnCompensation() async throws {
        let alerts = try catalog.alerting(try target(Self.alertmanager), ctx)
        // DR stands by silenced, as the sandbox seeds it before a failover.
        let standbyComment = "DR stands by: its alerts are silenced until a failover"
        let standby = try #require(try await alerts.activeSilences().first { $0.comment == standbyComment })
        #expect(standby.silences(["region": "us-central1", "service": "recommendations-sandbox"]))
        let step = AlertsMove(providers: catalog)
        let params = try params(AlertsMove.self, #"""
            {"alerts": \#(Self.alertmanager), "silence": {"region": "us-east-1", "service": "recommendations-sandbox"},
             "unsilence": {"region": "us-central1", "service": "recommendations-sandbox"}, "for": "2h"}
            """#)
        let stepCtx = StepTestContext(environment: env)
        let out = try await step.execute(params, stepCtx)
        var now = try await alerts.activeSilences()
        #expect(now.contains { $0.id == out.silenceID && $0.silences(["region": "us-east-1", "service": "recommendations-sandbox", "alertname": "HighLatency"]) })
        #expect(!now.contains { $0.silences(["region": "us-central1", "service": "recommendations-sandbox"]) }, "DR pages again: \(now)")
        #expect(out.ended.map(\.comment) == [standbyComment])

        // A second attempt (a resume) neither makes a second silence nor fails.
        let again = try await step.execute(params, stepCtx)
        #expect(again.silenceID == out.silenceID)
        #expect(try await alerts.activeSilences().filter { $0.comment.contains("[cutover ") }.count == 1)

        try await step.compensate(params, out, stepCtx)
        now = try await alerts.activeSilences()
        #expect(!now.contains { $0.silences(["region": "us-east-1", "service": "recommendations-sandbox"]) }, "the primary pages again")
        let back = now.filter { $0.silences(["region": "us-central1", "service": "recommendations-sandbox"]) }
        #expect(back.count == 1 && back.first?.comment == standbyComment && back.first?.createdBy == "sre-oncall" && back.first?.matchers == standby.matchers, "\(back)")
        #expect(back.first.map { abs($0.endsAtMillis - standby.endsAtMillis) < 1_000 } == true, "put back with its own end")
        // Compensating twice puts nothing back twice.
        try await step.compensate(params, out, stepCtx)
        #expect(try await alerts.activeSilences().filter { $0.comment == standbyComment }.count == 1)
    }

    @Test func aSilenceSomeoneElseEndedIsNotPutBack() async throws {
        let alerts = try catalog.alerting(try target(Self.alertmanager), ctx)
        let standbyComment = "DR stands by: its alerts are silenced until a failover"
        let standby = try #require(try await alerts.activeSilences().first { $0.comment == standbyComment })
        let step = AlertsMove(providers: catalog)
        let params = try params(AlertsMove.self, #"""
            {"alerts": \#(Self.alertmanager), "silence": {"region": "us-east-1", "service": "recommendations-sandbox"},
             "unsilence": {"region": "us-central1", "service": "recommendations-sandbox"}, "for": "2h"}
            """#)
        // The step recorded the standby silence as covering DR (an attempt that stopped right
        // after); then someone else ended it by hand before the step went on.
        let stepCtx = StepTestContext(environment: env)
        _ = try await stepCtx.recordBefore { try JSONValue.encode(["covering": [standby]]) }
        try await alerts.expire(id: try #require(standby.id), StepTestContext.freshProof())
        let out = try await step.execute(params, stepCtx)
        #expect(out.ended.isEmpty, "the step ended nothing, so it puts nothing back: \(out.ended)")
        try await step.compensate(params, out, stepCtx)
        #expect(try await alerts.activeSilences().contains { $0.comment == standbyComment } == false, "a silence a person ended stays ended")
    }
}
