import CutoverCore
import CutoverNet
import Foundation

/// `health.http`: N GET requests to an endpoint; every one must answer the expected status
/// (and JSON field, if asked), and the p95 latency must stay within the threshold.
public struct HealthHTTP: StepType {
    public struct Parameters: Codable, Sendable {
        public var url: String
        public var requests: Int?
        public var expectStatus: Int?
        public var p95: String?
        public var jsonField: String?
        public var jsonEquals: String?
        public var requestTimeout: String?

        public init(
            url: String, requests: Int? = nil, expectStatus: Int? = nil, p95: String? = nil, jsonField: String? = nil,
            jsonEquals: String? = nil, requestTimeout: String? = nil
        ) {
            self.url = url
            self.requests = requests
            self.expectStatus = expectStatus
            self.p95 = p95
            self.jsonField = jsonField
            self.jsonEquals = jsonEquals
            self.requestTimeout = requestTimeout
        }
    }

    public struct Output: Codable, Sendable, Equatable {
        public var requests: Int
        public var p95Millis: Int64
        public var maxMillis: Int64
    }

    public static let name = "health.http"
    public static let kind = StepKind.check
    public static let parameters = [
        ParameterField("url", .url, required: true, "the endpoint to probe"),
        ParameterField("requests", .integer(min: 1), "how many requests (default 5)"),
        ParameterField("expectStatus", .integer(min: 100), "the status every answer must have (default 200)"),
        ParameterField("p95", .duration, "the highest acceptable 95th-percentile latency"),
        ParameterField("jsonField", .string, "a top-level field of the JSON answer to check"),
        ParameterField("jsonEquals", .string, "the value jsonField must have"),
        ParameterField("requestTimeout", .duration, "per request (default 5s)"),
    ]

    let http: HTTPClient

    public init(http: HTTPClient) { self.http = http }

    public func execute(_ p: Parameters, _ ctx: any StepContext) async throws -> Output {
        let count = p.requests ?? 5
        let expected = p.expectStatus ?? 200
        let timeout = try duration(p.requestTimeout ?? "5s", field: "requestTimeout")
        let target = HTTPRequest.redacted(p.url)
        var latencies: [Int64] = []
        var problems: [String: Int] = [:]
        var lastTransportError: HTTPError?
        for _ in 0..<count {
            do {
                let r = try await http.send(HTTPRequest(url: p.url, connectTimeout: min(timeout, .seconds(5)), totalTimeout: timeout, maxResponseBytes: 1 << 20))
                // The transfer's own time (libcurl's), not the time until this task ran again.
                latencies.append(r.duration.milliseconds)
                if r.status != expected {
                    problems["HTTP \(r.status)", default: 0] += 1
                } else if let field = p.jsonField, let problem = check(r, field: field, equals: p.jsonEquals) {
                    problems[problem, default: 0] += 1
                }
            } catch let e as HTTPError {
                lastTransportError = e
                problems[e.kind.rawValue, default: 0] += 1
            }
        }
        if !problems.isEmpty {
            let failed = problems.values.reduce(0, +)
            let detail = problems.keys.sorted().map { "\($0) x\(problems[$0]!)" }.joined(separator: ", ")
            let hint = lastTransportError.map { "; \($0.description)" } ?? ""
            throw StepError(code: "unhealthy", message: "\(target): \(failed) of \(count) requests failed (\(detail), expected HTTP \(expected))\(hint)", retryable: true)
        }
        let sorted = latencies.sorted()
        let p95 = sorted[max(0, Int((Double(sorted.count) * 0.95).rounded(.up)) - 1)]
        if let limit = p.p95 {
            let max = try duration(limit, field: "p95").milliseconds
            if p95 > max {
                throw StepError(code: "slow", message: "\(target): p95 latency \(p95)ms is over the \(max)ms threshold (\(count) requests)", retryable: true)
            }
        }
        return Output(requests: count, p95Millis: p95, maxMillis: sorted.last ?? 0)
    }

    private func check(_ r: HTTPResponse, field: String, equals: String?) -> String? {
        guard let json = try? JSONValue.parse(Data(r.body)) else { return "answer is not JSON" }
        guard let value = json[field] else { return "no \"\(field)\" in answer" }
        guard let equals else { return nil }
        let text = value.stringValue ?? value.canonicalString
        return text == equals ? nil : "\(field)=\(text), expected \(equals)"
    }
}
