import CutoverCore
import CutoverSQLite
import CutoverStore
import Foundation
import Testing
import TestSupport

/// What only the SQLite store has to show: its file, its durability settings, and opening a
/// new file from many connections at once.
@Suite struct SQLiteStoreTests {
    @Test func databaseFileIsPrivateAndDurable() throws {
        let dir = TemporaryDirectory()
        let path = dir.path("nested/cutover.sqlite")
        let database = try SQLiteStoreDatabase(path: path)
        let attributes = try FileManager.default.attributesOfItem(atPath: path)
        #expect((attributes[.posixPermissions] as? NSNumber)?.intValue == 0o600)
        #expect(try database.pragma("journal_mode") == "wal")
        #expect(try database.pragma("synchronous") == "2", "synchronous=FULL")
    }

    /// Two `cutover start` at once on a fresh database both open it: switching the new file to
    /// WAL takes a lock SQLite's busy timeout does not wait for, so setup retries.
    @Test func manyConnectionsCreatingOneNewDatabaseAllSucceed() throws {
        for round in 0..<5 {
            let dir = TemporaryDirectory()
            let path = dir.path("new-\(round).sqlite")
            let failures = NSLock()
            nonisolated(unsafe) var errors: [String] = []
            DispatchQueue.concurrentPerform(iterations: 6) { _ in
                do {
                    let log = try SQLiteStore.open(path: path)
                    _ = try log.runIDs()
                } catch {
                    failures.withLock { errors.append("\(error)") }
                }
            }
            #expect(errors.isEmpty, "round \(round): \(errors)")
        }
    }

    @Test func failuresKeepSQLitesCodeAndSayWhatToDo() throws {
        let dir = TemporaryDirectory()
        let missing = #expect(throws: StoreError.self) { try SQLiteStore.open(readingOnly: dir.path("nothing-here.sqlite")) }
        #expect(missing?.code == .unavailable)
        #expect(missing?.message.contains("nothing-here.sqlite") == true)

        let notADatabase = dir.write("notes.sqlite", String(repeating: "not a database\n", count: 200))
        let corrupt = #expect(throws: StoreError.self) { try SQLiteStore.open(path: notADatabase) }
        #expect(corrupt?.code == .corrupt, "\(String(describing: corrupt))")
        #expect(corrupt?.message.contains("not a cutover event log") == true)
        #expect((corrupt?.cause as? SQLiteResultError)?.code == 26, "SQLITE_NOTADB kept as the cause")
        #expect(corrupt?.isRetryable == false)

        // A log opened for reading only refuses a write, and says so.
        let path = dir.path("c.sqlite")
        _ = try SQLiteStore.open(path: path)
        let reader = try SQLiteStore.open(readingOnly: path)
        let refused = #expect(throws: StoreError.self) {
            try reader.append([EventDraft(at: Date(), actor: "a", body: .runPaused(Signal()))], to: "r", expectedNext: 1, options: AppendOptions(now: Date()))
        }
        #expect(refused?.code == .readOnly, "\(String(describing: refused))")
        #expect(refused?.message.contains("cannot be written") == true)
        #expect(try reader.events(of: "r", after: 0).isEmpty)
    }

    @Test func aDatabaseOfAnotherSchemaIsRefused() throws {
        let dir = TemporaryDirectory()
        let path = dir.path("old.sqlite")
        _ = try SQLiteStore.open(path: path)
        try SQLiteStoreDatabase.execute("UPDATE meta SET value = '99' WHERE key = 'schema'", onFileAt: path)
        let error = #expect(throws: StoreError.self) { try SQLiteStore.open(path: path) }
        #expect(error?.code == .schemaMismatch)
        #expect(error?.message.contains("schema version 99") == true)
    }
}

@Suite struct StoreLocationTests {
    @Test(arguments: [
        ("cutover.sqlite", "cutover.sqlite"), (".cutover/cutover.sqlite", ".cutover/cutover.sqlite"), ("/var/lib/c.sqlite", "/var/lib/c.sqlite"),
        ("file:///var/lib/c.sqlite", "/var/lib/c.sqlite"), ("file://localhost/tmp/c.sqlite", "/tmp/c.sqlite"), ("file:rel.sqlite", "rel.sqlite"),
        ("weird://name", nil), ("dir/with://inside", "dir/with://inside"),
    ] as [(String, String?)])
    func aPathIsASQLiteFile(_ text: String, _ path: String?) throws {
        if let path {
            #expect(try StoreLocation.parse(text) == .sqlite(path: path))
        } else {
            #expect(throws: StoreError.self) { try StoreLocation.parse(text) }
        }
    }

    @Test func anUnsupportedSchemeIsRefusedWithoutItsPassword() throws {
        let error = #expect(throws: StoreError.self) { try StoreLocation.parse("mysql://cutover:s3cret-pw@db.internal:3306/cutover") }
        #expect(error?.code == .unsupported)
        #expect(error?.message.contains("a \"mysql\" store is not supported") == true)
        #expect(error?.message.contains("s3cret-pw") == false, "\(error?.message ?? "")")
        #expect(error?.message.contains("mysql://cutover:***@db.internal:3306/cutover") == true)
        #expect(throws: StoreError.self) { try StoreLocation.parse("") }
        let pg = try StoreLocation.parse("postgresql://cutover:s3cret-pw@db.internal:5432/cutover")
        #expect(pg == .postgres(uri: "postgresql://cutover:s3cret-pw@db.internal:5432/cutover"))
        #expect(pg.description == "postgresql://cutover:***@db.internal:5432/cutover")
    }

    @Test(arguments: [
        ("postgresql://u:pa/ss?x#y@db/c", "postgresql://u:***@db/c"),
        ("postgres://db/c?user=u&password=s3cret&sslmode=require", "postgres://db/c?user=u&password=***&sslmode=require"),
        ("postgres://db/c?sslpassword=k3y", "postgres://db/c?sslpassword=***"),
        ("postgres://u@db/c", "postgres://u@db/c"),
    ])
    func passwordsAreTakenOutOfLocations(_ text: String, _ shown: String) throws {
        #expect(StoreLocation.redacted(text) == shown)
        #expect(try StoreLocation.parse(text).description == shown, "a PostgreSQL location is shown without its password")
        let other = text.replacingOccurrences(of: "postgresql://", with: "mysql://").replacingOccurrences(of: "postgres://", with: "mysql://")
        let error = #expect(throws: StoreError.self) { try StoreLocation.parse(other) }
        #expect(error?.message.hasPrefix(StoreLocation.redacted(other)) == true, "\(error?.message ?? "")")
    }
}
