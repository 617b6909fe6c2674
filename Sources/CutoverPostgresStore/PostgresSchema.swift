import CutoverCore
import CutoverPQ
import CutoverStore
import Foundation

/// The event log's tables in a PostgreSQL database, made by `cutover db init` and versioned:
/// `cutover_log` holds the schema version and the log's own random id (a database dropped and
/// made again under a running driver is a different log). Events and checkpoints refuse
/// UPDATE, DELETE and TRUNCATE through triggers, even to their owner; the roles cutover runs
/// as are granted INSERT and SELECT on them and nothing more. Each version is a migration
/// from the one before; `cutover db init` runs them all, `cutover db migrate` the missing
/// ones, and nothing else ever changes the schema.
public enum PostgresSchema {
    /// The schema this build reads and writes.
    public static let version = 3

    /// The script that makes each version from the one before, in order (index 0 makes 1).
    static let migrations = [tables, appendAtOnce + "\n" + notifications, provenActors]

    /// The group roles of a team, made once per server by whoever administers it (they are
    /// the server's, not one database's; the sandbox's pg-log makes them): people's login
    /// roles are members. `db init` and `db migrate` grant each group that exists what it
    /// needs; the trigger of version 3 holds approvals and starts to their groups.
    public static let teamRoles: [(role: String, does: String)] = [
        ("cutover_starter", "starts runs (and signals them)"),
        ("cutover_approver", "approves runs it did not start"),
        ("cutover_worker", "drives runs: workers and schedulers (starts scheduled drills)"),
        ("cutover_importer", "copies a log in (`db copy`), keeping each event's original actor"),
        ("cutover_auditor", "reads and verifies the log; writes nothing"),
    ]
    static let writingRoles = ["cutover_starter", "cutover_approver", "cutover_worker", "cutover_importer"]
    static let auditorRole = "cutover_auditor"

    /// Version 3: the actor of every event is the session's role (`session_user`, which no
    /// `SET ROLE` or security-definer function changes), so no client can write in another
    /// role's name; only members of `cutover_importer` may insert events of other actors (a
    /// copied log keeps its own). Where the team's groups exist, only members of
    /// `cutover_approver` append approvals (and `cutover_worker`, whose schedulers append the
    /// standing approvals of drills, which the fold counts for drills only) and only members of
    /// `cutover_starter` or `cutover_worker` start runs. Refusals raise `CV403`. A superuser passes every check
    /// (it could drop the trigger as well): cutover's roles are never superusers.
    static let provenActors = """
        CREATE FUNCTION cutover_in_group(group_name text, when_absent boolean) RETURNS boolean LANGUAGE sql STABLE AS $$
            SELECT CASE WHEN EXISTS (SELECT 1 FROM pg_roles WHERE rolname = group_name)
                THEN pg_has_role(session_user, group_name, 'MEMBER') ELSE when_absent END
        $$;
        CREATE FUNCTION cutover_proven_actor() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF NEW.actor IS DISTINCT FROM session_user::text THEN
                IF NOT cutover_in_group('cutover_importer', false) THEN
                    RAISE EXCEPTION 'an event in the name of "%" refused: this session is "%", and only members of cutover_importer write events of other actors', NEW.actor, session_user
                        USING ERRCODE = 'CV403';
                END IF;
            ELSIF NEW.type = 'ApprovalGranted' AND NOT (cutover_in_group('cutover_approver', true) OR cutover_in_group('cutover_worker', false)) THEN
                RAISE EXCEPTION '"%" may not approve: approvals are appended by members of cutover_approver (and, for the standing approvals of scheduled drills, cutover_worker)', session_user USING ERRCODE = 'CV403';
            ELSIF NEW.type = 'RunStarted' AND NOT (cutover_in_group('cutover_starter', true) OR cutover_in_group('cutover_worker', false)) THEN
                RAISE EXCEPTION '"%" may not start runs: runs are started by members of cutover_starter or cutover_worker', session_user USING ERRCODE = 'CV403';
            END IF;
            RETURN NEW;
        END $$;
        CREATE TRIGGER events_proven_actor BEFORE INSERT ON events FOR EACH ROW EXECUTE FUNCTION cutover_proven_actor();
        """

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


    /// Version 2: a whole group commit in one statement, so an append is one round trip and
    /// one commit. `ChainedStore` chains the events from the head it last wrote and sends them
    /// with what it expects; the function takes the writers' lock, checks the log id, that
    /// head, each run's lease, position and service lock exactly as `ChainedStore` does inside
    /// its own transaction, and writes; when anything differs it writes nothing and raises
    /// `CV409`, and the store appends the slow way, reading everything again. It runs with the
    /// caller's rights: a role that may not insert events may not call it to insert them.
    static let appendAtOnce = """
        CREATE FUNCTION cutover_append(
            log_id text, head_seq bigint, head_hash bytea,
            runs text[], owners text[], expires bigint[], nexts bigint[], firsts integer[], lock_scopes text[], unlock_scopes text[],
            types text[], ats bigint[], actors text[], bodies text[], hashes bytea
        ) RETURNS void
        LANGUAGE plpgsql SECURITY INVOKER AS $$
        DECLARE
            found_id text;
            last_seq bigint;
            last_hash bytea;
            holder text;
            first integer;
            after integer;
        BEGIN
            PERFORM pg_advisory_xact_lock(\(PostgresStoreDatabase.writerLock));
            SELECT l.id, e.seq, e.hash INTO found_id, last_seq, last_hash
                FROM (SELECT id FROM cutover_log LIMIT 1) AS l
                LEFT JOIN (SELECT seq, hash FROM events ORDER BY seq DESC LIMIT 1) AS e ON true;
            IF found_id IS DISTINCT FROM log_id THEN
                RAISE EXCEPTION 'the event log is not the one this process opened' USING ERRCODE = 'CV410';
            END IF;
            IF COALESCE(last_seq, 0) <> head_seq OR (last_seq IS NOT NULL AND last_hash <> head_hash) THEN
                RAISE EXCEPTION 'the head moved' USING ERRCODE = 'CV409';
            END IF;
            FOR i IN 1..cardinality(runs) LOOP
                -- The lease renewed only if this owner holds it and the run is where expected.
                IF owners[i] IS NOT NULL THEN
                    UPDATE leases SET expires_ms = expires[i] WHERE run_id = runs[i] AND owner = owners[i]
                        AND (SELECT COALESCE(MAX(run_seq), 0) FROM events WHERE run_id = runs[i]) = nexts[i] - 1;
                    IF NOT FOUND THEN
                        RAISE EXCEPTION 'the lease is not held or the run moved' USING ERRCODE = 'CV409';
                    END IF;
                ELSIF (SELECT COALESCE(MAX(run_seq), 0) FROM events WHERE run_id = runs[i]) <> nexts[i] - 1 THEN
                    RAISE EXCEPTION 'the run moved' USING ERRCODE = 'CV409';
                END IF;
                IF lock_scopes[i] IS NOT NULL THEN
                    SELECT run_id INTO holder FROM locks WHERE scope = lock_scopes[i];
                    IF holder IS NOT NULL AND holder <> runs[i] THEN
                        RAISE EXCEPTION 'the service is held' USING ERRCODE = 'CV409';
                    END IF;
                    INSERT INTO locks(scope, run_id) VALUES (lock_scopes[i], runs[i])
                        ON CONFLICT (scope) DO UPDATE SET run_id = EXCLUDED.run_id;
                END IF;
                -- This request's rows: from firsts[i] up to the next request's first.
                first := firsts[i];
                after := COALESCE(firsts[i + 1], cardinality(types) + 1);
                INSERT INTO events(seq, run_id, run_seq, type, at_ms, actor, body, hash)
                    SELECT head_seq + first - 1 + t.n, runs[i], nexts[i] - 1 + t.n, t.type, t.at, t.actor, t.body,
                        substring(hashes FROM (first - 2 + t.n::integer) * 32 + 1 FOR 32)
                    FROM unnest(types[first:after - 1], ats[first:after - 1], actors[first:after - 1], bodies[first:after - 1])
                        WITH ORDINALITY AS t(type, at, actor, body, n);
                IF unlock_scopes[i] IS NOT NULL THEN
                    DELETE FROM locks WHERE scope = unlock_scopes[i] AND run_id = runs[i];
                END IF;
            END LOOP;
        END $$;
        """

    /// Version 2 too: every statement that inserts events tells the listeners of
    /// `cutover_events` (workers wait on it instead of polling), once per transaction.
    static let notifications = """
        CREATE FUNCTION cutover_notify() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            PERFORM pg_notify('\(PostgresNotifications.channel)', '');
            RETURN NULL;
        END $$;
        CREATE TRIGGER events_notify AFTER INSERT ON events FOR EACH STATEMENT EXECUTE FUNCTION cutover_notify();
        """

    /// What `cutover db init` or `cutover db migrate` did.
    public enum Outcome: Equatable, Sendable {
        case created(id: String)
        case alreadyThere(version: Int)
        case migrated(from: Int, to: Int)
    }

    /// Makes the tables in the database `uri` names (as its owner), and grants each role in
    /// `roles` what a cutover process needs: INSERT and SELECT on events and checkpoints, the
    /// coordination tables in full, never UPDATE or DELETE of history. A database that holds
    /// a log is left as it is (but for the grants when its version is this one).
    /// - Parameter target: the version to make (tests make older ones, to migrate them).
    /// - Throws: `StoreError` naming the database; nothing is made when any statement fails.
    public static func initialize(_ uri: String, granting roles: [String] = [], version target: Int = version) throws -> Outcome {
        precondition((1...version).contains(target), "no schema version \(target)")
        let location = StoreLocation.redacted(uri)
        let conn = try PostgresStoreDatabase.connect(uri, location)
        do {
            if let found = try version(conn) {
                if found == version {
                    try conn.execute("BEGIN")
                    try grant(roles, conn)
                    try grantTeam(conn)
                    try conn.execute("COMMIT")
                }
                return .alreadyThere(version: found)
            }
            let id = UUID().uuidString.lowercased()
            try conn.execute("BEGIN")
            for script in migrations[0..<target] {
                for statement in split(script) { try conn.execute(statement) }
            }
            try record(id: id, version: target, conn)
            try grant(roles, conn)
            if target == version { try grantTeam(conn) }
            try conn.execute("COMMIT")
            return .created(id: id)
        } catch let e as PostgresError {
            _ = try? conn.execute("ROLLBACK")
            throw PostgresStoreDatabase.storeError(e, location, doing: "creating the event log's tables")
        }
    }

    /// Brings the log in the database `uri` names to this build's version, in one transaction,
    /// as its owner: the migrations it misses run in order and the new version is recorded
    /// (a row more in `cutover_log`, which is append-only too). Events are never touched.
    /// - Throws: `StoreError` when there is no log, or one newer than this build.
    public static func migrate(_ uri: String) throws -> Outcome {
        let location = StoreLocation.redacted(uri)
        let conn = try PostgresStoreDatabase.connect(uri, location)
        do {
            try conn.execute("BEGIN")
            // Two migrations at once would both run: the writers' lock keeps them, and every
            // append, apart.
            _ = try conn.execute("SELECT pg_advisory_xact_lock(\(PostgresStoreDatabase.writerLock))")
            guard let found = try version(conn) else {
                _ = try? conn.execute("ROLLBACK")
                throw StoreError(.schemaMismatch, "\(location) holds no cutover event log: create it with `cutover db init --db URL`", retryable: false)
            }
            guard found <= version else {
                _ = try? conn.execute("ROLLBACK")
                throw StoreError(
                    .schemaMismatch,
                    "\(location) holds an event log of schema version \(found), made by a newer cutover; this one knows version \(version): upgrade cutover, never migrate down",
                    retryable: false)
            }
            guard found < version else {
                _ = try? conn.execute("ROLLBACK")
                return .alreadyThere(version: found)
            }
            for script in migrations[found..<version] {
                for statement in split(script) { try conn.execute(statement) }
            }
            let id: String?? = try conn.execute("SELECT id FROM cutover_log LIMIT 1").rows.first?.first
            try record(id: (id ?? nil) ?? "", version: version, conn)
            try grantTeam(conn)
            try conn.execute("COMMIT")
            return .migrated(from: found, to: version)
        } catch let e as PostgresError {
            _ = try? conn.execute("ROLLBACK")
            throw PostgresStoreDatabase.storeError(e, location, doing: "migrating the event log's schema")
        }
    }

    private static func record(id: String, version: Int, _ conn: PQConnection) throws {
        try conn.execute(
            "INSERT INTO cutover_log(id, version, created_ms) VALUES ($1, $2, $3)", [id, String(version), String(Int64(Date().timeIntervalSince1970 * 1_000))])
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

    /// Grants the team's groups that exist on this server what they need: the writers as any
    /// role running cutover, the auditor reading only.
    static func grantTeam(_ conn: PQConnection) throws {
        let names = teamRoles.map { "'\($0.role)'" }.joined(separator: ", ")
        let existing = Set(try conn.execute("SELECT rolname FROM pg_roles WHERE rolname IN (\(names))").rows.compactMap { $0.first ?? nil })
        try grant(writingRoles.filter(existing.contains), conn)
        if existing.contains(auditorRole) {
            try conn.execute("GRANT SELECT ON events, checkpoints, cutover_log, locks, leases TO \(auditorRole)")
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
