import CutoverCore
import CutoverNet
import CutoverPQ
import CutoverProviders
import Foundation

/// The `postgres` provider: a PostgreSQL server that is a primary or a streaming replica (hot
/// standby), through libpq.
public enum PostgresProvider {
    public static let schema = ProviderSchema(
        name: "postgres", summary: "a PostgreSQL server (primary or streaming replica)", capabilities: [.replica],
        fields: [
            ParameterField("host", .string, required: true, "the server's address, like 10.60.0.21"),
            ParameterField("port", .integer(min: 1, max: 65_535), "its port", default: .int(5432)),
            ParameterField("database", .string, required: true, "the database to connect to, like recsys"),
            ParameterField("user", .string, required: true, "the role cutover connects as: pg_monitor to read replication, EXECUTE on pg_promote to promote"),
            ParameterField("password", .secret(literalAllowed: false), "a reference like env:PG_CUTOVER_PASSWORD"),
            ParameterField(
                "sslmode", .oneOf(["disable", "prefer", "require", "verify-ca", "verify-full"]),
                "libpq's sslmode; prefer would let a man in the middle talk it down to plain text, where the password travels", default: .string("require")),
            ParameterField("heartbeatTable", .string, "the table replication.check writes its marker to: (key text primary key, value text not null)", default: .string("cutover_heartbeat")),
        ],
        rules: { target in
            var out: [(String, String)] = []
            if let h = target["host"]?.stringValue, !h.contains("${"),
                h.isEmpty || h.hasPrefix("/") || h.unicodeScalars.contains(where: { $0 == "," || $0 == " " || $0.value < 0x21 || $0.value > 0x7e })
            {
                out.append(("host", "expected one host name or address (libpq's lists and socket paths are refused: the server read must be the one promoted), got \"\(TerminalText.escaped(h))\""))
            }
            if let t = target["heartbeatTable"]?.stringValue, !t.contains("${"), !isIdentifier(t) {
                out.append(("heartbeatTable", "expected a table name (lowercase letters, digits and _, optionally schema.table), got \"\(TerminalText.escaped(t))\""))
            }
            return out
        })

    /// An unquoted SQL identifier, optionally schema-qualified: what is put into SQL text.
    static func isIdentifier(_ s: String) -> Bool {
        let parts = s.split(separator: ".", omittingEmptySubsequences: false)
        return (1...2).contains(parts.count) && parts.allSatisfy { p in
            guard let f = p.unicodeScalars.first, p.utf8.count <= 63 else { return false }
            return (("a"..."z").contains(f) || f == "_") && p.unicodeScalars.allSatisfy { ("a"..."z").contains($0) || ("0"..."9").contains($0) || $0 == "_" }
        }
    }

    public static let adapter = ProviderAdapter(schema: schema, replica: { target, secret in
        PostgresReplica(
            host: try target.required("host"), port: Int(target["port"]?.intValue ?? 5432), database: try target.required("database"),
            user: try target.required("user"), password: try target.string("password").map { try secret($0) },
            sslmode: target.string("sslmode") ?? "require", heartbeatTable: target.string("heartbeatTable") ?? "cutover_heartbeat")
    })
}

/// One PostgreSQL server as a `Replica`: `pg_is_in_recovery()`, `pg_stat_wal_receiver`, the
/// replay position, `pg_promote()`. A promotion cannot be undone without rebuilding the server
/// as a replica (`pg_rewind` or a base backup), which SQL cannot do: `follow` names the commands
/// instead, and a drill rehearses the promotion rather than making it.
struct PostgresReplica: Replica {
    let host: String
    let port: Int
    let database: String
    let user: String
    let password: String?
    let sslmode: String
    let heartbeatTable: String

    var target: String { "PostgreSQL \(host):\(port) (database \(database))" }
    var endpoints: [String] { ["postgresql://\(host):\(port)"] }
    var address: String { "\(host):\(port)" }
    var promotionUndoable: Bool { false }

    /// Connects, runs `body` on the connection's own thread, closes.
    private func session<T: Sendable>(_ body: @escaping @Sendable (PQConnection) throws -> T) async throws -> T {
        let parameters = [
            ("host", host), ("port", String(port)), ("dbname", database), ("user", user), ("sslmode", sslmode),
            ("connect_timeout", "5"), ("application_name", "cutover"),
            // Nothing waits for ever: a statement (pg_promote waits up to 60 s) or a lock, nor
            // a connection whose peer vanished (keepalives, unacknowledged data).
            ("options", "-c statement_timeout=90000 -c lock_timeout=10000"),
            ("keepalives", "1"), ("keepalives_idle", "5"), ("keepalives_interval", "2"), ("keepalives_count", "3"), ("tcp_user_timeout", "15000"),
        ] + (password.map { [("password", $0)] } ?? [])
        let target = self.target
        return try await onThread { try body(try PQConnection.open(parameters, target: target)) }
    }

    func state() async throws -> ReplicaState {
        try await session { c in
            let recovery = try c.execute("SELECT pg_is_in_recovery()").rows.first?.first ?? nil
            guard recovery == "t" else {
                let lsn = try c.execute("SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), '0/0')::bigint").rows.first?.first ?? nil
                return ReplicaState(role: .primary, following: nil, linkUp: false, secondsSinceContact: nil, offset: lsn.flatMap { Int64($0) }, syncing: false)
            }
            let receiver = try c.execute("""
                SELECT status, sender_host, sender_port, EXTRACT(EPOCH FROM (now() - last_msg_receipt_time))::bigint FROM pg_stat_wal_receiver
                """).rows.first
            let replay = try c.execute("SELECT pg_wal_lsn_diff(pg_last_wal_replay_lsn(), '0/0')::bigint, pg_is_wal_replay_paused()").rows.first
            let following = receiver.flatMap { r in r[1].map { "\($0):\(r[2] ?? "5432")" } }
            return ReplicaState(
                role: .replica, following: following, linkUp: receiver?[0] == "streaming" && replay?[1] != "t",
                secondsSinceContact: receiver?[3].flatMap { Int($0) }, offset: replay?[0].flatMap { Int64($0) }, syncing: false)
        }
    }

    /// In recovery, streaming, replaying, and the role may call `pg_promote`: what a drill
    /// proves instead of promoting.
    func promotionProblems() async throws -> [String] {
        try await session { c in
            var problems: [String] = []
            guard (try c.execute("SELECT pg_is_in_recovery()").rows.first?.first ?? nil) == "t" else { return ["it is not a replica (not in recovery)"] }
            let status = try c.execute("SELECT status FROM pg_stat_wal_receiver").rows.first?.first ?? nil
            if status != "streaming" { problems.append("its WAL receiver is \(status ?? "not running"), not streaming") }
            if (try c.execute("SELECT pg_is_wal_replay_paused()").rows.first?.first ?? nil) == "t" { problems.append("WAL replay is paused") }
            let may = try c.execute("SELECT has_function_privilege(current_user, 'pg_promote(boolean, integer)', 'EXECUTE')").rows.first?.first ?? nil
            if may != "t" { problems.append("role \(self.user) may not call pg_promote (GRANT EXECUTE ON FUNCTION pg_promote TO \(self.user))") }
            return problems
        }
    }

    func promote(_ proof: RunProof) async throws {
        let what = "promoting \(target)"
        try proof.check(doing: what)
        let promoted = try await session { c -> String? in
            // Already promoted (an earlier call that answered late): nothing to send.
            guard (try c.execute("SELECT pg_is_in_recovery()").rows.first?.first ?? nil) == "t" else { return "t" }
            // Connected: the proof once more, right before the statement is written.
            try proof.check(doing: what)
            return try c.execute("SELECT pg_promote(true, 60)").rows.first?.first ?? nil
        }
        guard promoted == "t" else {
            throw PostgresError(code: "not-promoted", message: "\(target): pg_promote did not finish within 60 s", retryable: true)
        }
    }

    func follow(_ address: String, _ proof: RunProof) async throws {
        throw StepError(
            code: "postgres-follow-needs-a-person",
            message: "\(target) cannot be made a replica of \(address) from SQL: it must be rewound (pg_rewind --target-pgdata=... --source-server=\"host=\(address.split(separator: ":").first ?? "") ...\") or rebuilt (pg_basebackup -R) on its machine; the runbook's procedure has the commands",
            retryable: false)
    }

    func writeMarker(key: String, value: String, replacing expected: String?, _ proof: RunProof) async throws -> Bool {
        let what = "writing marker \(key) at \(target)"
        try proof.check(doing: what)
        let table = heartbeatTable
        return try await session { c in
            try proof.check(doing: what)
            if let expected {
                return try c.execute("UPDATE \(table) SET value = $2 WHERE key = $1 AND value = $3", [key, value, expected]).affected == 1
            }
            return try c.execute("INSERT INTO \(table) (key, value) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING", [key, value]).affected == 1
        }
    }

    func readMarker(key: String) async throws -> String? {
        let table = heartbeatTable
        return try await session { c in try c.execute("SELECT value FROM \(table) WHERE key = $1", [key]).rows.first?.first ?? nil }
    }
}
