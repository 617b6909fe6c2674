import CutoverCore
import CutoverNet
import CutoverSteps
import Foundation
import Testing
import TestSupport

@Suite struct NotifyTests {
    let step = Notify(http: HTTPClient())

    func params(_ fields: [String: String]) throws -> StepParameters {
        try StepParameters(.object(fields.mapValues(JSONValue.string)), for: Notify.self)
    }

    @Test func slackMessageReachesTheWebhookWithAnIdempotencyKey() async throws {
        let f = try FixtureServer()
        let ctx = StepTestContext(step: "tell", mode: .drill)
        let out = try await step.execute(
            try params(["url": "\(f.base)/webhook", "message": "DR is serving"]), ctx)
        #expect(out.status == 200)
        let got = try f.received()
        #expect(got.count == 1)
        #expect((got.first?["body"] as? [String: Any])?["text"] as? String == "[cutover drill] DR is serving")
        #expect((got.first?["headers"] as? [String: Any])?["idempotency-key"] as? String == "run-test/tell")
    }

    @Test func pagerDutyEventsCarryTheResolvedRoutingKeyAndDedupKey() async throws {
        let f = try FixtureServer()
        let ctx = StepTestContext(step: "page", environment: ["PD_KEY": "R0UTING", "HOOK": "\(f.base)/webhook"])
        _ = try await step.execute(
            try params(["url": "env:HOOK", "message": "failover stuck", "format": "pagerduty", "severity": "critical", "routingKey": "env:PD_KEY"]), ctx)
        let body = try f.received().first?["body"] as? [String: Any]
        #expect(body?["routing_key"] as? String == "R0UTING")
        #expect(body?["dedup_key"] as? String == "run-test/page")
        #expect(body?["event_action"] as? String == "trigger")
        #expect((body?["payload"] as? [String: Any])?["severity"] as? String == "critical")
    }

    @Test func aSecretWebhookIsNamedByItsReferenceInErrors() async throws {
        let f = try FixtureServer()
        let ctx = StepTestContext(environment: ["HOOK": "\(f.base)/no-such-hook/T0KEN"])
        let error = await #expect(throws: StepError.self) {
            try await step.execute(try params(["url": "env:HOOK", "message": "x"]), ctx)
        }
        #expect(error?.code == "webhook-status-404")
        #expect(error?.retryable == false, "a 4xx will not pass by waiting")
        #expect(error?.message.contains("webhook env:HOOK") == true)
        #expect(error?.message.contains("T0KEN") == false)
    }
}
