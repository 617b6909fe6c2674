import CutoverCore
import CutoverNet
import Foundation

/// `health.http`: N GET requests to an endpoint; every one must answer the expected status
/// (and JSON field, if asked), and the p95 latency must stay within the threshold.
public struct HealthHTTP: StepType {
    public struct Output: Codable, Sendable, Equatable {
        public var requests: Int
        public var p95Millis: Int64
        public var maxMillis: Int64
    }

    public static let name = "health.http"
    public static let summary = "Sends N GET requests to an endpoint; every one must answer the expected status (and JSON field) within the p95 latency. Changes nothing."
    public static let kind = StepKind.check
    static let url = Param<String>.url("url", "the endpoint to probe")
    static let requests = Param<Int>.integer("requests", 1...10_000, default: 5, "how many requests")
    static let expectStatus = Param<Int>.integer("expectStatus", 100...599, default: 200, "the status every answer must have")
    static let p95 = Param<Duration?>.duration("p95", "the highest acceptable 95th-percentile latency")
    static let jsonField = Param<String?>.string("jsonField", "a top-level field of the JSON answer to check")
    static let jsonEquals = Param<String?>.string("jsonEquals", "the value jsonField must have")
    static let requestTimeout = Param<Duration>.duration("requestTimeout", default: "5s", "per request")
    public static let schema = StepSchema(url, requests, expectStatus, p95, jsonField, jsonEquals, requestTimeout)

    let http: HTTPClient

    public init(http: HTTPClient) { self.http = http }

    public func execute(_ p: StepParameters, _ ctx: any StepContext) async throws -> Output {
        let url = try p[Self.url]
        let count = try p[Self.requests]
        let expected = try p[Self.expectStatus]
        let timeout = try p[Self.requestTimeout]
        let jsonField = try p[Self.jsonField]
        let jsonEquals = try p[Self.jsonEquals]
        let target = HTTPRequest.redacted(url)
        var latencies: [Int64] = []
        var problems = RequestProblems()
        for _ in 0..<count {
            do {
                let r = try await http.send(HTTPRequest(url: url, connectTimeout: min(timeout, .seconds(5)), totalTimeout: timeout, maxResponseBytes: 1 << 20))
                // The transfer's own time (libcurl's), not the time until this task ran again.
                latencies.append(r.duration.milliseconds)
                if r.status != expected {
                    problems.add("HTTP \(r.status)")
                } else if let field = jsonField, let problem = check(r, field: field, equals: jsonEquals) {
                    problems.add(problem)
                }
            } catch let e as HTTPError {
                problems.add(e)
            }
        }
        if !problems.isEmpty {
            throw StepError(
                code: "unhealthy", message: "\(target): \(problems.failed) of \(count) requests failed (\(problems.detail), expected HTTP \(expected))\(problems.hint)",
                retryable: true)
        }
        let p95 = percentile95(latencies)
        if let limit = try p[Self.p95] {
            let max = limit.milliseconds
            if p95 > max {
                throw StepError(code: "slow", message: "\(target): p95 latency \(p95)ms is over the \(max)ms threshold (\(count) requests)", retryable: true)
            }
        }
        return Output(requests: count, p95Millis: p95, maxMillis: latencies.max() ?? 0)
    }

    private func check(_ r: HTTPResponse, field: String, equals: String?) -> String? {
        guard let json = try? JSONValue.parse(Data(r.body)) else { return "answer is not JSON" }
        guard let value = json[field] else { return "no \"\(field)\" in answer" }
        guard let equals else { return nil }
        let text = value.stringValue ?? value.canonicalString
        return text == equals ? nil : "\(field)=\(text), expected \(equals)"
    }
}
