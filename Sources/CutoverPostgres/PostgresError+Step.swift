import CutoverCore
import CutoverPQ

/// A PostgreSQL failure met by a step: `postgres-<SQLSTATE or connect/auth>`.
extension PostgresError: StepFailure {
    public func stepError(doing what: String) -> StepError {
        StepError(code: "postgres-\(code)", message: "\(what): \(message)", retryable: retryable)
    }
}
