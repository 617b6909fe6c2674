import CutoverCore
import CutoverNet
import Foundation

/// `cutover.monitor`: probes the new endpoint for a window; fails when the error rate or the
/// p95 latency breaches the runbook's thresholds.
public struct CutoverMonitor: StepType {
    public struct Output: Codable, Sendable, Equatable {
        public var requests: Int
        public var errors: Int
        public var errorRate: Double
        public var p95Millis: Int64
        public var windowMillis: Int64
    }

    public static let name = "cutover.monitor"
    public static let summary = "Probes the new endpoint for a window; fails when the error rate or the p95 latency goes over the runbook's thresholds. Changes nothing."
    public static let kind = StepKind.check
    static let url = Param<String>.url("url", "the endpoint now serving, probed with GET")
    static let window = Param<Duration>.duration("window", "how long to watch")
    static let interval = Param<Duration>.duration("interval", default: "500ms", "time between probes")
    static let p95 = Param<Duration?>.duration("p95", "the highest acceptable 95th-percentile latency")
    static let errorRate = Param<Double>.number("errorRate", 0...1, default: 0, "the highest acceptable fraction of failed probes")
    static let requestTimeout = Param<Duration>.duration("requestTimeout", default: "5s", "per probe")
    public static let schema = StepSchema(url, window, interval, p95, errorRate, requestTimeout)

    /// A window the step's timeout cuts short would fail every run after the pivot.
    public static func problems(with: [String: JSONValue], timeout: Duration?) -> [(field: String, problem: String)] {
        guard let window = with["window"]?.stringValue.flatMap(DurationText.parse) else { return [] }
        var out: [(field: String, problem: String)] = []
        if let timeout, window >= timeout {
            out.append(("timeout", "\(DurationText.format(timeout)) is not longer than the monitor's window (\(DurationText.format(window))): the step would always time out; give it a longer timeout"))
        }
        if let interval = with["interval"]?.stringValue.flatMap(DurationText.parse), interval > window {
            out.append(("interval", "\(DurationText.format(interval)) between probes is longer than the window (\(DurationText.format(window))): nothing would be measured"))
        }
        return out
    }

    let http: HTTPClient
    public init(http: HTTPClient) { self.http = http }

    public func execute(_ p: StepParameters, _ ctx: any StepContext) async throws -> Output {
        let url = try p[Self.url]
        let window = try p[Self.window]
        let interval = try p[Self.interval]
        let timeout = try p[Self.requestTimeout]
        let maxErrorRate = try p[Self.errorRate]
        let target = HTTPRequest.redacted(url)
        let started = ctx.now()
        let end = started.adding(window)
        var latencies: [Int64] = []
        var errors = 0
        var problems: [String: Int] = [:]
        var next = started
        while ctx.now() < end {
            let t0 = ctx.now()
            do {
                let r = try await http.send(HTTPRequest(url: url, connectTimeout: min(timeout, .seconds(3)), totalTimeout: timeout, maxResponseBytes: 1 << 20))
                if !(200..<300).contains(r.status) {
                    errors += 1
                    problems["HTTP \(r.status)", default: 0] += 1
                }
                // The transfer's own time (libcurl's), not the time until this task ran again.
                latencies.append(r.duration.milliseconds)
            } catch let e as HTTPError {
                errors += 1
                problems[e.kind.rawValue, default: 0] += 1
                latencies.append(millis(since: t0, ctx))
            }
            next = next.adding(interval)
            if next > ctx.now(), next < end { try await ctx.sleep(until: next) }
        }
        let count = latencies.count
        let sorted = latencies.sorted()
        let p95 = sorted.isEmpty ? 0 : sorted[max(0, Int((Double(count) * 0.95).rounded(.up)) - 1)]
        let rate = count == 0 ? 1 : Double(errors) / Double(count)
        let out = Output(requests: count, errors: errors, errorRate: rate, p95Millis: p95, windowMillis: window.milliseconds)
        var breaches: [String] = []
        if rate > maxErrorRate {
            let detail = problems.keys.sorted().map { "\($0) x\(problems[$0]!)" }.joined(separator: ", ")
            breaches.append("error rate \(percent(rate)) over \(percent(maxErrorRate)) (\(errors) of \(count): \(detail))")
        }
        if let limit = try p[Self.p95] {
            let max = limit.milliseconds
            if p95 > max { breaches.append("p95 latency \(p95)ms over \(max)ms") }
        }
        guard breaches.isEmpty else {
            throw StepError(code: "monitor-breach", message: "\(target) breached its thresholds during the \(DurationText.format(window)) window: \(breaches.joined(separator: "; "))", retryable: false)
        }
        try await ctx.note("\(target): \(count) probes in \(DurationText.format(window)), error rate \(percent(rate)), p95 \(p95)ms")
        return out
    }

    private func percent(_ x: Double) -> String {
        let v = (x * 1_000).rounded() / 10
        return "\(v)%"
    }
}
