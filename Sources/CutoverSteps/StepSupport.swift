import CutoverCore
import Foundation

/// Milliseconds from `start` to the engine's now.
func millis(since start: Date, _ ctx: any StepContext) -> Int64 {
    Int64((ctx.now().timeIntervalSince(start) * 1_000).rounded())
}
