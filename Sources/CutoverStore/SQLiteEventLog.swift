import CutoverCore
import CutoverCrypto
import Foundation

/// The event log in one SQLite file: append-only, hash-chained, shared safely between
/// processes (WAL, `synchronous=FULL`, immediate transactions for writers).
public final class SQLiteEventLog: EventStore, @unchecked Sendable {
    // @unchecked: every use of `db` and `hasher` happens under `lock`; `pending` and
    // `committing` under `queue`.
    let db: SQLiteDatabase
    private let hasher = SHA256Hasher()
    let lock = NSLock()
    private var commits = 0
    /// Group commit: appends waiting for the next transaction, and whether one is being written.
    private let queue = NSCondition()
    private var pending: [PendingAppend] = []
    private var committing = false
    /// Commits left during which the next writer waits for company; renewed whenever an append
    /// arrives while another is being committed.
    private var contention = 0
    static let contentionMemory = 16
    /// How long a committing writer waits for another append under contention.
    static let commitDelay: TimeInterval = 0.000_3
    public let path: String

    static let schemaVersion = "1"

    /// Opens or creates the log at `path` (the file is created with mode 0600).
    /// - Throws: `EventStoreError.storage` naming the path.
    public init(path: String) throws {
        self.path = path
        db = try SQLiteDatabase(path: path)
        try setUp()
    }

    /// Opens an existing log for reading only (`cutover audit verify` never writes).
    public init(readingOnly path: String) throws {
        self.path = path
        db = try SQLiteDatabase(path: path, readOnly: true)
    }

    private func setUp() throws {
        try db.retryingBusy { try db.execute("PRAGMA journal_mode=WAL") }
        try db.execute("PRAGMA synchronous=FULL")
        var version: String?
        try db.retryingBusy {
            try db.execute("BEGIN IMMEDIATE")
            do {
                try db.execute(Self.schema)
                version = nil
                try db.query("SELECT value FROM meta WHERE key = 'schema'") { version = $0.text(0) }
                if version == nil {
                    try db.query("INSERT INTO meta(key, value) VALUES ('schema', ?)", [.text(Self.schemaVersion)])
                }
                try db.execute("COMMIT")
            } catch {
                try? db.execute("ROLLBACK")
                throw error
            }
        }
        if let version, version != Self.schemaVersion {
            throw EventStoreError.storage("\(path) has schema version \(version), this cutover reads \(Self.schemaVersion)")
        }
    }

    static let schema = """
        CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
        CREATE TABLE IF NOT EXISTS events(
            seq INTEGER PRIMARY KEY,
            run_id TEXT NOT NULL,
            run_seq INTEGER NOT NULL,
            type TEXT NOT NULL,
            at_ms INTEGER NOT NULL,
            actor TEXT NOT NULL,
            body TEXT NOT NULL,
            hash BLOB NOT NULL,
            UNIQUE(run_id, run_seq)
        );
        CREATE TRIGGER IF NOT EXISTS events_no_update BEFORE UPDATE ON events
            BEGIN SELECT RAISE(ABORT, 'events are append-only: UPDATE refused'); END;
        CREATE TRIGGER IF NOT EXISTS events_no_delete BEFORE DELETE ON events
            BEGIN SELECT RAISE(ABORT, 'events are append-only: DELETE refused'); END;
        -- Projection, rebuildable from events: which run holds each service.
        CREATE TABLE IF NOT EXISTS locks(scope TEXT PRIMARY KEY, run_id TEXT NOT NULL);
        -- Coordination, not history: which process may drive a run, until when.
        CREATE TABLE IF NOT EXISTS leases(run_id TEXT PRIMARY KEY, owner TEXT NOT NULL, expires_ms INTEGER NOT NULL);
        -- Signed statements that the chain ended in `hash` at `seq`: append-only like events.
        CREATE TABLE IF NOT EXISTS checkpoints(
            n INTEGER PRIMARY KEY,
            seq INTEGER NOT NULL,
            hash BLOB NOT NULL,
            at_ms INTEGER NOT NULL,
            key TEXT NOT NULL,
            signature BLOB NOT NULL
        );
        CREATE TRIGGER IF NOT EXISTS checkpoints_no_update BEFORE UPDATE ON checkpoints
            BEGIN SELECT RAISE(ABORT, 'checkpoints are append-only: UPDATE refused'); END;
        CREATE TRIGGER IF NOT EXISTS checkpoints_no_delete BEFORE DELETE ON checkpoints
            BEGIN SELECT RAISE(ABORT, 'checkpoints are append-only: DELETE refused'); END;
        """

    static let columns = "seq, run_id, run_seq, type, at_ms, actor, body, hash"

    /// Appends committed through this connection (one durable transaction each), for the benchmark.
    public var appendCommits: Int {
        lock.lock()
        defer { lock.unlock() }
        return commits
    }

    /// Appends with group commit: a writer that arrives while another's transaction is being
    /// written waits, and the next transaction carries every append that waited, each in its
    /// own savepoint (one that fails, a conflict say, takes none of the others with it). One
    /// fsync then serves every run driven in this process at that moment.
    public func append(_ drafts: [EventDraft], to run: String, expectedNext: Int64, options: AppendOptions) throws -> [Event] {
        let mine = PendingAppend(drafts: drafts, run: run, expectedNext: expectedNext, options: options)
        queue.lock()
        pending.append(mine)
        if committing { contention = Self.contentionMemory }
        queue.broadcast()
        while mine.result == nil {
            if committing {
                queue.wait()
                continue
            }
            committing = true
            // Under contention, wait a moment for the other writers' next appends: with as
            // many threads as cores, each has at most one append waiting, and without the
            // wait every transaction would carry a single one. A lone writer never waits.
            if contention > 0, pending.count == 1 {
                let until = Date().addingTimeInterval(Self.commitDelay)
                while pending.count == 1, queue.wait(until: until) {}
            }
            contention = max(0, contention - (pending.count > 1 ? 0 : 1))
            let batch = pending
            pending = []
            queue.unlock()
            let results = commit(batch)
            queue.lock()
            // Results are handed over under `queue`, where their owners read them.
            for (p, r) in zip(batch, results) { p.result = r }
            committing = false
            queue.broadcast()
        }
        queue.unlock()
        return try mine.result!.get()
    }

    /// One durable transaction for `batch`: each request's result, in order.
    private func commit(_ batch: [PendingAppend]) -> [Result<[Event], Error>] {
        lock.lock()
        defer { lock.unlock() }
        commits += 1
        do {
            try db.execute("BEGIN IMMEDIATE")
        } catch {
            return batch.map { _ in .failure(error) }
        }
        var results: [Result<[Event], Error>] = []
        for p in batch {
            // After some errors (disk full, I/O) SQLite rolls the whole transaction back by
            // itself: then nothing more may run, or it would commit on its own, outside the batch.
            guard db.inTransaction else {
                results.append(.failure(EventStoreError.storage("the transaction was rolled back by SQLite after an earlier error; nothing of this append was written")))
                continue
            }
            do {
                if batch.count > 1 { try db.execute("SAVEPOINT append") }
                let events = try appendLocked(p.drafts, to: p.run, expectedNext: p.expectedNext, options: p.options)
                if batch.count > 1 { try db.execute("RELEASE append") }
                results.append(.success(events))
            } catch {
                if batch.count > 1, db.inTransaction {
                    try? db.execute("ROLLBACK TO append")
                    try? db.execute("RELEASE append")
                }
                results.append(.failure(error))
            }
        }
        guard db.inTransaction else {
            // Rolled back by SQLite: nothing of the batch is on disk, successes included.
            return results.map { r in
                if case .failure = r { return r }
                return .failure(EventStoreError.storage("the transaction was rolled back by SQLite after an error in the same batch; nothing was written"))
            }
        }
        if !results.contains(where: { if case .success = $0 { true } else { false } }) {
            try? db.execute("ROLLBACK")
            return results
        }
        do {
            try db.execute("COMMIT")
            return results
        } catch {
            try? db.execute("ROLLBACK")
            return batch.map { _ in .failure(error) }
        }
    }

    private func appendLocked(_ drafts: [EventDraft], to run: String, expectedNext: Int64, options: AppendOptions) throws -> [Event] {
        let nowMillis = Self.millis(options.now)
        if let owner = options.leaseOwner {
            var holder: (String, Int64)?
            try db.query("SELECT owner, expires_ms FROM leases WHERE run_id = ?", [.text(run)]) { holder = ($0.text(0), $0.int(1)) }
            guard let holder, holder.0 == owner else { throw EventStoreError.leaseLost(run: run, owner: holder?.0) }
            // An expired lease still fences correctly as long as nobody took it over.
            try db.query(
                "UPDATE leases SET expires_ms = ? WHERE run_id = ?",
                [.int(nowMillis + options.leaseTTL.milliseconds), .text(run)])
        }
        var last: Int64 = 0
        try db.query("SELECT COALESCE(MAX(run_seq), 0) FROM events WHERE run_id = ?", [.text(run)]) { last = $0.int(0) }
        guard last == expectedNext - 1 else {
            throw EventStoreError.conflict(run: run, expected: expectedNext, actual: last + 1)
        }
        if let scope = options.lockScope {
            var holder: String?
            try db.query("SELECT run_id FROM locks WHERE scope = ?", [.text(scope)]) { holder = $0.text(0) }
            if let holder, holder != run { throw EventStoreError.scopeLocked(scope: scope, heldBy: holder) }
            try db.query("INSERT OR REPLACE INTO locks(scope, run_id) VALUES (?, ?)", [.text(scope), .text(run)])
        }
        var seq: Int64 = 0
        var previous = [UInt8](repeating: 0, count: SHA256.byteCount)
        try db.query("SELECT seq, hash FROM events ORDER BY seq DESC LIMIT 1") {
            seq = $0.int(0)
            previous = $0.blob(1)
        }
        var appended: [Event] = []
        appended.reserveCapacity(drafts.count)
        for (i, draft) in drafts.enumerated() {
            seq += 1
            let runSeq = expectedNext + Int64(i)
            let bodyJSON: String
            do { bodyJSON = try draft.body.encodedPayload() } catch {
                throw EventStoreError.storage("cannot encode \(draft.body.typeName): \(error)")
            }
            let canonical = Event.canonicalBytes(
                seq: seq, runID: run, runSeq: runSeq, atMillis: draft.atMillis, actor: draft.actor,
                type: draft.body.typeName, bodyJSON: bodyJSON)
            hasher.update(previous)
            hasher.update(canonical)
            let hash = hasher.finish()
            try db.query(
                "INSERT INTO events(\(Self.columns)) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                [.int(seq), .text(run), .int(runSeq), .text(draft.body.typeName), .int(draft.atMillis),
                 .text(draft.actor), .text(bodyJSON), .blob(hash)])
            appended.append(Event(
                seq: seq, runID: run, runSeq: runSeq, atMillis: draft.atMillis, actor: draft.actor,
                body: draft.body, bodyJSON: bodyJSON, hash: Hex.encode(hash)))
            previous = hash
        }
        if let scope = options.unlockScope {
            try db.query("DELETE FROM locks WHERE scope = ? AND run_id = ?", [.text(scope), .text(run)])
        }
        return appended
    }

    public func events(of run: String, after: Int64) throws -> [Event] {
        lock.lock()
        defer { lock.unlock() }
        var out: [Event] = []
        var failure: Error?
        try db.query(
            "SELECT \(Self.columns) FROM events WHERE run_id = ? AND run_seq > ? ORDER BY run_seq",
            [.text(run), .int(after)]
        ) { row in
            do { out.append(try Self.event(row)) } catch { failure = failure ?? error }
        }
        if let failure { throw failure }
        return out
    }

    /// Folds a run row by row, without holding its events: memory stays flat however long the
    /// run. Notes, most of a long monitor step's events, are folded from the step they name,
    /// read from the stored bytes (`StepNoteBytes`); any other row is decoded in full.
    public func fold(_ run: String) throws -> RunState? {
        lock.lock()
        defer { lock.unlock() }
        var state = RunState(runID: run)
        var any = false
        var note = StepNoteBytes()
        // Everything but the hash, which a fold does not read, and the run id, which it knows.
        try db.query("SELECT seq, ?1, run_seq, type, at_ms, actor, body FROM events WHERE run_id = ?1 ORDER BY run_seq", [.text(run)]) { row in
            any = true
            if StepNoteBytes.isNote(row.bytes(3)), let step = note.step(of: row.bytes(6)) {
                try state.applyNote(step: step, seq: row.int(0), runSeq: row.int(2), atMillis: row.int(4))
            } else {
                try state.apply(try Self.event(row, hashed: false))
            }
        }
        return any ? state : nil
    }

    public func runIDs() throws -> [String] {
        lock.lock()
        defer { lock.unlock() }
        var out: [String] = []
        try db.query("SELECT run_id FROM events WHERE run_seq = 1 ORDER BY seq") {
            let id = $0.text(0)
            if !ScheduleStream.isSchedule(id) { out.append(id) }
        }
        return out
    }

    public func scheduleNames() throws -> [String] {
        lock.lock()
        defer { lock.unlock() }
        var out: [String] = []
        try db.query("SELECT run_id FROM events WHERE run_seq = 1 AND run_id >= 'schedule:' AND run_id < 'schedule;' ORDER BY seq") {
            if let name = ScheduleStream.name(of: $0.text(0)) { out.append(name) }
        }
        return out
    }

    public func acquireLease(run: String, owner: String, now: Date, ttl: Duration, isGone: (String) -> Bool) throws {
        lock.lock()
        defer { lock.unlock() }
        try db.execute("BEGIN IMMEDIATE")
        do {
            var holder: (String, Int64)?
            try db.query("SELECT owner, expires_ms FROM leases WHERE run_id = ?", [.text(run)]) { holder = ($0.text(0), $0.int(1)) }
            if let holder, holder.0 != owner, holder.1 > Self.millis(now), !isGone(holder.0) {
                throw EventStoreError.leaseHeld(run: run, owner: holder.0)
            }
            try db.query(
                "INSERT OR REPLACE INTO leases(run_id, owner, expires_ms) VALUES (?, ?, ?)",
                [.text(run), .text(owner), .int(Self.millis(now) + ttl.milliseconds)])
            try db.execute("COMMIT")
        } catch {
            try? db.execute("ROLLBACK")
            throw error
        }
    }

    public func releaseLease(run: String, owner: String) throws {
        lock.lock()
        defer { lock.unlock() }
        try db.query("DELETE FROM leases WHERE run_id = ? AND owner = ?", [.text(run), .text(owner)])
    }

    public func leaseHolder(run: String) throws -> (owner: String, expires: Date)? {
        lock.lock()
        defer { lock.unlock() }
        var out: (String, Date)?
        try db.query("SELECT owner, expires_ms FROM leases WHERE run_id = ?", [.text(run)]) {
            out = ($0.text(0), Date(timeIntervalSince1970: Double($0.int(1)) / 1_000))
        }
        return out
    }

    public func lockHolder(scope: String) throws -> String? {
        lock.lock()
        defer { lock.unlock() }
        var out: String?
        try db.query("SELECT run_id FROM locks WHERE scope = ?", [.text(scope)]) { out = $0.text(0) }
        return out
    }

    /// Calls `visit` with every event in global order, without loading the log whole.
    /// - Throws: what `visit` throws, or a storage error.
    public func forEachEvent(from seq: Int64 = 1, through last: Int64 = .max, _ visit: (StoredEvent) throws -> Void) throws {
        lock.lock()
        defer { lock.unlock() }
        try db.query("SELECT \(Self.columns) FROM events WHERE seq >= ? AND seq <= ? ORDER BY seq", [.int(seq), .int(last)]) { row in
            try visit(StoredEvent(
                seq: row.int(0), runID: row.text(1), runSeq: row.int(2), type: row.text(3), atMillis: row.int(4),
                actor: row.text(5), bodyJSON: row.text(6), hash: row.blob(7)))
        }
    }

    /// A pragma's value on this connection, for checks of durability settings.
    func pragma(_ name: String) throws -> String {
        lock.lock()
        defer { lock.unlock() }
        var out = ""
        try db.query("PRAGMA \(name)") { out = $0.text(0) }
        return out
    }

    static func event(_ row: SQLRow, hashed: Bool = true) throws -> Event {
        let type = row.text(3)
        let bodyJSON = row.text(6)
        return Event(
            seq: row.int(0), runID: row.text(1), runSeq: row.int(2), atMillis: row.int(4), actor: row.text(5),
            body: try EventBody.decode(type: type, payload: bodyJSON), bodyJSON: bodyJSON, hash: hashed ? Hex.encode(row.blob(7)) : "")
    }

    static func millis(_ date: Date) -> Int64 { Int64((date.timeIntervalSince1970 * 1_000).rounded(.down)) }
}

/// One writer's append waiting for a group commit; `result` is set by whichever writer commits it.
private final class PendingAppend {
    let drafts: [EventDraft]
    let run: String
    let expectedNext: Int64
    let options: AppendOptions
    /// Written and read under `queue`.
    var result: Result<[Event], Error>?

    init(drafts: [EventDraft], run: String, expectedNext: Int64, options: AppendOptions) {
        self.drafts = drafts
        self.run = run
        self.expectedNext = expectedNext
        self.options = options
    }
}

/// An event as stored, before its body is decoded: what the chain check reads.
public struct StoredEvent: Sendable {
    public init(seq: Int64, runID: String, runSeq: Int64, type: String, atMillis: Int64, actor: String, bodyJSON: String, hash: [UInt8]) {
        self.seq = seq
        self.runID = runID
        self.runSeq = runSeq
        self.type = type
        self.atMillis = atMillis
        self.actor = actor
        self.bodyJSON = bodyJSON
        self.hash = hash
    }

    public let seq: Int64
    public let runID: String
    public let runSeq: Int64
    public let type: String
    public let atMillis: Int64
    public let actor: String
    public let bodyJSON: String
    public let hash: [UInt8]
}
