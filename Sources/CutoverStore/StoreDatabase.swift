import CutoverCore

/// What a database gives the store: transactions, and the rows of four tables (events,
/// leases, locks, checkpoints). An adapter (SQLite today) implements it and owns its C
/// library; the chain, fencing, group commit and the fold above it are the same for every
/// database (`ChainedStore`). Not `Sendable`: `ChainedStore` serialises every call.
///
/// Every method throws `StoreError`, its cause the database's own error.
public protocol StoreDatabase: AnyObject {
    /// Where the database is, for messages (never with a password).
    var location: String { get }
    /// The role the database authenticated this connection as, when it has one.
    var sessionActor: String? { get }
    /// Confirms the location still names the database this connection opened (a file not
    /// deleted or replaced; later, a PostgreSQL cluster's identity).
    /// - Throws: `StoreError` `.unavailable`, not retryable, when it does not.
    func confirmLocation() throws

    // MARK: Transactions
    /// Starts a durable write transaction that excludes other writers, in this process and others.
    func begin() throws
    func commit() throws
    func rollback()
    /// Whether a transaction is open (a database may roll one back by itself after an error).
    var inTransaction: Bool { get }
    /// A savepoint inside the transaction, so one append of a group commit can fail alone.
    func savepoint() throws
    func releaseSavepoint() throws
    func rollbackToSavepoint()

    // MARK: Inside a write transaction
    /// The last event's position and hash.
    func lastLink() throws -> ChainLink?
    /// The last run position of `run` (0 when it has none).
    func lastPosition(of run: String) throws -> Int64
    /// Inserts one event row exactly as given.
    func insert(seq: Int64, run: String, runSeq: Int64, type: String, atMillis: Int64, actor: String, body: String, hash: [UInt8]) throws
    func lease(of run: String) throws -> Lease?
    func putLease(_ lease: Lease, run: String) throws
    func deleteLease(run: String, owner: String) throws
    func lockHolder(scope: String) throws -> String?
    func putLock(scope: String, run: String) throws
    func deleteLock(scope: String, run: String) throws
    func insertCheckpoint(_ draft: CheckpointDraft) throws -> Int64

    // MARK: Reads
    func forEachRow(of run: String, after: Int64, hashes: Bool, _ visit: (EventRow) throws -> Void) throws
    func forEachRow(from: Int64, through: Int64, _ visit: (EventRow) throws -> Void) throws
    func streamIDs() throws -> [String]
    func link(at seq: Int64) throws -> ChainLink?
    func span(of run: String) throws -> ClosedRange<Int64>?
    func checkpoints() throws -> [StoredCheckpoint]
}

/// A database across a network, where each statement is a round trip: it can write a whole
/// group commit at once, as one statement in a transaction of its own, checking there what
/// `ChainedStore.apply` checks (the log, the head, each run's lease, position and service
/// lock). `ChainedStore` chains the events itself from the head it last wrote and keeps the
/// slow way, which reads everything again, for whenever this one refuses.
public protocol OneTripAppending: AnyObject {
    /// Writes `batch` in one transaction if `head` is still the log's last link and every
    /// request finds what it expects; each request's lease, when it has an owner, is renewed
    /// to its `leaseExpiresMillis`.
    /// - Returns: false, with nothing written, when anything differs (another writer came
    ///   first, a lease was lost, a service is held): the caller appends the slow way.
    /// - Throws: `StoreError`, as `commit()` does; nothing is known to be written.
    func appendAtOnce(_ batch: [PlannedAppend], after head: ChainLink) throws -> Bool
}

/// One append of a group commit, chained already: what `OneTripAppending` writes and checks.
public struct PlannedAppend {
    public let run: String
    public let leaseOwner: String?
    public let leaseExpiresMillis: Int64
    /// The run position of the first event; the run's last must be the one before.
    public let expectedNext: Int64
    public let lockScope: String?
    public let unlockScope: String?
    public let events: [Event]
}

extension StoreDatabase {
    /// The role the database authenticated this connection as, when it proves one
    /// (PostgreSQL's `session_user`); nil for a file.
    public var sessionActor: String? { nil }
}
