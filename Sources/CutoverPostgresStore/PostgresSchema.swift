import CutoverCore
import CutoverPQ
import CutoverStore
import Foundation

/// The event log's tables in a PostgreSQL database, made by `cutover db init` and versioned:
/// `cutover_log` holds the schema version and the log's own random id (a database dropped and
/// made again under a running driver is a different log). Events and checkpoints refuse
/// UPDATE, DELETE and TRUNCATE through triggers, even to their owner; the roles cutover runs
/// as are granted INSERT and SELECT on them and nothing more.
public enum PostgresSchema {
    /// The schema this build reads and writes.
    public static let version = 1

    static let tables = """
        CREATE TABLE cutover_log(id text NOT NULL, version integer NOT NULL, created_ms bigint NOT NULL);
        CREATE TABLE events(
            seq bigint PRIMARY KEY,
            run_id text NOT NULL,
            run_seq bigint NOT NULL,
            type text NOT NULL,
            at_ms bigint NOT NULL,
            actor text NOT NULL,
            body text NOT NULL,
            hash bytea NOT NULL,
            UNIQUE(run_id, run_seq)
        );
        CREATE TABLE locks(scope text PRIMARY KEY, run_id text NOT NULL);
        CREATE TABLE leases(run_id text PRIMARY KEY, owner text NOT NULL, expires_ms bigint NOT NULL);
        CREATE TABLE checkpoints(
            n bigserial PRIMARY KEY,
            seq bigint NOT NULL,
            hash bytea NOT NULL,
            at_ms bigint NOT NULL,
            key text NOT NULL,
            signature bytea NOT NULL
        );
        CREATE FUNCTION cutover_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            RAISE EXCEPTION 'the cutover event log is append-only: % on % refused', TG_OP, TG_TABLE_NAME
                USING ERRCODE = 'P0001';
        END $$;
        CREATE TRIGGER events_append_only BEFORE UPDATE OR DELETE ON events FOR EACH ROW EXECUTE FUNCTION cutover_append_only();
        CREATE TRIGGER events_no_truncate BEFORE TRUNCATE ON events FOR EACH STATEMENT EXECUTE FUNCTION cutover_append_only();
        CREATE TRIGGER checkpoints_append_only BEFORE UPDATE OR DELETE ON checkpoints FOR EACH ROW EXECUTE FUNCTION cutover_append_only();
        CREATE TRIGGER checkpoints_no_truncate BEFORE TRUNCATE ON checkpoints FOR EACH STATEMENT EXECUTE FUNCTION cutover_append_only();
        CREATE TRIGGER cutover_log_append_only BEFORE UPDATE OR DELETE ON cutover_log FOR EACH ROW EXECUTE FUNCTION cutover_append_only();
        REVOKE ALL ON events, checkpoints, locks, leases, cutover_log FROM PUBLIC;
        """

    /// What `cutover db init` did.
    public enum Outcome: Equatable, Sendable {
        case created(id: String)
        case alreadyThere(version: Int)
    }

    /// Makes the tables in the database `uri` names (as its owner), and grants each role in
    /// `roles` what a cutover process needs: INSERT and SELECT on events and checkpoints, the
    /// coordination tables in full, never UPDATE or DELETE of history.
    /// - Throws: `StoreError` naming the database; nothing is made when any statement fails.
    public static func initialize(_ uri: String, granting roles: [String] = []) throws -> Outcome {
        let location = StoreLocation.redacted(uri)
        let conn = try PostgresStoreDatabase.connect(uri, location)
        do {
            if let found = try version(conn) {
                if found == version, !roles.isEmpty {
                    try conn.execute("BEGIN")
                    try grant(roles, conn)
                    try conn.execute("COMMIT")
                }
                return .alreadyThere(version: found)
            }
            let id = UUID().uuidString.lowercased()
            try conn.execute("BEGIN")
            for statement in split(tables) { try conn.execute(statement) }
            try conn.execute("INSERT INTO cutover_log(id, version, created_ms) VALUES ($1, $2, $3)", [id, String(version), String(Int64(Date().timeIntervalSince1970 * 1_000))])
            try grant(roles, conn)
            try conn.execute("COMMIT")
            return .created(id: id)
        } catch let e as PostgresError {
            _ = try? conn.execute("ROLLBACK")
            throw PostgresStoreDatabase.storeError(e, location, doing: "creating the event log's tables")
        }
    }

    /// What a role that runs cutover needs, and no more: history is inserted and read, never
    /// changed; leases and service locks are coordination, written in full.
    static func grant(_ roles: [String], _ conn: PQConnection) throws {
        for role in roles {
            let r = quoted(role)
            try conn.execute("GRANT SELECT, INSERT ON events, checkpoints TO \(r)")
            try conn.execute("GRANT SELECT, INSERT, UPDATE, DELETE ON locks, leases TO \(r)")
            try conn.execute("GRANT SELECT ON cutover_log TO \(r)")
            try conn.execute("GRANT USAGE ON SEQUENCE checkpoints_n_seq TO \(r)")
        }
    }

    /// The schema version of the log in this database, nil when it has none.
    static func version(_ conn: PQConnection) throws -> Int? {
        let exists: String?? = try conn.execute("SELECT to_regclass('cutover_log') IS NOT NULL").rows.first?.first
        guard exists == "t" else { return nil }
        let found: String?? = try conn.execute("SELECT max(version) FROM cutover_log").rows.first?.first
        return (found ?? nil).flatMap { Int($0) }
    }

    /// A role name as an SQL identifier.
    static func quoted(_ name: String) -> String { "\"" + name.replacingOccurrences(of: "\"", with: "\"\"") + "\"" }

    /// The statements of a script, split at semicolons that end a line outside a `$$` body.
    static func split(_ script: String) -> [String] {
        var out: [String] = []
        var current = ""
        var inBody = false
        for line in script.split(separator: "\n", omittingEmptySubsequences: false) {
            current += line + "\n"
            if line.contains("$$") { inBody.toggle() }
            if !inBody, line.hasSuffix(";") {
                out.append(current.trimmingCharacters(in: .whitespacesAndNewlines))
                current = ""
            }
        }
        let rest = current.trimmingCharacters(in: .whitespacesAndNewlines)
        if !rest.isEmpty { out.append(rest) }
        return out
    }
}
