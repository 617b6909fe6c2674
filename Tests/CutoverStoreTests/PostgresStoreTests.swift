import CutoverCore
import CutoverPostgresStore
import CutoverSQLite
import CutoverStore
import Foundation
import Testing
import TestSupport

/// What only the PostgreSQL store has: roles and their grants, the schema's version kept in
/// the database, TRUNCATE, and a log copied from SQLite verifying to the same head. The rest
/// of its contract is `StoreContractTests`, run against both stores.
@Suite struct PostgresStoreTests {
    @Test func aRoleWithoutInsertCannotAppendAndNothingIsWritten() throws {
        let dir = TemporaryDirectory()
        let writer = try StoreKind.postgres.open(dir)
        _ = try writer.append([draft(note("by the writer"))], to: "r", expectedNext: 1, options: AppendOptions(now: t0))
        try StoreKind.postgres.execute("GRANT SELECT ON events, checkpoints, cutover_log TO cutover_reader;", in: dir)
        let reader = try PostgresStore.open(uri: try PostgresTestServer.database(dir, "cutover", role: "cutover_reader"))
        #expect(try reader.events(of: "r", after: 0).count == 1, "the reader reads")
        let refused = #expect(throws: StoreError.self) {
            try reader.append([draft(note("by the reader"))], to: "r", expectedNext: 2, options: AppendOptions(now: t0))
        }
        #expect(refused?.code == .refused && refused?.message.contains("cutover db init --grant") == true, "\(String(describing: refused))")
        #expect(try writer.events(of: "r", after: 0).count == 1)
        #expect(try writer.verifyChain().intact)
    }

    @Test func truncateIsRefusedEvenToTheOwner() throws {
        let dir = TemporaryDirectory()
        let log = try StoreKind.postgres.open(dir)
        try log.appendNotes(3, to: "r")
        for table in ["events", "checkpoints"] {
            let error = #expect(throws: StoreError.self) { try StoreKind.postgres.execute("TRUNCATE \(table);", in: dir) }
            #expect(error?.code == .refused && error?.message.contains("append-only: TRUNCATE on \(table) refused") == true, "\(String(describing: error))")
        }
        #expect(try log.verifyChain().events == 3)
    }

    @Test func aLogMadeByANewerCutoverIsRefusedAndOneWithoutTablesNamesDbInit() throws {
        let dir = TemporaryDirectory()
        _ = try StoreKind.postgres.open(dir)
        try StoreKind.postgres.execute("INSERT INTO cutover_log(id, version, created_ms) SELECT id, 99, 0 FROM cutover_log LIMIT 1;", in: dir)
        let newer = #expect(throws: StoreError.self) { try PostgresStore.open(uri: try PostgresTestServer.database(dir, "cutover")) }
        #expect(newer?.code == .schemaMismatch && newer?.message.contains("made by a newer cutover") == true, "\(String(describing: newer))")
        #expect(newer?.message.contains(try PostgresTestServer.password("cutover_writer")) == false, "no password in the message")
        let empty = #expect(throws: StoreError.self) { try PostgresStore.open(uri: try PostgresTestServer.uri("cutover_admin", "postgres")) }
        #expect(empty?.code == .schemaMismatch && empty?.message.contains("cutover db init") == true, "\(String(describing: empty))")
    }

    /// The same events, appended to SQLite and copied into PostgreSQL, verify to the same head:
    /// one canonical form and one chain, whatever holds it.
    @Test func aSQLiteLogCopiedIntoPostgreSQLVerifiesToTheSameHead() throws {
        let dir = TemporaryDirectory()
        let sqlite = try SQLiteStore.open(path: dir.path("log.sqlite"))
        for run in ["a", "b", "c"] { try sqlite.appendNotes(4, to: "run-\(run)") }
        try sqlite.appendNotes(2, to: "schedule:nightly")
        let pg = try StoreKind.postgres.open(dir)
        var rows: [StoredEvent] = []
        try sqlite.forEachRow(from: 1, through: try #require(try sqlite.head()).seq) { rows.append($0.stored) }
        try pg.importEvents(rows)
        #expect(try pg.head() == sqlite.head())
        #expect(try pg.verifyChain().intact && pg.verifyChain().events == 14)
        #expect(try pg.runIDs() == sqlite.runIDs())
        #expect(try pg.events(of: "run-b", after: 0) == sqlite.events(of: "run-b", after: 0), "read back exactly as SQLite holds them")
        // An event that does not follow is refused, with nothing of its batch written.
        var bad = try #require(rows.last)
        bad = StoredEvent(seq: bad.seq + 1, runID: bad.runID, runSeq: bad.runSeq + 1, type: bad.type, atMillis: bad.atMillis, actor: "mallory", bodyJSON: bad.bodyJSON, hash: bad.hash)
        let refused = #expect(throws: StoreError.self) { try pg.importEvents([bad]) }
        #expect(refused?.code == .corrupt)
        #expect(try pg.head()?.seq == 14)
    }
}
