import Foundation

/// The engine's clock: injected so tests run whole workflows in simulated time.
public protocol RunClock: Sendable {
    func now() -> Date
    /// Time on a clock that never jumps (not set by NTP or a person): what lease deadlines
    /// of this process are measured on. Only differences of it mean anything.
    func uptime() -> Duration
    /// Sleeps until `deadline`.
    /// - Throws: `CancellationError` when the task is cancelled, or `DeadlineExceeded` when
    ///   the enclosing `withDeadline` passes first.
    func sleep(until deadline: Date) async throws
    /// Runs `body`, abandoning it when `deadline` passes.
    /// - Throws: `DeadlineExceeded`, or what `body` throws.
    func withDeadline<T: Sendable>(_ deadline: Date, _ body: @Sendable @escaping () async throws -> T) async throws -> T
}

extension RunClock {
    /// The system's monotonic clock (`ContinuousClock`, which keeps counting while suspended).
    public func uptime() -> Duration { ContinuousClock.now - processStart }
}

private let processStart = ContinuousClock.now

public struct DeadlineExceeded: Error, Sendable {
    public init() {}
}

/// Sources of identity and chance: injected so tests are reproducible.
public protocol IDSource: Sendable {
    func newRunID(at: Date) -> String
    /// A number in [0, 1) for retry jitter.
    func unitRandom() -> Double
}
