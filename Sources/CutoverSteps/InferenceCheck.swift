import CutoverCore
import CutoverNet
import Foundation

/// `inference.check`: the DR tests of the runbook, as steps. POSTs a JSON payload to the
/// model's endpoint N times; every answer must be HTTP 200 with a non-empty `recommendations`
/// list and, when asked, the model version the registry's manifest names (DR serving an older
/// model is not DR); the p95 latency must stay within the threshold. One request with the
/// version is the inference test; many with `p95` the performance test.
public struct InferenceCheck: StepType {
    public struct Output: Codable, Sendable, Equatable {
        public var requests: Int
        public var p95Millis: Int64
        /// How many recommendations the last answer held.
        public var recommendations: Int
        public var modelVersion: String?
    }

    public static let name = "inference.check"
    public static let summary = "POSTs the runbook's test payload to the inference endpoint and checks the answer: non-empty recommendations, the model version the registry names, the p95 over N requests. Changes nothing."
    public static let kind = StepKind.check
    static let url = Param<String>.url("url", "the inference endpoint, like \"${runbook.dr.endpoint}/recommend\"")
    static let payload = Param<JSONValue>.object("payload", "the JSON body of each request, like {\"user\": \"dr-check\", \"count\": 5}")
    static let requests = Param<Int>.integer("requests", 1...10_000, default: 1, "how many requests")
    static let p95 = Param<Duration?>.duration("p95", "the highest acceptable 95th-percentile latency")
    static let modelVersion = Param<String?>.string("modelVersion", "the version every answer must name, like \"${steps.models-verify.output.version}\"")
    static let listField = Param<String>.string("listField", default: "recommendations", "the answer's field holding the list that must not be empty")
    static let versionField = Param<String>.string("versionField", default: "modelVersion", "the answer's field naming the model version")
    static let requestTimeout = Param<Duration>.duration("requestTimeout", default: "5s", "per request")
    public static let schema = StepSchema(url, payload, requests, p95, modelVersion, listField, versionField, requestTimeout)

    let http: HTTPClient

    public init(http: HTTPClient) { self.http = http }

    public func execute(_ p: StepParameters, _ ctx: any StepContext) async throws -> Output {
        let url = try p[Self.url]
        let count = try p[Self.requests]
        let timeout = try p[Self.requestTimeout]
        let body = try p[Self.payload].canonicalBytes
        let (listField, versionField, wanted) = (try p[Self.listField], try p[Self.versionField], try p[Self.modelVersion])
        let target = HTTPRequest.redacted(url)
        var latencies: [Int64] = []
        var problems = RequestProblems()
        var last: (count: Int, version: String?) = (0, nil)
        for _ in 0..<count {
            do {
                let r = try await http.send(HTTPRequest(
                    method: "POST", url: url, headers: [("Content-Type", "application/json"), ("Accept", "application/json")], body: body,
                    connectTimeout: min(timeout, .seconds(5)), totalTimeout: timeout, maxResponseBytes: 4 << 20))
                latencies.append(r.duration.milliseconds)
                guard r.status == 200 else {
                    problems.add("HTTP \(r.status)")
                    continue
                }
                guard let json = try? JSONValue.parse(Data(r.body)), json.objectValue != nil else {
                    problems.add("answer is not a JSON object")
                    continue
                }
                guard let list = json[listField]?.arrayValue else {
                    problems.add("no \"\(listField)\" list in the answer")
                    continue
                }
                let version = json[versionField].map { $0.stringValue ?? $0.canonicalString }
                last = (list.count, version)
                if list.isEmpty { problems.add("\"\(listField)\" is empty") }
                if let wanted, version != wanted {
                    let served = version.map { TerminalText.escaped(String($0.prefix(64))) } ?? "no \(versionField)"
                    problems.add("serves model \(served), not \(wanted)")
                }
            } catch let e as HTTPError {
                problems.add(e)
            }
        }
        if !problems.isEmpty {
            let wrongModel = problems.counts.keys.contains { $0.hasPrefix("serves model") }
            throw StepError(
                code: wrongModel ? "wrong-model" : "inference-failed",
                message: "\(target): \(problems.failed) of \(count) inference requests failed (\(problems.detail))\(problems.hint)", retryable: !wrongModel)
        }
        let p95 = percentile95(latencies)
        if let limit = try p[Self.p95], p95 > limit.milliseconds {
            throw StepError(code: "slow", message: "\(target): p95 latency \(p95)ms is over the \(limit.milliseconds)ms threshold (\(count) inference requests)", retryable: true)
        }
        try await ctx.note("\(target): \(count) inference request\(count == 1 ? "" : "s"), \(last.count) recommendations\(last.version.map { ", model \($0)" } ?? ""), p95 \(p95)ms")
        return Output(requests: count, p95Millis: p95, recommendations: last.count, modelVersion: last.version)
    }
}
