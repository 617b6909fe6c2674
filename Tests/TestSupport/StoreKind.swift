import CutoverCore
import CutoverPostgresStore
import CutoverSQLite
import CutoverStore
import Foundation

/// A kind of store the contract suite and the crash matrix run against. Each test makes its
/// own database in its own temporary folder; opening the same name twice gives two handles on
/// one log, as two processes would have.
public struct StoreKind: Sendable, CustomStringConvertible {
    public let name: String
    /// Statements that switch the append-only enforcement off, as an owner of the database
    /// could: what tampering underneath starts with.
    public let liftAppendOnly: String
    private let make: @Sendable (TemporaryDirectory, String, String?) throws -> ChainedStore
    private let raw: @Sendable (TemporaryDirectory, String, String) throws -> Void

    public var description: String { name }

    /// Opens (creating when missing) the store called `name` in `dir`.
    public func open(_ dir: TemporaryDirectory, _ name: String = "cutover") throws -> ChainedStore { try make(dir, name, nil) }

    /// Opens the store as a person would from their own machine: on PostgreSQL logged in as
    /// the sandbox's role `role` (alice, bob, carol, audrey, drills, log_import), whom the
    /// database then records as the actor; a file has no roles, so the same as `open`.
    public func open(_ dir: TemporaryDirectory, _ name: String = "cutover", as role: String) throws -> ChainedStore { try make(dir, name, role) }

    /// Whether the database proves who writes (the actor is the session's role).
    public var provesRoles: Bool { name == "PostgreSQL" }

    /// Runs `statement` on the database underneath, on a connection of its own, as someone
    /// with the database's own tools would (to tamper, or to try to).
    public func execute(_ statement: String, in dir: TemporaryDirectory, _ name: String = "cutover") throws {
        try raw(dir, name, statement)
    }

    public static let sqlite = StoreKind(
        name: "SQLite",
        liftAppendOnly: "DROP TRIGGER events_no_update; DROP TRIGGER events_no_delete; DROP TRIGGER checkpoints_no_update; DROP TRIGGER checkpoints_no_delete;",
        make: { dir, name, _ in try SQLiteStore.open(path: dir.path("\(name).sqlite")) },
        raw: { dir, name, sql in try SQLiteStoreDatabase.execute(sql, onFileAt: dir.path("\(name).sqlite")) })

    /// A database of its own on the sandbox's pg-log, as the role cutover runs as; tampering
    /// as the database's owner.
    public static let postgres = StoreKind(
        name: "PostgreSQL",
        liftAppendOnly: "DROP TRIGGER events_append_only ON events;\nDROP TRIGGER checkpoints_append_only ON checkpoints;",
        make: { dir, name, role in try PostgresStore.open(uri: try PostgresTestServer.database(dir, name, role: role ?? "cutover_writer")) },
        raw: { dir, name, sql in try PostgresStoreDatabase.execute(sql, uri: try PostgresTestServer.database(dir, name, role: "cutover_admin")) })

    /// Every store this build has.
    public static let all: [StoreKind] = [.sqlite, .postgres]
}

extension EventLog {
    /// The store's own chain check, through the one verifier.
    public func verifyChain() throws -> ChainReport { try ChainVerifier.verify(self) }
}
