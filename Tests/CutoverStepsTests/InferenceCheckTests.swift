import CutoverCore
import CutoverNet
import CutoverSteps
import Foundation
import Testing
import TestSupport

/// The DR tests as a step: an inference request answered with recommendations from the model
/// the registry names, and the latency of many against the SLA.
@Suite struct InferenceCheckTests {
    let step = InferenceCheck(http: HTTPClient())

    func params(_ url: String, requests: Int = 1, p95: String? = nil, version: String? = nil) throws -> StepParameters {
        var with: [String: JSONValue] = [
            "url": .string(url), "requests": .int(Int64(requests)), "requestTimeout": .string("2s"),
            "payload": .object(["user": .string("dr-check"), "count": .int(7)]),
        ]
        with["p95"] = p95.map(JSONValue.string)
        with["modelVersion"] = version.map(JSONValue.string)
        return try StepParameters(.object(with), for: InferenceCheck.self)
    }

    @Test func dRServingTheRegistrysModelPasses() async throws {
        let f = try FixtureServer()
        let ctx = StepTestContext()
        let out = try await step.execute(try params("\(f.base)/dr/recommend", requests: 3, p95: "3s", version: "v42"), ctx)
        #expect(out.requests == 3 && out.recommendations == 7 && out.modelVersion == "v42", "the payload reached the endpoint: \(out)")
        #expect(ctx.notes.contains { $0.contains("7 recommendations, model v42") }, "\(ctx.notes)")
    }

    @Test func anOlderModelOnDRIsNotRetriedIntoAPass() async throws {
        let f = try FixtureServer()
        try f.control("dr", modelVersion: "v41")
        let error = await #expect(throws: StepError.self) { try await step.execute(try params("\(f.base)/dr/recommend", version: "v42"), StepTestContext()) }
        #expect(error?.code == "wrong-model" && error?.retryable == false)
        #expect(error?.message.contains("serves model v41, not v42") == true, "\(error?.message ?? "")")
    }

    @Test func emptyRecommendationsGarbageAndSlownessFail() async throws {
        let f = try FixtureServer()
        try f.control("dr", recommendations: 0)
        let empty = await #expect(throws: StepError.self) { try await step.execute(try params("\(f.base)/dr/recommend", requests: 2), StepTestContext()) }
        #expect(empty?.code == "inference-failed" && empty?.message.contains("\"recommendations\" is empty x2") == true, "\(empty?.message ?? "")")

        try f.control("dr", recommendations: 50, garbage: true)
        let garbage = await #expect(throws: StepError.self) { try await step.execute(try params("\(f.base)/dr/recommend"), StepTestContext()) }
        #expect(garbage?.message.contains("answer is not a JSON object") == true, "\(garbage?.message ?? "")")

        try f.control("dr", latencyMs: 60, garbage: false)
        let slow = await #expect(throws: StepError.self) { try await step.execute(try params("\(f.base)/dr/recommend", requests: 4, p95: "10ms"), StepTestContext()) }
        #expect(slow?.code == "slow" && slow?.message.contains("over the 10ms threshold (4 inference requests)") == true, "\(slow?.message ?? "")")
    }

    @Test func aPayloadMustBeAnObject() {
        #expect(throws: StepError.self) {
            try StepParameters(.object(["url": .string("http://127.0.0.1:1/r"), "payload": .string("{}")]), for: InferenceCheck.self)
        }
    }
}
