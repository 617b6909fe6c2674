import CutoverCore
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
