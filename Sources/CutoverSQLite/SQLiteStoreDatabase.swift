import CutoverCore
import CutoverStore
import Foundation

/// The event log's tables in one SQLite file: append-only (triggers refuse UPDATE and DELETE of
/// events and checkpoints), shared safely between processes (WAL, `synchronous=FULL`,
/// immediate transactions for writers, a busy timeout), created with mode 0600.
public final class SQLiteStoreDatabase: StoreDatabase {
    let db: SQLiteDatabase
    public let path: String
    /// The file this connection opened (device and inode), to notice it deleted or replaced.
    private let identity: FileIdentity?

    public var location: String { path }

    /// Opens or creates the database at `path`, its schema made or checked.
    /// - Throws: `StoreError` naming the path.
    public init(path: String) throws {
        self.path = path
        db = try SQLiteDatabase(path: path)
        try SQLiteSchema.setUp(db, path: path)
        identity = FileIdentity(path)
        try Self.keepPrivate(path)
    }

    /// The database holds who did what to production: readable by its owner only. One made
    /// 0644 by hand or by another tool is narrowed to 0600 when opened for writing (its WAL
    /// and shared-memory files too); one this process may not narrow is refused.
    static func keepPrivate(_ path: String) throws {
        for file in [path, path + "-wal", path + "-shm"] {
            var st = stat()
            guard stat(file, &st) == 0, st.st_mode & 0o077 != 0 else { continue }
            guard chmod(file, st.st_mode & 0o700) == 0 else {
                throw StoreError(.readOnly, "\(file) can be read or written by others (mode \(String(st.st_mode & 0o777, radix: 8))) and this process cannot narrow it: chmod 600 \(file)", retryable: false)
            }
        }
    }

    /// Opens an existing database for reading only (`cutover audit verify` never writes).
    /// - Throws: `StoreError` with code `.unavailable` when there is no such file.
    public init(readingOnly path: String) throws {
        self.path = path
        db = try SQLiteDatabase(path: path, readOnly: true)
        identity = FileIdentity(path)
    }

    /// The path still names the file this connection opened. A database deleted, moved or
    /// replaced under a running driver would otherwise take its events into a file nobody
    /// can find again.
    public func confirmLocation() throws {
        guard let identity else { return }
        guard let now = FileIdentity(path) else {
            throw StoreError(
                .unavailable,
                "the database \(path) is gone: it was deleted or moved while this process had it open; stopping before any further change. Find out who removed it; what this process wrote after that is lost with the file",
                retryable: false)
        }
        guard now == identity else {
            throw StoreError(
                .unavailable,
                "the database \(path) was replaced by another file while this process had it open; stopping before any further change. The events this process wrote are in the file that was there before",
                retryable: false)
        }
    }

    static let columns = "seq, run_id, run_seq, type, at_ms, actor, body, hash"

    // MARK: Transactions

    public func begin() throws {
        try confirmLocation()
        try db.execute("BEGIN IMMEDIATE")
    }
    public func commit() throws { try db.execute("COMMIT") }
    public func rollback() { try? db.execute("ROLLBACK") }
    public var inTransaction: Bool { db.inTransaction }
    public func savepoint() throws { try db.execute("SAVEPOINT append") }
    public func releaseSavepoint() throws { try db.execute("RELEASE append") }

    public func rollbackToSavepoint() {
        try? db.execute("ROLLBACK TO append")
        try? db.execute("RELEASE append")
    }

    // MARK: Writes

    public func lastLink() throws -> ChainLink? {
        var out: ChainLink?
        try db.query("SELECT seq, hash FROM events ORDER BY seq DESC LIMIT 1") { out = ChainLink(seq: $0.int(0), hash: $0.blob(1)) }
        return out
    }

    public func lastPosition(of run: String) throws -> Int64 {
        var last: Int64 = 0
        try db.query("SELECT COALESCE(MAX(run_seq), 0) FROM events WHERE run_id = ?", [.text(run)]) { last = $0.int(0) }
        return last
    }

    public func insert(seq: Int64, run: String, runSeq: Int64, type: String, atMillis: Int64, actor: String, body: String, hash: [UInt8]) throws {
        try db.query(
            "INSERT INTO events(\(Self.columns)) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            [.int(seq), .text(run), .int(runSeq), .text(type), .int(atMillis), .text(actor), .text(body), .blob(hash)])
    }

    public func lease(of run: String) throws -> Lease? {
        var out: Lease?
        try db.query("SELECT owner, expires_ms FROM leases WHERE run_id = ?", [.text(run)]) { out = Lease(owner: $0.text(0), expiresMillis: $0.int(1)) }
        return out
    }

    public func putLease(_ lease: Lease, run: String) throws {
        try db.query("INSERT OR REPLACE INTO leases(run_id, owner, expires_ms) VALUES (?, ?, ?)", [.text(run), .text(lease.owner), .int(lease.expiresMillis)])
    }

    public func deleteLease(run: String, owner: String) throws {
        try db.query("DELETE FROM leases WHERE run_id = ? AND owner = ?", [.text(run), .text(owner)])
    }

    public func lockHolder(scope: String) throws -> String? {
        var out: String?
        try db.query("SELECT run_id FROM locks WHERE scope = ?", [.text(scope)]) { out = $0.text(0) }
        return out
    }

    public func putLock(scope: String, run: String) throws {
        try db.query("INSERT OR REPLACE INTO locks(scope, run_id) VALUES (?, ?)", [.text(scope), .text(run)])
    }

    public func deleteLock(scope: String, run: String) throws {
        try db.query("DELETE FROM locks WHERE scope = ? AND run_id = ?", [.text(scope), .text(run)])
    }

    public func insertCheckpoint(_ d: CheckpointDraft) throws -> Int64 {
        var n: Int64 = 0
        try db.query(
            "INSERT INTO checkpoints(seq, hash, at_ms, key, signature) VALUES (?, ?, ?, ?, ?) RETURNING n",
            [.int(d.seq), .blob(d.hash), .int(d.atMillis), .text(d.key), .blob(d.signature)]
        ) { n = $0.int(0) }
        return n
    }

    // MARK: Reads

    private static func row(_ r: SQLRow) -> EventRow {
        EventRow(
            seq: r.int(0), runSeq: r.int(2), atMillis: r.int(4), runID: r.bytes(1), type: r.bytes(3), actor: r.bytes(5), body: r.bytes(6),
            hash: r.bytes(7))
    }

    public func forEachRow(of run: String, after: Int64, hashes: Bool, _ visit: (EventRow) throws -> Void) throws {
        // The run id is the caller's, not read from each row; the hash only when asked.
        var run = run
        try run.withUTF8 { id in
            let runID = UnsafeRawBufferPointer(id)
            let empty = UnsafeRawBufferPointer(start: nil, count: 0)
            let sql = "SELECT seq, run_seq, type, at_ms, actor, body\(hashes ? ", hash" : "") FROM events WHERE run_id = ? AND run_seq > ? ORDER BY run_seq"
            try db.query(sql, [.text(String(decoding: runID, as: UTF8.self)), .int(after)]) { r in
                try visit(EventRow(
                    seq: r.int(0), runSeq: r.int(1), atMillis: r.int(3), runID: runID, type: r.bytes(2), actor: r.bytes(4), body: r.bytes(5),
                    hash: hashes ? r.bytes(6) : empty))
            }
        }
    }

    public func forEachRow(from: Int64, through: Int64, _ visit: (EventRow) throws -> Void) throws {
        try db.query("SELECT \(Self.columns) FROM events WHERE seq >= ? AND seq <= ? ORDER BY seq", [.int(from), .int(through)]) {
            try visit(Self.row($0))
        }
    }

    public func streamIDs() throws -> [String] {
        var out: [String] = []
        try db.query("SELECT run_id FROM events WHERE run_seq = 1 ORDER BY seq") { out.append($0.text(0)) }
        return out
    }

    public func link(at seq: Int64) throws -> ChainLink? {
        var out: ChainLink?
        try db.query("SELECT hash FROM events WHERE seq = ?", [.int(seq)]) { out = ChainLink(seq: seq, hash: $0.blob(0)) }
        return out
    }

    public func span(of run: String) throws -> ClosedRange<Int64>? {
        var out: ClosedRange<Int64>?
        try db.query("SELECT MIN(seq), MAX(seq) FROM events WHERE run_id = ?", [.text(run)]) { row in
            if !row.isNull(0) { out = row.int(0)...row.int(1) }
        }
        return out
    }

    public func checkpoints() throws -> [StoredCheckpoint] {
        var out: [StoredCheckpoint] = []
        // A database from before checkpoints existed has no table: no checkpoints.
        var exists = false
        try db.query("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'checkpoints'") { _ in exists = true }
        guard exists else { return [] }
        try db.query("SELECT n, seq, hash, at_ms, key, signature FROM checkpoints ORDER BY n") { row in
            out.append(StoredCheckpoint(n: row.int(0), seq: row.int(1), hash: row.blob(2), atMillis: row.int(3), key: row.text(4), signature: row.blob(5)))
        }
        return out
    }

    /// A pragma's value on this connection, for checks of durability settings.
    public func pragma(_ name: String) throws -> String {
        var out = ""
        try db.query("PRAGMA \(name)") { out = $0.text(0) }
        return out
    }
}

/// The SQLite event log: `ChainedStore` over `SQLiteStoreDatabase`.
public enum SQLiteStore {
    /// Opens or creates the log at `path` (created with mode 0600).
    /// - Throws: `StoreError` naming the path.
    public static func open(path: String) throws -> ChainedStore {
        ChainedStore(try SQLiteStoreDatabase(path: path))
    }

    /// Opens an existing log for reading only.
    /// - Throws: `StoreError` with code `.unavailable` when there is no such file.
    public static func open(readingOnly path: String) throws -> ChainedStore {
        ChainedStore(try SQLiteStoreDatabase(readingOnly: path))
    }
}

extension SQLiteStoreDatabase {
    /// Runs SQL on a connection of its own to the file at `path`, outside any store (tests
    /// use it to tamper underneath, or to show that tampering is refused).
    /// - Throws: `StoreError` with SQLite's error as the cause.
    public static func execute(_ sql: String, onFileAt path: String) throws {
        try SQLiteDatabase(path: path).execute(sql)
    }
}

/// A file's device and inode: what a path names, as opposed to the path.
struct FileIdentity: Equatable {
    let device: UInt64
    let inode: UInt64

    init?(_ path: String) {
        var st = stat()
        guard stat(path, &st) == 0 else { return nil }
        device = UInt64(st.st_dev)
        inode = UInt64(st.st_ino)
    }
}
