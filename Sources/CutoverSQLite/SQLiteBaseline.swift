import Foundation
internal import CSQLite

/// What the physical limit looks like on this machine, for the benchmark's ratios: plain
/// SQLite doing the same durable work as the event log, with the same pragmas, and nothing else.
public enum SQLiteBaseline {
    /// `count` durable commits (WAL, synchronous=FULL), one row of `rowBytes` each, through one
    /// prepared statement. Returns the time they took.
    public static func durableCommits(path: String, count: Int, rowBytes: Int) throws -> Duration {
        let db = try SQLiteDatabase(path: path)
        try db.execute("PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; CREATE TABLE IF NOT EXISTS rows(id INTEGER PRIMARY KEY, payload TEXT NOT NULL);")
        let payload = String(repeating: "x", count: rowBytes)
        let clock = ContinuousClock()
        let start = clock.now
        for _ in 0..<count {
            try db.execute("BEGIN IMMEDIATE")
            try db.query("INSERT INTO rows(payload) VALUES (?)", [.text(payload)])
            try db.execute("COMMIT")
        }
        return clock.now - start
    }

    /// Reads every row of a run's events the plainest way: the columns, into Swift values,
    /// nothing decoded. Returns how many rows and the time taken.
    public static func readRun(path: String, run: String) throws -> (rows: Int, took: Duration) {
        let db = try SQLiteDatabase(path: path, readOnly: true)
        var rows = 0
        var bytes = 0
        let clock = ContinuousClock()
        let start = clock.now
        try db.query("SELECT seq, run_id, run_seq, type, at_ms, actor, body, hash FROM events WHERE run_id = ? ORDER BY run_seq", [.text(run)]) { row in
            rows += 1
            bytes += row.text(6).utf8.count + row.blob(7).count
        }
        _ = bytes
        return (rows, clock.now - start)
    }
}
