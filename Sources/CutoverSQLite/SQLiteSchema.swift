import CutoverCore
import Foundation

/// The tables of the event log in SQLite, made or checked when a writer opens the file.
enum SQLiteSchema {
    static let version = "1"

    /// WAL and `synchronous=FULL`, then the schema made if missing and its version checked.
    /// - Throws: `StoreError` with code `.schemaMismatch` for a database of another version.
    static func setUp(_ db: SQLiteDatabase, path: String) throws {
        try db.retryingBusy { try db.execute("PRAGMA journal_mode=WAL") }
        try db.execute("PRAGMA synchronous=FULL")
        var found: String?
        try db.retryingBusy {
            try db.execute("BEGIN IMMEDIATE")
            do {
                try db.execute(tables)
                found = nil
                try db.query("SELECT value FROM meta WHERE key = 'schema'") { found = $0.text(0) }
                if found == nil {
                    try db.query("INSERT INTO meta(key, value) VALUES ('schema', ?)", [.text(version)])
                }
                try db.execute("COMMIT")
            } catch {
                try? db.execute("ROLLBACK")
                throw error
            }
        }
        if let found, found != version {
            throw StoreError(.schemaMismatch, "\(path) has schema version \(found), this cutover reads \(version); use the cutover that wrote it")
        }
    }

    static let tables = """
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
}
