import CutoverPQ
import CutoverStore
import Foundation

/// The physical limit on a PostgreSQL server, for the benchmark's ratios: `count` plain
/// INSERTs, each its own committed transaction (one round trip with the commit), of a row of
/// `rowBytes`, on one connection. Returns the time they took.
public enum PostgresBaseline {
    public static func durableCommits(uri: String, count: Int, rowBytes: Int) throws -> Duration {
        let location = StoreLocation.redacted(uri)
        do {
            let conn = try PQConnection.open(uri: uri, target: location)
            try conn.execute("CREATE TABLE IF NOT EXISTS bench_raw(id bigserial PRIMARY KEY, payload text NOT NULL)")
            let payload = String(repeating: "x", count: rowBytes)
            let clock = ContinuousClock()
            let start = clock.now
            for _ in 0..<count { _ = try conn.query("INSERT INTO bench_raw(payload) VALUES ($1)", [.text(payload)]) }
            return clock.now - start
        } catch let e as PostgresError {
            throw PostgresStoreDatabase.storeError(e, location, doing: "the raw baseline")
        }
    }

    /// Whether the server commits durably (`fsync` and `synchronous_commit` on): a figure
    /// measured without is not a durable one, and says so.
    public static func durable(uri: String) -> Bool {
        guard let conn = try? PQConnection.open(uri: uri, target: StoreLocation.redacted(uri)),
            let rows = try? conn.execute("SELECT current_setting('fsync'), current_setting('synchronous_commit')").rows.first
        else { return false }
        return rows == ["on", "on"]
    }
}
