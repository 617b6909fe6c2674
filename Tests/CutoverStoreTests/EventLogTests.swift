@testable import CutoverStore
import CutoverCore
import CutoverCrypto
import Foundation
import Testing
import TestSupport

func note(_ text: String) -> EventBody { .stepNote(StepNote(step: "s", message: text)) }

let t0 = Date(timeIntervalSince1970: 1_790_000_000)

func draft(_ body: EventBody, at: Date = t0, actor: String = "tester") -> EventDraft {
    EventDraft(at: at, actor: actor, body: body)
}

/// Opens a second, raw connection to the same file, as someone tampering underneath would.
func raw(_ path: String) throws -> SQLiteDatabase { try SQLiteDatabase(path: path) }

@Suite struct EventLogTests {
    @Test func databaseFileIsPrivateAndDurable() throws {
        let dir = TemporaryDirectory()
        let path = dir.path("nested/cutover.sqlite")
        _ = try SQLiteEventLog(path: path)
        let attributes = try FileManager.default.attributesOfItem(atPath: path)
        #expect((attributes[.posixPermissions] as? NSNumber)?.intValue == 0o600)
        let db = try raw(path)
        var mode = ""
        try db.query("PRAGMA journal_mode") { mode = $0.text(0) }
        #expect(mode == "wal")
        // synchronous is per connection: check the log's own setting through a fresh log.
        let log = try SQLiteEventLog(path: path)
        #expect(try log.pragma("synchronous") == "2", "synchronous=FULL")
    }

    @Test func appendsGetGlobalAndPerRunPositionsAndAChain() throws {
        let dir = TemporaryDirectory()
        let log = try SQLiteEventLog(path: dir.path("c.sqlite"))
        let a1 = try log.append([draft(note("a1")), draft(note("a2"))], to: "run-a", expectedNext: 1, options: AppendOptions(now: t0))
        let b1 = try log.append([draft(note("b1"))], to: "run-b", expectedNext: 1, options: AppendOptions(now: t0))
        let a3 = try log.append([draft(note("a3"))], to: "run-a", expectedNext: 3, options: AppendOptions(now: t0))
        #expect((a1 + b1 + a3).map(\.seq) == [1, 2, 3, 4])
        #expect((a1 + a3).map(\.runSeq) == [1, 2, 3])
        #expect(b1[0].runSeq == 1)
        #expect(try log.events(of: "run-a", after: 1).map(\.runSeq) == [2, 3])
        #expect(try log.runIDs() == ["run-a", "run-b"])
        // Each hash covers the previous one: recompute the second by hand.
        let canonical = Event.canonicalBytes(
            seq: 2, runID: "run-a", runSeq: 2, atMillis: a1[1].atMillis, actor: "tester", type: "StepNote", bodyJSON: a1[1].bodyJSON)
        let expected = SHA256.hash(Hex.decode(a1[0].hash)! + Array(canonical.utf8))
        #expect(a1[1].hash == Hex.encode(expected))
        #expect(try log.verifyChain() == ChainReport(events: 4, bytes: try log.verifyChain().bytes))
    }

    @Test func aWriterThatIsBehindGetsAConflictAndWritesNothing() throws {
        let dir = TemporaryDirectory()
        let log = try SQLiteEventLog(path: dir.path("c.sqlite"))
        _ = try log.append([draft(note("first"))], to: "r", expectedNext: 1, options: AppendOptions(now: t0))
        #expect(throws: EventStoreError.conflict(run: "r", expected: 1, actual: 2)) {
            try log.append([draft(note("stale"))], to: "r", expectedNext: 1, options: AppendOptions(now: t0))
        }
        #expect(throws: EventStoreError.conflict(run: "r", expected: 5, actual: 2)) {
            try log.append([draft(note("ahead"))], to: "r", expectedNext: 5, options: AppendOptions(now: t0))
        }
        #expect(try log.events(of: "r", after: 0).count == 1)
    }

    @Test(arguments: ["UPDATE events SET actor = 'mallory' WHERE seq = 1", "DELETE FROM events WHERE seq = 1"])
    func eventsCannotBeChangedOrDeleted(_ sql: String) throws {
        let dir = TemporaryDirectory()
        let path = dir.path("c.sqlite")
        let log = try SQLiteEventLog(path: path)
        _ = try log.append([draft(note("fact"))], to: "r", expectedNext: 1, options: AppendOptions(now: t0))
        let db = try raw(path)
        #expect {
            try db.execute(sql)
        } throws: { error in
            "\(error)".contains("append-only")
        }
        #expect(try log.events(of: "r", after: 0).first?.actor == "tester")
        #expect(try log.verifyChain().intact)
    }

    @Test func tamperingUnderneathIsFoundAtItsPosition() throws {
        let dir = TemporaryDirectory()
        let path = dir.path("c.sqlite")
        let log = try SQLiteEventLog(path: path)
        for i in 1...5 { _ = try log.append([draft(note("n\(i)"))], to: "r", expectedNext: Int64(i), options: AppendOptions(now: t0)) }
        let db = try raw(path)
        try db.execute("DROP TRIGGER events_no_update; DROP TRIGGER events_no_delete;")
        try db.execute("UPDATE events SET body = replace(body, 'n3', 'n9') WHERE seq = 3")
        let edited = try log.verifyChain()
        #expect(edited.firstProblem?.seq == 3)
        #expect(edited.firstProblem?.message.contains("hash mismatch at event 3") == true)
    }

    @Test func aDeletedEventIsFoundAsAGap() throws {
        let dir = TemporaryDirectory()
        let path = dir.path("c.sqlite")
        let log = try SQLiteEventLog(path: path)
        for i in 1...5 { _ = try log.append([draft(note("n\(i)"))], to: "r", expectedNext: Int64(i), options: AppendOptions(now: t0)) }
        let db = try raw(path)
        try db.execute("DROP TRIGGER events_no_delete; DELETE FROM events WHERE seq = 2;")
        let report = try log.verifyChain()
        #expect(report.firstProblem?.seq == 3)
        #expect(report.firstProblem?.message.contains("events 2...2 are missing") == true)
    }

    @Test func leasesFenceAppendsAndExpire() throws {
        let dir = TemporaryDirectory()
        let log = try SQLiteEventLog(path: dir.path("c.sqlite"))
        let alive: (String) -> Bool = { _ in false }
        try log.acquireLease(run: "r", owner: "a", now: t0, ttl: .seconds(30), isGone: alive)
        #expect(throws: EventStoreError.leaseHeld(run: "r", owner: "a")) {
            try log.acquireLease(run: "r", owner: "b", now: t0.addingTimeInterval(10), ttl: .seconds(30), isGone: alive)
        }
        _ = try log.append([draft(note("by a"))], to: "r", expectedNext: 1, options: AppendOptions(leaseOwner: "a", now: t0))
        // b takes over once a's lease has expired (or at once if a's process is gone).
        try log.acquireLease(run: "r", owner: "b", now: t0.addingTimeInterval(31), ttl: .seconds(30), isGone: alive)
        #expect(throws: EventStoreError.leaseLost(run: "r", owner: "b")) {
            try log.append([draft(note("late a"))], to: "r", expectedNext: 2, options: AppendOptions(leaseOwner: "a", now: t0))
        }
        try log.acquireLease(run: "r", owner: "c", now: t0.addingTimeInterval(32), ttl: .seconds(30), isGone: { $0 == "b" })
        #expect(try log.leaseHolder(run: "r")?.owner == "c")
        try log.releaseLease(run: "r", owner: "c")
        #expect(try log.leaseHolder(run: "r") == nil)
    }

    @Test func oneRunHoldsAServiceUntilItLetsGo() throws {
        let dir = TemporaryDirectory()
        let log = try SQLiteEventLog(path: dir.path("c.sqlite"))
        _ = try log.append([draft(note("start"))], to: "r1", expectedNext: 1, options: AppendOptions(now: t0, lockScope: "svc"))
        #expect(throws: EventStoreError.scopeLocked(scope: "svc", heldBy: "r1")) {
            try log.append([draft(note("start"))], to: "r2", expectedNext: 1, options: AppendOptions(now: t0, lockScope: "svc"))
        }
        #expect(try log.events(of: "r2", after: 0).isEmpty, "a refused start writes nothing")
        _ = try log.append([draft(note("end"))], to: "r1", expectedNext: 2, options: AppendOptions(now: t0, unlockScope: "svc"))
        #expect(try log.lockHolder(scope: "svc") == nil)
        _ = try log.append([draft(note("start"))], to: "r2", expectedNext: 1, options: AppendOptions(now: t0, lockScope: "svc"))
        #expect(try log.lockHolder(scope: "svc") == "r2")
    }

    @Test func twoConnectionsAppendingAtOnceKeepOneChain() throws {
        let dir = TemporaryDirectory()
        let path = dir.path("c.sqlite")
        let logs = [try SQLiteEventLog(path: path), try SQLiteEventLog(path: path)]
        DispatchQueue.concurrentPerform(iterations: 2) { i in
            for n in 1...40 {
                _ = try! logs[i].append([draft(note("\(i)-\(n)"))], to: "run-\(i)", expectedNext: Int64(n), options: AppendOptions(now: t0))
            }
        }
        let report = try logs[0].verifyChain()
        #expect(report.intact)
        #expect(report.events == 80)
    }
}

@Suite struct ConcurrentOpenTests {
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
                    let log = try SQLiteEventLog(path: path)
                    _ = try log.runIDs()
                } catch {
                    failures.withLock { errors.append("\(error)") }
                }
            }
            #expect(errors.isEmpty, "round \(round): \(errors)")
        }
    }
}
