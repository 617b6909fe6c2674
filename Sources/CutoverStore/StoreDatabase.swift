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
