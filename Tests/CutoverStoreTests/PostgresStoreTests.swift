import CutoverCore
import CutoverCrypto
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
        var rows: [StoredEvent] = []
        try sqlite.forEachRow(from: 1, through: try #require(try sqlite.head()).seq) { rows.append($0.stored) }
        // Events keep their original actors, which only the import role may write.
        let writer = try StoreKind.postgres.open(dir)
        let denied = #expect(throws: StoreError.self) { try writer.importEvents(rows) }
        #expect(denied?.code == .refused && denied?.message.contains("cutover_importer") == true, "\(String(describing: denied))")
        #expect(try writer.head() == nil, "nothing of the batch written")
        let pg = try StoreKind.postgres.open(dir, as: "log_import")
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

    /// A writer that has the head appends in one round trip; whatever the slow way refuses,
    /// the one trip refuses too (a lease taken over, a run moved, a service held, a log
    /// written by another), and the slow way then says why, with nothing written.
    @Test func oneTripAppendsRefuseWhatTheSlowWayRefuses() throws {
        let dir = TemporaryDirectory()
        let a = try StoreKind.postgres.open(dir), b = try StoreKind.postgres.open(dir)
        let alive: (String) -> Bool = { _ in false }
        try a.acquireLease(run: "r", owner: "a", now: t0, ttl: .seconds(30), isGone: alive)
        for i in 1...5 {
            _ = try a.append([draft(note("a\(i)"))], to: "r", expectedNext: Int64(i), options: AppendOptions(leaseOwner: "a", now: t0))
        }
        #expect(a.oneTripCommits == 4, "the first append reads the head, the next four are one trip each")
        var warm: Int64 = 0
        // An append of a's own, so that a knows the head again after a refusal.
        func knowTheHead() throws {
            warm += 1
            _ = try a.append([draft(note("w\(warm)"))], to: "w", expectedNext: warm, options: AppendOptions(now: t0))
        }

        // The lease taken over by another (leases are not events: the head stays a's).
        try b.acquireLease(run: "r", owner: "b", now: t0.addingTimeInterval(31), ttl: .seconds(30), isGone: alive)
        #expect(throws: StoreError.leaseLost(run: "r", owner: "b")) {
            try a.append([draft(note("late"))], to: "r", expectedNext: 6, options: AppendOptions(leaseOwner: "a", now: t0.addingTimeInterval(32)))
        }
        #expect(try a.leaseHolder(run: "r")?.owner == "b", "the refused append renewed nothing")
        // A position already taken, or one that skips.
        for next: Int64 in [5, 7] {
            try knowTheHead()
            #expect(throws: StoreError.conflict(run: "r", expected: next, actual: 6)) {
                try a.append([draft(note("x"))], to: "r", expectedNext: next, options: AppendOptions(now: t0))
            }
        }
        // A service held by another run.
        try b.importLock(scope: "svc", run: "other")
        try knowTheHead()
        #expect(throws: StoreError.scopeLocked(scope: "svc", heldBy: "other")) {
            try a.append([draft(note("take"))], to: "s", expectedNext: 1, options: AppendOptions(now: t0, lockScope: "svc"))
        }
        #expect(try a.events(of: "r", after: 0).count == 5 && a.events(of: "s", after: 0).isEmpty, "nothing of a refused append is written")

        // Another writer appends: a's head is stale, its next append reads again and chains on.
        try knowTheHead()
        let before = a.oneTripCommits
        _ = try b.append([draft(note("by b"))], to: "s", expectedNext: 1, options: AppendOptions(now: t0))
        _ = try a.append([draft(note("after b"))], to: "s", expectedNext: 2, options: AppendOptions(now: t0))
        _ = try a.append([draft(note("then one trip"))], to: "s", expectedNext: 3, options: AppendOptions(now: t0, unlockScope: "svc"))
        #expect(a.oneTripCommits == before + 1)
        #expect(try a.lockHolder(scope: "svc") == "other", "a run lets go only of its own service")
        let verified = try a.verifyChain()
        #expect(verified.intact && verified.events == 5 + 4 + 3)
    }

    /// What a one-trip append sends as array elements is read back exactly: quotes,
    /// backslashes, braces, commas, the word NULL, an empty text, other scripts; several runs
    /// in one group commit, each in its order.
    @Test func oneTripAppendsKeepEveryTextExactlyAndSeveralRunsInOneCommit() async throws {
        let dir = TemporaryDirectory()
        let log = try StoreKind.postgres.open(dir)
        _ = try log.append([draft(note("first"))], to: "warm", expectedNext: 1, options: AppendOptions(now: t0))
        let texts = [#"quote " and backslash \ and \" both"#, "NULL", "", "{braces, commas}", "ünïcödé ☃ 日本語", #"line\nbreak\t"# + " and a real\nnewline"]
        for (i, text) in texts.enumerated() {
            _ = try log.append(
                [draft(note(text), actor: i % 2 == 0 ? #"o"dd \ actor"# : "NULL"), draft(note(text + "!"))], to: "r", expectedNext: Int64(2 * i + 1),
                options: AppendOptions(now: t0))
        }
        #expect(log.oneTripCommits == texts.count)
        let read = try log.events(of: "r", after: 0)
        #expect(read.count == 2 * texts.count)
        for (i, text) in texts.enumerated() {
            #expect(read[2 * i].body == note(text) && read[2 * i + 1].body == note(text + "!"), "\(text)")
            // Whatever the draft says, the actor is the role the database authenticated.
            #expect(read[2 * i].actor == "cutover_writer")
        }
        // Many runs at once: group commits of several requests, in one trip each.
        let before = log.oneTripCommits
        try await withThrowingTaskGroup(of: Void.self) { group in
            for run in 0..<8 {
                group.addTask {
                    for n in 1...5 { _ = try log.append([draft(note("\(run)/\(n)"))], to: "many-\(run)", expectedNext: Int64(n), options: AppendOptions(now: t0)) }
                }
            }
            try await group.waitForAll()
        }
        #expect(log.oneTripCommits > before)
        for run in 0..<8 { #expect(try log.events(of: "many-\(run)", after: 0).map(\.body) == (1...5).map { note("\(run)/\($0)") }) }
        #expect(try log.verifyChain().intact && log.verifyChain().events == 1 + 2 * texts.count + 40)
    }

    /// A log made by an older cutover is refused until it is migrated, only when asked; its
    /// events are untouched by the migration and it is appended to the new way afterwards.
    @Test func anOlderLogIsRefusedUntilMigratedAndKeepsItsEvents() throws {
        let dir = TemporaryDirectory()
        // Version 1 made directly, its events written as an older cutover wrote them.
        let sqlite = try SQLiteStore.open(path: dir.path("log.sqlite"))
        try sqlite.appendNotes(3, to: "r")
        let db = try PostgresTestServer.emptyDatabase(dir)
        let admin = try PostgresTestServer.uri("cutover_admin", db), writer = try PostgresTestServer.uri("cutover_writer", db)
        #expect(try PostgresSchema.initialize(admin, granting: ["cutover_writer"], version: 1) != .alreadyThere(version: 1))
        var inserts = ""
        try sqlite.forEachRow(from: 1, through: 3) { row in
            let e = row.stored
            inserts += "INSERT INTO events VALUES (\(e.seq), '\(e.runID)', \(e.runSeq), '\(e.type)', \(e.atMillis), '\(e.actor)', '\(e.bodyJSON.replacingOccurrences(of: "'", with: "''"))', decode('\(Hex.encode(e.hash))', 'hex'));\n"
        }
        try PostgresStoreDatabase.execute(inserts, uri: admin)

        let refused = #expect(throws: StoreError.self) { try PostgresStore.open(uri: writer) }
        #expect(refused?.code == .schemaMismatch && refused?.message.contains("schema version 1") == true && refused?.message.contains("cutover db migrate") == true,
                "\(String(describing: refused))")
        #expect(try PostgresSchema.migrate(admin) == .migrated(from: 1, to: PostgresSchema.version))
        #expect(try PostgresSchema.migrate(admin) == .alreadyThere(version: PostgresSchema.version), "a second migration changes nothing")

        let log = try PostgresStore.open(uri: writer)
        #expect(try log.head() == sqlite.head(), "no event touched")
        try log.appendNotes(3, to: "r", from: 4)
        #expect(log.oneTripCommits == 2)
        #expect(try log.verifyChain().intact && log.verifyChain().events == 6)
    }
}

/// On PostgreSQL the actor is the role the database authenticated: the store writes it, and
/// the schema's trigger refuses any other (schema version 3).
@Suite struct PostgresIdentityTests {
    @Test func theActorIsTheSessionRoleWhateverTheClientClaims() throws {
        let dir = TemporaryDirectory()
        let alice = try StoreKind.postgres.open(dir, as: "alice")
        #expect(alice.sessionActor == "alice")
        let appended = try alice.append([draft(note("hello"), actor: "carol")], to: "r", expectedNext: 1, options: AppendOptions(now: t0))
        #expect(appended.first?.actor == "alice", "the store writes the proven role, not the draft's name")
        #expect(try alice.events(of: "r", after: 0).first?.actor == "alice")
        // A client that writes SQL itself, claiming another role's name: the trigger refuses.
        let uri = try PostgresTestServer.database(dir, "cutover", role: "alice")
        let forged = #expect(throws: StoreError.self) {
            try PostgresStoreDatabase.execute("INSERT INTO events(seq, run_id, run_seq, type, at_ms, actor, body, hash) VALUES (2, 'r', 2, 'StepNote', 0, 'bob', '{}', '\\x00');", uri: uri)
        }
        #expect(forged?.code == .refused && forged?.message.contains("an event in the name of \"bob\" refused") == true, "\(String(describing: forged))")
        // Not through the one-trip function either, which runs with the caller's rights.
        let viaFunction = #expect(throws: StoreError.self) {
            try PostgresStoreDatabase.execute(
                "SELECT cutover_append((SELECT id FROM cutover_log LIMIT 1), 1, (SELECT hash FROM events WHERE seq = 1), ARRAY['r'], ARRAY[NULL]::text[], ARRAY[NULL]::bigint[], ARRAY[2::bigint], ARRAY[1], ARRAY[NULL]::text[], ARRAY[NULL]::text[], ARRAY['StepNote'], ARRAY[0::bigint], ARRAY['bob'], ARRAY['{}'], '\\x00'::bytea);",
                uri: uri)
        }
        #expect(viaFunction?.code == .refused && viaFunction?.message.contains("cutover_importer") == true, "\(String(describing: viaFunction))")
        #expect(try alice.verifyChain().intact && alice.verifyChain().events == 1, "nothing was written")
    }

    @Test func onlyApproversApproveAndTheAuditorOnlyReads() throws {
        let dir = TemporaryDirectory()
        let audrey = try StoreKind.postgres.open(dir, as: "audrey")
        let importer = try StoreKind.postgres.open(dir, as: "log_import")
        let bob = try StoreKind.postgres.open(dir, as: "bob")
        try importer.appendNotes(1, to: "r")
        let approval = EventBody.approvalGranted(ApprovalGranted(step: "s", by: "log_import"))
        let notApprover = #expect(throws: StoreError.self) {
            try importer.append([EventDraft(at: t0, actor: "log_import", body: approval)], to: "r", expectedNext: 2, options: AppendOptions(now: t0))
        }
        #expect(notApprover?.code == .refused && notApprover?.message.contains("approvals are appended by members of cutover_approver") == true, "\(String(describing: notApprover))")
        _ = try bob.append([EventDraft(at: t0, actor: "bob", body: .approvalGranted(ApprovalGranted(step: "s", by: "bob")))], to: "r", expectedNext: 2, options: AppendOptions(now: t0))
        // The auditor reads and verifies everything, and writes nothing.
        #expect(try audrey.verifyChain().intact && audrey.verifyChain().events == 2)
        #expect(try audrey.events(of: "r", after: 0).map(\.actor) == ["log_import", "bob"])
        let auditorWrites = #expect(throws: StoreError.self) { try audrey.appendNotes(1, to: "r", from: 3) }
        #expect(auditorWrites?.code == .refused, "\(String(describing: auditorWrites))")
        #expect(try audrey.head()?.seq == 2)
    }
}
