/// What went wrong in a store, kept whole: a code callers can branch on, a message a person
/// can act on, the underlying error (a SQLite result code, later a PostgreSQL SQLSTATE), and
/// whether trying again can help. Descriptions never carry a secret: a store location is shown
/// without its password.
public struct StoreError: Error, Sendable, CustomStringConvertible {
    public enum Code: String, Sendable, Equatable {
        /// Another writer appended to the run first (optimistic concurrency).
        case conflict
        /// The service already has an active run.
        case scopeLocked
        /// Another live process holds the run's lease.
        case leaseHeld
        /// This process no longer holds the run's lease: it must stop driving.
        case leaseLost
        /// No such run or stream in the log.
        case unknownRun
        /// The database does not exist, cannot be opened or created.
        case unavailable
        /// The location names a kind of store this build does not have.
        case unsupported
        /// The database was made by another version of cutover.
        case schemaMismatch
        /// Another connection holds a lock longer than the store waits.
        case busy
        /// The disk or the database's quota is full.
        case full
        /// The database refuses writes (read-only file, folder or mount).
        case readOnly
        /// The file is not a database, or is damaged.
        case corrupt
        /// The operating system failed a read or write.
        case io
        /// The store refused a change that would rewrite history (append-only).
        case refused
        /// A payload could not be written as canonical JSON.
        case encoding
        /// Anything else the database reported.
        case other
    }

    public let code: Code
    /// What happened and what to do next, for the person at the terminal.
    public let message: String
    /// The error underneath (the database's own), when there is one.
    public let cause: (any Error & Sendable)?
    /// Whether the same call may succeed if tried again unchanged.
    public let isRetryable: Bool
    /// The run, scope and other party an error is about, for callers that act on them.
    public let run: String?
    public let scope: String?
    /// The other process or run: the lease holder, the run holding a scope.
    public let holder: String?
    /// For a conflict: the position the writer expected and where the log is.
    public let expected: Int64?
    public let actual: Int64?

    public init(
        _ code: Code, _ message: String, cause: (any Error & Sendable)? = nil, retryable: Bool? = nil, run: String? = nil,
        scope: String? = nil, holder: String? = nil, expected: Int64? = nil, actual: Int64? = nil
    ) {
        self.code = code
        self.message = message
        self.cause = cause
        self.isRetryable = retryable ?? [.conflict, .busy, .leaseHeld].contains(code)
        self.run = run
        self.scope = scope
        self.holder = holder
        self.expected = expected
        self.actual = actual
    }

    public var description: String { message }

    /// The message and the underlying error, for logs and `--verbose` output.
    public var expandedDescription: String { cause.map { "\(message) (\($0))" } ?? message }

    public static func conflict(run: String, expected: Int64, actual: Int64) -> StoreError {
        StoreError(
            .conflict, "run \(run): another writer appended first (expected position \(expected), the log is at \(actual))", run: run,
            expected: expected, actual: actual)
    }

    public static func scopeLocked(scope: String, heldBy holder: String) -> StoreError {
        StoreError(
            .scopeLocked, "service \(scope) already has an active run, \(holder); finish it, or see `cutover status \(holder)`", scope: scope,
            holder: holder)
    }

    public static func leaseHeld(run: String, owner: String) -> StoreError {
        StoreError(.leaseHeld, "run \(run) is being driven by \(owner); stop that process or wait for its lease to expire", run: run, holder: owner)
    }

    public static func leaseLost(run: String, owner: String?) -> StoreError {
        StoreError(.leaseLost, "run \(run): this process lost its lease\(owner.map { " to \($0)" } ?? ""); it stops driving the run", run: run, holder: owner)
    }

    public static func unknownRun(_ run: String) -> StoreError {
        StoreError(.unknownRun, "no run \(run) in this database; `cutover list` shows the runs", run: run)
    }
}

extension StoreError: Equatable {
    /// Same code, message and subjects (causes are not compared).
    public static func == (a: StoreError, b: StoreError) -> Bool {
        a.code == b.code && a.message == b.message && a.run == b.run && a.scope == b.scope && a.holder == b.holder
            && a.expected == b.expected && a.actual == b.actual && a.isRetryable == b.isRetryable
    }
}
