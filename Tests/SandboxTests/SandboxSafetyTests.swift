import CutoverCore
import CutoverNet
import CutoverProviders
import CutoverSteps
import Foundation
import Testing
import TestSupport

/// The shipped safety rules against the sandbox's real DNS server, HTTP endpoints and Redis.
extension SandboxTests {
    static let safetyRunbook = """
        {"service": "recommendations-sandbox",
         "dns": {"name": "recommendations.example.test.", "nameserver": "127.0.0.1:15353"},
         "primary": {"address": "10.0.1.10", "endpoint": "http://127.0.0.1:18090/primary", "redis": {"provider": "redis", "url": "redis://127.0.0.1:16379"}},
         "dr": {"address": "10.1.1.10", "endpoint": "http://127.0.0.1:18090/dr", "redis": {"provider": "redis", "url": "redis://127.0.0.1:16380"}},
         "thresholds": {"rpo": "5s"},
         "safety": [
           {"id": "serving", "rule": "resolves-to-serving"},
           {"id": "lag", "rule": "replica-lag", "replica": "dr.redis", "before": ["writes.enable"]},
           {"id": "wrong-way", "rule": "replica-lag", "replica": "primary.redis"}
         ]}
        """

    func look(_ rule: String) async throws -> SafetyFinding {
        let runbook = try JSONValue.parse(Data(Self.safetyRunbook.utf8))
        let found = try #require(SafetyRule.rules(inRunbook: runbook).first { $0.id == rule })
        let harness = try Harness()
        let rules = StandardSafetyRules(http: HTTPClient(), providers: providers, log: harness.log)
        let step = PlannedStep(id: "dns", type: "dns.switch", kind: .compensable, pivot: false, retry: RetryPolicy(), timeoutMillis: nil)
        return await rules.evaluate(found, before: step, runbook: runbook, run: RunState(runID: "r"), context: StepTestContext(environment: env), nowMillis: 0)
    }

    @Test func theNameMustResolveToASideThatServes() async throws {
        let serving = try await look("serving")
        #expect(serving.held, "\(serving.detail)")
        #expect(serving.detail.contains("recommendations.example.test. resolves to the primary side (10.0.1.10), whose http://127.0.0.1:18090/primary/health answers HTTP 200"), "\(serving.detail)")
        // The primary stops serving: the name still points at it, so the rule does not hold.
        try sandbox.control("http://127.0.0.1:18090/_control/primary", #"{"errorRate": 1.0}"#)
        let down = try await look("serving")
        #expect(!down.held)
        #expect(down.detail.contains("answers HTTP 503: not serving"), "\(down.detail)")
    }

    @Test func theReplicaMustFollowWithinTheRPO() async throws {
        let lag = try await look("lag")
        #expect(lag.held, "\(lag.detail)")
        #expect(lag.detail.contains("dr.redis (") && lag.detail.contains("within the RPO of 5.0s"), "\(lag.detail)")
        let wrong = try await look("wrong-way")
        #expect(!wrong.held)
        #expect(wrong.detail.contains("primary.redis") && wrong.detail.contains("is a primary, not a replica"), "\(wrong.detail)")
    }
}
