import Foundation

/// A step's failure as recorded in the log: a stable code, a message for people, and
/// whether trying again could help.
public struct StepError: Error, Codable, Sendable, Equatable, CustomStringConvertible {
    public var code: String
    public var message: String
    public var retryable: Bool

    public init(code: String, message: String, retryable: Bool) {
        self.code = code
        self.message = message
        self.retryable = retryable
    }

    public var description: String { message }

    public static func badParameters(_ message: String) -> StepError {
        StepError(code: "bad-parameters", message: message, retryable: false)
    }

    public static func timeout(_ step: String, after: Duration) -> StepError {
        StepError(
            code: "timeout",
            message: "step \(step) did not finish within its timeout of \(DurationText.format(after))",
            retryable: true)
    }

    /// The driving process stopped during the attempt; recorded when a resume settles it.
    public static let interrupted = StepError(
        code: "interrupted",
        message: "the process driving this attempt stopped before recording an outcome",
        retryable: true)

    public static let cancelledCode = "cancelled"

    /// A member of a parallel group stopped at a safe point because its group stops (a
    /// sibling failed, or an abort), with nothing of its change in place; not tried again.
    public static func cancelled(_ step: String, because reason: String) -> StepError {
        StepError(code: cancelledCode, message: "step \(step) was cancelled: \(reason)", retryable: false)
    }
}

/// How a step relates to rollback.
public enum StepKind: String, Codable, Sendable {
    /// Reads only; nothing to compensate.
    case check
    /// Changes something and records the state before, so compensation can restore it.
    case compensable
    /// Changes something after which automatic rollback is unsafe (writes enabled on DR).
    case pivot
}

/// When and how often a failed step is tried again.
public struct RetryPolicy: Codable, Sendable, Equatable {
    /// Total attempts, the first included.
    public var attempts: Int
    public var initialBackoffMillis: Int64
    public var multiplier: Double
    public var maxBackoffMillis: Int64
    /// Fraction of the backoff added or removed at random (0.2 = ±20%).
    public var jitter: Double
    /// Error codes that are never retried, whatever the step says.
    public var nonRetryable: [String]

    public init(
        attempts: Int = 3, initialBackoffMillis: Int64 = 1_000, multiplier: Double = 2,
        maxBackoffMillis: Int64 = 30_000, jitter: Double = 0.2, nonRetryable: [String] = []
    ) {
        self.attempts = attempts
        self.initialBackoffMillis = initialBackoffMillis
        self.multiplier = multiplier
        self.maxBackoffMillis = maxBackoffMillis
        self.jitter = jitter
        self.nonRetryable = nonRetryable
    }

    public static let `default` = RetryPolicy()

    /// Whether attempt number `attempt`, which failed with `error`, is followed by another.
    public func allowsRetry(after attempt: Int, error: StepError) -> Bool {
        if error.code == StepError.interrupted.code { return true }
        return error.retryable && attempt < attempts && !nonRetryable.contains(error.code)
    }

    /// The wait before attempt `attempt + 1`; `unit` is a random number in [0, 1).
    public func backoffMillis(after attempt: Int, unit: Double) -> Int64 {
        let exponent = Double(max(0, attempt - 1))
        let base = min(Double(maxBackoffMillis), Double(initialBackoffMillis) * pow(multiplier, exponent))
        let spread = base * jitter * (unit * 2 - 1)
        return max(0, min(Int64(maxBackoffMillis), Int64((base + spread).rounded())))
    }
}

/// A failure that knows how to read as a step error: each provider and transport maps its own
/// errors (a stable code, the target named, retryable when waiting could help, never a secret).
public protocol StepFailure: Error {
    func stepError(doing what: String) -> StepError
}

extension StepError {
    /// `error` as a step error that says what was being done; errors that are neither step
    /// errors nor `StepFailure`s (a cancelled task, an interruption) pass through unchanged.
    public static func from(_ error: Error, doing what: String) -> Error {
        if let e = error as? StepFailure { return e.stepError(doing: what) }
        return error
    }
}

/// Runs a provider call, turning its failure into a step error that says what was being done.
public func calling<T>(_ what: @autoclosure () -> String, _ body: () async throws -> T) async throws -> T {
    do { return try await body() } catch { throw StepError.from(error, doing: what()) }
}
