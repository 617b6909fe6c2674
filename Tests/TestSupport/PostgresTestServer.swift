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
        let db = try create(key)
        _ = try PostgresSchema.initialize(try uri("cutover_admin", db), granting: ["cutover_writer"])
        return try uri(role, db)
    }

    /// A database without a log yet, for `dir`, dropped once `dir` is gone; its name.
    public static func emptyDatabase(_ dir: TemporaryDirectory) throws -> String {
        lock.lock()
        defer { lock.unlock() }
        return try create(dir.url.path + "/empty-" + UUID().uuidString)
    }

    /// Makes a database for `key` (a test's folder and a name), first dropping those of tests
    /// whose folder is gone: a test's databases live as long as its temporary folder.
    private static func create(_ key: String) throws -> String {
        let admin = try uri("cutover_admin", "postgres")
        for (k, db) in made where !FileManager.default.fileExists(atPath: String(k[..<(k.lastIndex(of: "/") ?? k.endIndex)])) {
            try? PostgresStoreDatabase.execute("DROP DATABASE IF EXISTS \(db) WITH (FORCE);", uri: admin)
            made[k] = nil
        }
        let db = "log_" + UUID().uuidString.lowercased().replacingOccurrences(of: "-", with: "").prefix(20)
        try PostgresStoreDatabase.execute("CREATE DATABASE \(db);", uri: admin)
        made[key] = db
        return db
    }
}

/// The sandbox a test needs is not there.
public struct SandboxUnavailable: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}
