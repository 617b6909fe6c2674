import CutoverCore
import CutoverNet
import CutoverSteps
import Foundation
import Testing
import TestSupport

@Suite struct HealthHTTPTests {
    let step = HealthHTTP(http: HTTPClient())

    func params(_ url: String, requests: Int = 5, p95: String? = nil, field: String? = nil, equals: String? = nil) throws -> StepParameters {
        var with: [String: JSONValue] = ["url": .string(url), "requests": .int(Int64(requests)), "requestTimeout": .string("2s")]
        with["p95"] = p95.map(JSONValue.string)
        with["jsonField"] = field.map(JSONValue.string)
        with["jsonEquals"] = equals.map(JSONValue.string)
        return try StepParameters(.object(with), for: HealthHTTP.self)
    }

    @Test func aHealthyEndpointPassesWithItsLatency() async throws {
        let f = try FixtureServer()
        try f.control("dr", latencyMs: 20)
        // The ceiling is loose: tests run in parallel on two cores, and wall time is what is measured.
        let out = try await step.execute(try params("\(f.base)/dr/health", p95: "3s", field: "status", equals: "ok"), StepTestContext())
        #expect(out.requests == 5)
        #expect(out.p95Millis >= 20, "the fixture's 20ms latency shows in the measurement")
        #expect(out.maxMillis >= out.p95Millis)
    }

    @Test func errorsFailTheCheckNamingTheTarget() async throws {
        let f = try FixtureServer()
        try f.control("dr", errorRate: 1.0)
        let error = await #expect(throws: StepError.self) {
            try await step.execute(try params("\(f.base)/dr/health?token=abc"), StepTestContext())
        }
        #expect(error?.code == "unhealthy")
        #expect(error?.retryable == true)
        #expect(error?.message.contains("\(f.base)/dr/health: 5 of 5 requests failed (HTTP 503 x5") == true)
        #expect(error?.message.contains("token=abc") == false, "query strings may hold credentials")
    }

    @Test func slowAnswersBreachTheP95() async throws {
        let f = try FixtureServer()
        try f.control("dr", latencyMs: 150)
        let error = await #expect(throws: StepError.self) {
            try await step.execute(try params("\(f.base)/dr/health", requests: 3, p95: "50ms"), StepTestContext())
        }
        #expect(error?.code == "slow")
        #expect(error?.message.contains("over the 50ms threshold") == true)
    }

    @Test func aWrongJSONFieldFails() async throws {
        let f = try FixtureServer()
        try f.control("dr", status: "degraded")
        let error = await #expect(throws: StepError.self) {
            try await step.execute(try params("\(f.base)/dr/health", requests: 2, field: "status", equals: "ok"), StepTestContext())
        }
        #expect(error?.message.contains("status=degraded, expected ok x2") == true)
    }

    @Test func nobodyListeningIsARetryableConnectionRefused() async throws {
        // Bind a port, then let it go: nothing listens there now.
        let f = try FixtureServer()
        let port = f.port
        _ = consume f
        let error = await #expect(throws: StepError.self) {
            try await step.execute(try params("http://127.0.0.1:\(port)/dr/health", requests: 1), StepTestContext())
        }
        #expect(error?.retryable == true)
        #expect(error?.message.contains("connection-refused") == true)
        #expect(error?.message.contains("127.0.0.1:\(port)") == true)
    }
}

@Suite struct HTTPClientTests {
    @Test func aResponseOverTheCapIsRefused() async throws {
        let f = try FixtureServer()
        let error = await #expect(throws: HTTPError.self) {
            try await HTTPClient().send(HTTPRequest(url: "\(f.base)/dr/recommend", maxResponseBytes: 10))
        }
        #expect(error?.kind == .responseTooLarge)
    }

    @Test func aSlowServerTimesOut() async throws {
        let f = try FixtureServer()
        try f.control("slow", latencyMs: 2_000)
        let error = await #expect(throws: HTTPError.self) {
            try await HTTPClient().send(HTTPRequest(url: "\(f.base)/slow/health", totalTimeout: .milliseconds(300)))
        }
        #expect(error?.kind == .timeout)
        #expect(error?.retryable == true)
    }

    @Test func credentialsInURLsNeverShowInErrors() {
        #expect(HTTPRequest.redacted("https://user:pa55@hooks.example.com/a/b?key=s3cret#x") == "https://hooks.example.com/a/b")
    }
}
