import CutoverCore
import CutoverProviders
import Foundation

/// The `redis` provider: a Redis node that is a primary or a replica (`REPLICAOF`).
public enum RedisProvider {
    public static let schema = ProviderSchema(
        name: "redis", summary: "a Redis node (primary or replica)", capabilities: [.replica],
        fields: [
            ParameterField("url", .string, required: true, "the node, redis://host:port (the password goes in password, never in the URL)"),
            ParameterField("password", .secret(literalAllowed: false), "a reference like env:REDIS_PASSWORD"),
        ],
        rules: { target in
            guard let url = target["url"]?.stringValue, !url.contains("${") else { return [] }
            // Whatever the scheme: user and password never travel in the URL, which is logged.
            if let scheme = url.range(of: "://"), url[scheme.upperBound...].prefix(while: { $0 != "/" }).contains("@") {
                return [("url", "a password in the URL would reach the log; give it as \"password\": \"env:NAME\" and the URL as redis://host:port")]
            }
            return RedisClient(url: url) == nil ? [("url", expectation(url))] : []
        })

    public static let adapter = ProviderAdapter(schema: schema, replica: { target, secret in
        let url = try target.required("url")
        guard let client = RedisClient(url: url, password: try target.string("password").map { try secret($0) }) else {
            throw StepError.badParameters("url: \(expectation(url))")
        }
        return RedisReplica(client: client)
    })
}

/// What a Redis URL must look like, with what was given (never its password).
func expectation(_ url: String) -> String {
    let shown = URLText.redacted(url)
    if url.lowercased().hasPrefix("rediss://") { return "expected redis://host:port, got \"\(shown)\" (TLS to Redis is not supported by this build)" }
    return "expected redis://host:port, got \"\(shown)\""
}

/// One Redis node through `INFO replication`, `REPLICAOF`, `SET` and `GET`.
struct RedisReplica: Replica {
    let client: RedisClient

    var target: String { client.target }
    var endpoints: [String] { ["redis://\(client.host):\(client.port)"] }
    var address: String { "\(client.host):\(client.port)" }

    func state() async throws -> ReplicaState {
        let f = try await client.info("replication")
        guard let role = f["role"] else {
            throw RedisError(kind: .garbage, target: target, detail: "INFO replication has no role", retryable: true)
        }
        let following = f["master_host"].map { "\($0):\(f["master_port"] ?? "6379")" }
        return ReplicaState(
            role: role == "master" ? .primary : .replica,
            following: role == "master" ? nil : following,
            linkUp: f["master_link_status"] == "up",
            secondsSinceContact: f["master_last_io_seconds_ago"].flatMap { Int($0) }.flatMap { $0 >= 0 ? $0 : nil },
            offset: (role == "master" ? f["master_repl_offset"] : f["slave_repl_offset"]).flatMap { Int64($0) },
            syncing: f["master_sync_in_progress"] == "1")
    }

    func promote(_ proof: RunProof) async throws {
        try await send(["REPLICAOF", "NO", "ONE"], proof)
    }

    func follow(_ address: String, _ proof: RunProof) async throws {
        guard let colon = address.lastIndex(of: ":"), Int(address[address.index(after: colon)...]) != nil else {
            throw StepError.badParameters("cannot tell a host and port from \"\(address)\"; expected host:port")
        }
        try await send(["REPLICAOF", String(address[..<colon]), String(address[address.index(after: colon)...])], proof)
    }

    func writeMarker(key: String, value: String, replacing expected: String?, _ proof: RunProof) async throws -> Bool {
        let what = "writing \(key) on \(target)"
        try proof.check(doing: what)
        return try await client.compareAndSet(key, expected: expected, value: value, gate: proof.gate(doing: what))
    }

    func readMarker(key: String) async throws -> String? {
        let reply = try await client.command("GET", key)
        if case .error(let e) = reply { throw RedisError(kind: .server, target: target, detail: e, retryable: true) }
        return reply.text
    }

    private func send(_ command: [String], _ proof: RunProof) async throws {
        let what = "sending \(command[0]) to \(target)"
        try proof.check(doing: what)
        let reply = try await client.run([command], gate: proof.gate(doing: what))[0]
        if case .error(let e) = reply {
            throw RedisError(kind: .server, target: target, detail: "\(command.prefix(3).joined(separator: " ")): \(e)", retryable: true)
        }
    }
}
