import Foundation

/// The engine's clock: injected so tests run whole workflows in simulated time.
public protocol RunClock: Sendable {
    func now() -> Date
    /// Sleeps until `deadline`.
    /// - Throws: `CancellationError` when the task is cancelled, or `DeadlineExceeded` when
    ///   the enclosing `withDeadline` passes first.
    func sleep(until deadline: Date) async throws
    /// Runs `body`, abandoning it when `deadline` passes.
    /// - Throws: `DeadlineExceeded`, or what `body` throws.
    func withDeadline<T: Sendable>(_ deadline: Date, _ body: @Sendable @escaping () async throws -> T) async throws -> T
}

public struct DeadlineExceeded: Error, Sendable {
    public init() {}
}

/// Sources of identity and chance: injected so tests are reproducible.
public protocol IDSource: Sendable {
    func newRunID(at: Date) -> String
    /// A number in [0, 1) for retry jitter.
    func unitRandom() -> Double
}
