import CutoverCore
import CutoverPQ
import CutoverStore
import Foundation

/// The event log's tables in a PostgreSQL database, for a team: the same contract as the
/// SQLite file (`ChainedStore` above it keeps the chain, fencing and group commit). Writers
/// exclude each other with a transaction-scoped advisory lock taken first in every write
/// transaction, so appends have one global order and the lease check and the insert are one
/// atomic step; readers are never blocked. The schema is made by `cutover db init`
/// (`PostgresSchema`), never by opening.
public final class PostgresStoreDatabase: StoreDatabase {
    let conn: PQConnection
    public let location: String
    /// The log's random id, read at open: a database dropped and made again is another log.
    private let logID: String
    /// `session_user`, read at open: the actor of every event this connection appends (the
    /// schema's trigger refuses any other).
    public let sessionActor: String?
    private var open = false

    /// The advisory lock every writer takes: "cutover" in ASCII.
    static let writerLock: Int64 = 0x6375_746f_7665_72

    /// Opens the log in the database `uri` names.
    /// - Throws: `StoreError` `.unavailable` when the server does not answer or refuses the
    ///   login, `.schemaMismatch` when there is no log (run `cutover db init`) or one of
    ///   another version.
    public init(uri: String) throws {
        location = StoreLocation.redacted(uri)
        conn = try Self.connect(uri, location)
        do {
            guard let found = try PostgresSchema.version(conn) else {
                throw StoreError(
                    .schemaMismatch,
                    "\(location) holds no cutover event log: create it once with `cutover db init --db URL` (as a role that may create tables), then grant the roles that run cutover",
                    retryable: false)
            }
            guard found == PostgresSchema.version else {
                throw StoreError(
                    .schemaMismatch,
                    found > PostgresSchema.version
                        ? "\(location) holds an event log of schema version \(found), made by a newer cutover; this one reads version \(PostgresSchema.version): upgrade cutover"
                        : "\(location) holds an event log of schema version \(found); this cutover reads version \(PostgresSchema.version): migrate it with `cutover db migrate --db URL` (as the role that made it) once every cutover using it is upgraded",
                    retryable: false)
            }
            let log = try conn.query("SELECT id, session_user::text FROM cutover_log LIMIT 1")
            logID = log.text(0, 0)
            sessionActor = log.text(0, 1)
        } catch let e as PostgresError {
            throw Self.storeError(e, location, doing: "opening the event log")
        }
    }

    static func connect(_ uri: String, _ location: String) throws -> PQConnection {
        do {
            return try PQConnection.open(uri: uri, target: location)
        } catch let e as PostgresError {
            throw storeError(e, location, doing: "connecting")
        }
    }

    /// A PostgreSQL failure as the store's error: a lost connection or a server shutting down
    /// may pass (`.unavailable`, retryable), as may a serialization failure or a deadlock
    /// (`.busy`); a refused privilege or the append-only trigger is `.refused`.
    public static func storeError(_ e: PostgresError, _ location: String, doing what: String) -> StoreError {
        let message = "\(what) on \(location): \(e.message)"
        switch e.code {
        case _ where e.isConnectionLoss: return StoreError(.unavailable, message, cause: e, retryable: true)
        case "auth": return StoreError(.unavailable, message, cause: e, retryable: false)
        case "40001", "40P01", "55P03": return StoreError(.busy, message, cause: e, retryable: true)
        case "42501": return StoreError(.refused, message + " (the role lacks the privilege: `cutover db init --grant ROLE` grants what cutover needs)", cause: e, retryable: false)
        case "P0001", "CV403": return StoreError(.refused, message, cause: e, retryable: false)
        case "53100": return StoreError(.full, message, cause: e, retryable: false)
        case "25006": return StoreError(.readOnly, message, cause: e, retryable: false)
        default: return StoreError(.other, message, cause: e, retryable: e.retryable)
        }
    }

    /// Runs `body`, turning PostgreSQL's errors into the store's.
    private func call<T>(_ what: String, _ body: () throws -> T) throws -> T {
        do { return try body() } catch let e as PostgresError { throw Self.storeError(e, location, doing: what) }
    }

    public func confirmLocation() throws {
        try call("checking the log") {
            if !conn.isOK { try conn.reset() }
            let id = try conn.query("SELECT id FROM cutover_log LIMIT 1")
            guard id.count == 1, id.text(0, 0) == logID else {
                throw replaced
            }
        }
    }

    /// What every write finds when the log id is no longer this process's: the database was
    /// dropped and made again, or replaced, under the driver.
    private var replaced: StoreError {
        StoreError(
            .unavailable,
            "the event log at \(location) is not the one this process opened (it was dropped or replaced); stopping before any further change",
            retryable: false)
    }

    // MARK: Transactions

    public func begin() throws {
        do {
            try call("starting a write") {
                if !conn.isOK { try conn.reset() }
                try conn.execute("BEGIN")
                open = true
                // One writer at a time, in every process; the log id confirmed in the same step.
                let id = try conn.query("SELECT id FROM cutover_log, pg_advisory_xact_lock($1) LIMIT 1", [.int(Self.writerLock)])
                guard id.count == 1, id.text(0, 0) == logID else {
                    throw replaced
                }
            }
        } catch {
            // A transaction begun but not usable is never left open for the next write.
            if open { rollback() }
            throw error
        }
    }

    public func commit() throws {
        defer { open = false }
        try call("committing") { _ = try conn.execute("COMMIT") }
    }

    public func rollback() {
        open = false
        _ = try? conn.execute("ROLLBACK")
    }

    public var inTransaction: Bool { open && conn.isOK }
    public func savepoint() throws { try call("a savepoint") { _ = try conn.execute("SAVEPOINT append") } }
    public func releaseSavepoint() throws { try call("a savepoint") { _ = try conn.execute("RELEASE SAVEPOINT append") } }
    public func rollbackToSavepoint() {
        _ = try? conn.execute("ROLLBACK TO SAVEPOINT append")
        _ = try? conn.execute("RELEASE SAVEPOINT append")
    }

    // MARK: Writes

    public func lastLink() throws -> ChainLink? {
        try call("reading the head") {
            let r = try conn.query("SELECT seq, hash FROM events ORDER BY seq DESC LIMIT 1")
            return r.count == 0 ? nil : ChainLink(seq: r.int(0, 0), hash: Array(r.bytes(0, 1)))
        }
    }

    public func lastPosition(of run: String) throws -> Int64 {
        try call("reading a run's position") { try conn.query("SELECT COALESCE(MAX(run_seq), 0)::bigint FROM events WHERE run_id = $1", [.text(run)]).int(0, 0) }
    }

    public func insert(seq: Int64, run: String, runSeq: Int64, type: String, atMillis: Int64, actor: String, body: String, hash: [UInt8]) throws {
        try call("appending") {
            _ = try conn.query(
                "INSERT INTO events(seq, run_id, run_seq, type, at_ms, actor, body, hash) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                [.int(seq), .text(run), .int(runSeq), .text(type), .int(atMillis), .text(actor), .text(body), .bytes(hash)])
        }
    }

    public func lease(of run: String) throws -> Lease? {
        try call("reading a lease") {
            let r = try conn.query("SELECT owner, expires_ms FROM leases WHERE run_id = $1", [.text(run)])
            return r.count == 0 ? nil : Lease(owner: r.text(0, 0), expiresMillis: r.int(0, 1))
        }
    }

    public func putLease(_ lease: Lease, run: String) throws {
        try call("writing a lease") {
            _ = try conn.query(
                "INSERT INTO leases(run_id, owner, expires_ms) VALUES ($1, $2, $3) ON CONFLICT (run_id) DO UPDATE SET owner = EXCLUDED.owner, expires_ms = EXCLUDED.expires_ms",
                [.text(run), .text(lease.owner), .int(lease.expiresMillis)])
        }
    }

    public func deleteLease(run: String, owner: String) throws {
        try call("releasing a lease") { _ = try conn.query("DELETE FROM leases WHERE run_id = $1 AND owner = $2", [.text(run), .text(owner)]) }
    }

    public func lockHolder(scope: String) throws -> String? {
        try call("reading a service lock") {
            let r = try conn.query("SELECT run_id FROM locks WHERE scope = $1", [.text(scope)])
            return r.count == 0 ? nil : r.text(0, 0)
        }
    }

    public func putLock(scope: String, run: String) throws {
        try call("locking a service") {
            _ = try conn.query(
                "INSERT INTO locks(scope, run_id) VALUES ($1, $2) ON CONFLICT (scope) DO UPDATE SET run_id = EXCLUDED.run_id", [.text(scope), .text(run)])
        }
    }

    public func deleteLock(scope: String, run: String) throws {
        try call("unlocking a service") { _ = try conn.query("DELETE FROM locks WHERE scope = $1 AND run_id = $2", [.text(scope), .text(run)]) }
    }

    public func insertCheckpoint(_ d: CheckpointDraft) throws -> Int64 {
        try call("appending a checkpoint") {
            try conn.query(
                "INSERT INTO checkpoints(seq, hash, at_ms, key, signature) VALUES ($1, $2, $3, $4, $5) RETURNING n",
                [.int(d.seq), .bytes(d.hash), .int(d.atMillis), .text(d.key), .bytes(d.signature)]
            ).int(0, 0)
        }
    }

    // MARK: Reads

    public func forEachRow(of run: String, after: Int64, hashes: Bool, _ visit: (EventRow) throws -> Void) throws {
        let r = try call("reading a run") {
            try conn.query(
                "SELECT seq, run_id, run_seq, type, at_ms, actor, body, \(hashes ? "hash" : "''::bytea") FROM events WHERE run_id = $1 AND run_seq > $2 ORDER BY run_seq",
                [.text(run), .int(after)])
        }
        for i in 0..<r.count { try visit(Self.row(r, i)) }
    }

    public func forEachRow(from: Int64, through: Int64, _ visit: (EventRow) throws -> Void) throws {
        // In pages of rows that exist (positions may be missing in a damaged log), so a long
        // log is never one result in memory.
        let page = 10_000
        var next = from
        while next <= through {
            let r = try call("reading the log") {
                try conn.query(
                    "SELECT seq, run_id, run_seq, type, at_ms, actor, body, hash FROM events WHERE seq >= $1 AND seq <= $2 ORDER BY seq LIMIT \(page)",
                    [.int(next), .int(through)])
            }
            for i in 0..<r.count { try visit(Self.row(r, i)) }
            guard r.count == page else { return }
            next = r.int(r.count - 1, 0) + 1
        }
    }

    private static func row(_ r: PQRows, _ i: Int) -> EventRow {
        EventRow(
            seq: r.int(i, 0), runSeq: r.int(i, 2), atMillis: r.int(i, 4), runID: r.bytes(i, 1), type: r.bytes(i, 3), actor: r.bytes(i, 5),
            body: r.bytes(i, 6), hash: r.bytes(i, 7))
    }

    public func streamIDs() throws -> [String] {
        try call("listing runs") {
            let r = try conn.query("SELECT run_id FROM events WHERE run_seq = 1 ORDER BY seq")
            return (0..<r.count).map { r.text($0, 0) }
        }
    }

    public func link(at seq: Int64) throws -> ChainLink? {
        try call("reading a link") {
            let r = try conn.query("SELECT hash FROM events WHERE seq = $1", [.int(seq)])
            return r.count == 0 ? nil : ChainLink(seq: seq, hash: Array(r.bytes(0, 0)))
        }
    }

    public func span(of run: String) throws -> ClosedRange<Int64>? {
        try call("reading a run's span") {
            let r = try conn.query("SELECT MIN(seq), MAX(seq) FROM events WHERE run_id = $1", [.text(run)])
            return r.isNull(0, 0) ? nil : r.int(0, 0)...r.int(0, 1)
        }
    }

    public func checkpoints() throws -> [StoredCheckpoint] {
        try call("reading checkpoints") {
            let r = try conn.query("SELECT n, seq, hash, at_ms, key, signature FROM checkpoints ORDER BY n")
            return (0..<r.count).map { i in
                StoredCheckpoint(n: r.int(i, 0), seq: r.int(i, 1), hash: Array(r.bytes(i, 2)), atMillis: r.int(i, 3), key: r.text(i, 4), signature: Array(r.bytes(i, 5)))
            }
        }
    }
}

extension PostgresStoreDatabase: OneTripAppending {
    /// The batch as one call of `cutover_append` (schema version 2), in a transaction of its
    /// own: one round trip, one commit.
    public func appendAtOnce(_ batch: [PlannedAppend], after head: ChainLink) throws -> Bool {
        // Each request's fields in arrays of their own, its rows from `firsts[i]` on (1-based).
        var runs: [String?] = [], owners: [String?] = [], expires: [Int64] = [], nexts: [Int64] = [], firsts: [Int64] = []
        var locks: [String?] = [], unlocks: [String?] = []
        var types: [String?] = [], ats: [Int64] = [], actors: [String?] = [], bodies: [String?] = [], hashes: [UInt8] = []
        hashes.reserveCapacity(32 * batch.reduce(0) { $0 + $1.events.count })
        for a in batch {
            runs.append(a.run)
            owners.append(a.leaseOwner)
            expires.append(a.leaseExpiresMillis)
            nexts.append(a.expectedNext)
            firsts.append(Int64(types.count + 1))
            locks.append(a.lockScope)
            unlocks.append(a.unlockScope)
            for e in a.events {
                types.append(e.kind.name)
                ats.append(e.atMillis)
                actors.append(e.actor)
                bodies.append(e.bodyJSON)
                hashes += e.hash
            }
        }
        do {
            if !conn.isOK { try conn.reset() }
            _ = try conn.query(
                "SELECT cutover_append($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)",
                [.text(logID), .int(head.seq), .bytes(head.hash), .texts(runs), .texts(owners), .ints(expires), .ints(nexts), .ints(firsts), .texts(locks), .texts(unlocks),
                 .texts(types), .ints(ats), .texts(actors), .texts(bodies), .bytes(hashes)])
            return true
        } catch let e as PostgresError where e.code == "CV409" {
            return false
        } catch let e as PostgresError where e.code == "CV410" {
            throw replaced
        } catch let e as PostgresError {
            throw Self.storeError(e, location, doing: "appending")
        }
    }
}

/// The PostgreSQL event log: `ChainedStore` over `PostgresStoreDatabase`.
public enum PostgresStore {
    /// Opens the log in the database `uri` names (made by `cutover db init`).
    /// - Throws: `StoreError` naming the database without its password.
    public static func open(uri: String) throws -> ChainedStore {
        ChainedStore(try PostgresStoreDatabase(uri: uri))
    }
}

extension PostgresStoreDatabase {
    /// Runs SQL (statements one per line, each ending in `;`) on a connection of its own to
    /// the database `uri` names, outside any store: tests use it to tamper underneath, or to
    /// show that tampering is refused.
    /// - Throws: `StoreError` with PostgreSQL's error as the cause.
    public static func execute(_ sql: String, uri: String) throws {
        let location = StoreLocation.redacted(uri)
        let conn = try connect(uri, location)
        for statement in PostgresSchema.split(sql) {
            do { try conn.execute(statement) } catch let e as PostgresError { throw storeError(e, location, doing: "running SQL") }
        }
    }
}
