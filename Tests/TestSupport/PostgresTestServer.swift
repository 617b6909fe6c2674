import CutoverPostgresStore
import CutoverStore
import Foundation

/// The sandbox's pg-log server (PostgreSQL 15 on 127.0.0.1:15434, SCRAM passwords): each test
/// store is a database of its own, `log_...`, made by `cutover_admin` with its log and granted
/// to `cutover_writer`, the role the store runs as. `scripts/sandbox reset` drops them.
public enum PostgresTestServer {
    public static let port = 15434
    private static let lock = NSLock()
    nonisolated(unsafe) private static var made: [String: String] = [:]

    /// A role's password, as the sandbox made it.
    /// - Throws: naming what to run when the sandbox has no pg-log.
    public static func password(_ role: String) throws -> String {
        let file = repositoryRoot.appendingPathComponent(".sandbox/pg-log/\(role)-password").path
        guard let text = try? String(contentsOfFile: file, encoding: .utf8) else {
            throw SandboxUnavailable("the PostgreSQL store's tests need the sandbox's pg-log (127.0.0.1:\(port)): run scripts/sandbox up (scripts/test does)")
        }
        return text.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    public static func uri(_ role: String, _ database: String) throws -> String {
        "postgresql://\(role):\(try password(role))@127.0.0.1:\(port)/\(database)?connect_timeout=5"
    }

    /// The URI of the database for the store called `name` in `dir`, as `role`; the database
    /// and its log are made on first use.
    public static func database(_ dir: TemporaryDirectory, _ name: String, role: String = "cutover_writer") throws -> String {
        let key = dir.url.path + "/" + name
        lock.lock()
        defer { lock.unlock() }
        if let db = made[key] { return try uri(role, db) }
        let db = "log_" + UUID().uuidString.lowercased().replacingOccurrences(of: "-", with: "").prefix(20)
        try PostgresStoreDatabase.execute("CREATE DATABASE \(db);", uri: try uri("cutover_admin", "postgres"))
        _ = try PostgresSchema.initialize(try uri("cutover_admin", db), granting: ["cutover_writer"])
        made[key] = db
        return try uri(role, db)
    }
}

/// The sandbox a test needs is not there.
public struct SandboxUnavailable: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}
