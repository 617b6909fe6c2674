import CutoverCore
import CutoverNet
import Foundation

/// Milliseconds from `start` to the engine's now.
func millis(since start: Date, _ ctx: any StepContext) -> Int64 {
    Int64((ctx.now().timeIntervalSince(start) * 1_000).rounded())
}

/// The 95th percentile of `latencies` (nearest rank), 0 when there are none.
func percentile95(_ latencies: [Int64]) -> Int64 {
    let sorted = latencies.sorted()
    guard !sorted.isEmpty else { return 0 }
    return sorted[max(0, Int((Double(sorted.count) * 0.95).rounded(.up)) - 1)]
}

/// What went wrong across the requests of a probe (`health.http`, `inference.check`), counted by
/// kind, for one message: `3 of 5 requests failed (HTTP 503 x3)`.
struct RequestProblems {
    private(set) var counts: [String: Int] = [:]
    private var lastTransportError: HTTPError?

    mutating func add(_ problem: String) { counts[problem, default: 0] += 1 }

    mutating func add(_ error: HTTPError) {
        lastTransportError = error
        add(error.kind.rawValue)
    }

    var isEmpty: Bool { counts.isEmpty }
    var failed: Int { counts.values.reduce(0, +) }
    /// `HTTP 503 x3, timeout x2`, by kind.
    var detail: String { counts.keys.sorted().map { "\($0) x\(counts[$0]!)" }.joined(separator: ", ") }
    /// The last transport error in full (what it tells a person to check), after a `; `.
    var hint: String { lastTransportError.map { "; \($0.description)" } ?? "" }
}
