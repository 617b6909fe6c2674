import CutoverAudit
import CutoverCore
import CutoverCrypto
import CutoverSQLite
import CutoverStore
import Foundation
import Testing
import TestSupport

/// Each kind of change made underneath cutover is found, at the right position.
@Suite struct TamperTests {
    @Test func anUntouchedLogIsIntactAndSigned() async throws {
        let log = try await AuditedLog.make()
        let r = try log.verify()
        #expect(r.intact, "\(r.findings)")
        #expect(r.checkpoints == 3)
        #expect(r.runsFolded == 3)
        #expect(r.signaturesChecked)
        #expect(r.eventsAfterLastCheckpoint == 0)
        let states = try Auditor.verify(try SQLiteStore.open(readingOnly: log.path), key: nil).1
        #expect(log.runs.map { states[$0]?.status } == [.succeeded, .rolledBack, .rolledBack])
        // Without a key the chain is still checked, and the report says signatures were not.
        #expect(try Auditor.verify(try SQLiteStore.open(readingOnly: log.path), key: nil).0.signaturesChecked == false)
    }

    @Test(arguments: [
        ("body", "body = replace(body, '\"attempt\":1', '\"attempt\":2')"),
        ("type", "type = 'StepNote'"),
        ("time", "at_ms = at_ms + 1"),
        ("actor", "actor = 'mallory'"),
    ])
    func editingOneFieldOfOneEventIsFoundThere(_ field: String, _ change: String) async throws {
        let log = try await AuditedLog.make()
        let target = try log.seq(of: "StepStarted", run: 1, nth: 1)
        try log.tamper("UPDATE events SET \(change) WHERE seq = \(target);")
        let r = try log.verify()
        #expect(r.findings.first?.kind == .edited, "\(field): \(r.findings)")
        #expect(r.findings.first?.seq == target)
    }

    @Test func deletingOneEventIsFoundAsMissing() async throws {
        let log = try await AuditedLog.make()
        let target = try log.seq(of: "StepSucceeded", run: 0)
        try log.tamper("DELETE FROM events WHERE seq = \(target);")
        let r = try log.verify()
        #expect(r.findings.first?.kind == .missing)
        #expect(r.findings.first?.seq == target)
        #expect(r.findings.first?.message.contains("event \(target) is missing") == true)
    }

    @Test func deletingAWholeRunIsFound() async throws {
        let log = try await AuditedLog.make()
        let first = try log.seq(of: "RunStarted", run: 1)
        try log.tamper("DELETE FROM events WHERE run_id = '\(log.runs[1])';")
        let r = try log.verify()
        #expect(r.findings.first?.kind == .missing)
        #expect(r.findings.first?.seq == first)
    }

    @Test func aForgedEventWithARecomputedHashIsFoundAsInserted() async throws {
        let log = try await AuditedLog.make()
        let at = try log.seq(of: "RunStarted", run: 2)
        let prev = try log.query("SELECT hex(hash) FROM events WHERE seq = \(at - 1)").lowercased()
        let body = #"{"reason":"approved by the CFO"}"#
        let canonical = CanonicalEvent.bytes(seq: at, runID: "run-forged", runSeq: 1, atMillis: 1_790_000_000_000, actor: "mallory", type: "RunSucceeded", bodyJSON: body)
        let hash = Hex.encode(SHA256.hash(Hex.decode(prev)! + canonical))
        try log.tamper("""
            UPDATE events SET seq = seq + 1000000 WHERE seq >= \(at);
            UPDATE events SET seq = seq - 999999 WHERE seq >= 1000000;
            INSERT INTO events(seq, run_id, run_seq, type, at_ms, actor, body, hash) VALUES (\(at), 'run-forged', 1, 'RunSucceeded', 1790000000000, 'mallory', '\(body)', X'\(hash)');
            """)
        let r = try log.verify()
        #expect(r.findings.first?.kind == .inserted, "\(r.findings)")
        #expect(r.findings.first?.seq == at)
    }

    @Test func swappingTwoEventsIsFoundAsReordered() async throws {
        let log = try await AuditedLog.make()
        let a = try log.seq(of: "StepStarted", run: 0, nth: 2)
        try log.tamper("""
            CREATE TEMP TABLE x AS SELECT * FROM events WHERE seq IN (\(a), \(a + 1));
            UPDATE events SET run_seq = -run_seq WHERE seq IN (\(a), \(a + 1));
            UPDATE events SET run_id = (SELECT run_id FROM x WHERE seq = \(a + 1)), run_seq = (SELECT run_seq FROM x WHERE seq = \(a + 1)),
              type = (SELECT type FROM x WHERE seq = \(a + 1)), at_ms = (SELECT at_ms FROM x WHERE seq = \(a + 1)), actor = (SELECT actor FROM x WHERE seq = \(a + 1)),
              body = (SELECT body FROM x WHERE seq = \(a + 1)), hash = (SELECT hash FROM x WHERE seq = \(a + 1)) WHERE seq = \(a);
            UPDATE events SET run_id = (SELECT run_id FROM x WHERE seq = \(a)), run_seq = (SELECT run_seq FROM x WHERE seq = \(a)),
              type = (SELECT type FROM x WHERE seq = \(a)), at_ms = (SELECT at_ms FROM x WHERE seq = \(a)), actor = (SELECT actor FROM x WHERE seq = \(a)),
              body = (SELECT body FROM x WHERE seq = \(a)), hash = (SELECT hash FROM x WHERE seq = \(a)) WHERE seq = \(a + 1);
            """)
        let r = try log.verify()
        #expect(r.findings.first?.kind == .reordered, "\(r.findings)")
        #expect(r.findings.first?.seq == a)
    }

    @Test func truncatingTheTailAfterASignedCheckpointIsFound() async throws {
        let log = try await AuditedLog.make()
        let keep = try log.seq(of: "RunStarted", run: 2) + 3
        try log.tamper("DELETE FROM events WHERE seq > \(keep);")
        let r = try log.verify()
        #expect(r.findings.first?.kind == .truncated, "\(r.findings)")
        #expect(r.findings.first?.seq == keep + 1)
        #expect(r.findings.first?.message.contains("checkpoint #3") == true)
    }

    @Test func aCheckpointResignedWithAnotherKeyFailsAgainstTheTrustedKey() async throws {
        let log = try await AuditedLog.make()
        let mallory = try Ed25519Key.generate()
        let cp = try SQLiteStore.open(readingOnly: log.path).checkpoints()[0]
        let sig = Hex.encode(try mallory.sign(StoredCheckpoint.message(seq: cp.seq, hash: cp.hash, atMillis: cp.atMillis, key: mallory.fingerprint)))
        try log.tamper("UPDATE checkpoints SET key = '\(mallory.fingerprint)', signature = X'\(sig)' WHERE n = 1;")
        let r = try log.verify()
        #expect(r.findings.first?.kind == .badSignature)
        #expect(r.findings.first?.seq == cp.seq)
        // A signature byte changed: found too.
        let other = try await AuditedLog.make()
        try other.tamper("UPDATE checkpoints SET signature = X'00' || substr(signature, 2) WHERE n = 2;")
        #expect(try other.verify().findings.first?.kind == .badSignature)
    }

    @Test func oneRunIsVerifiedWithTheLinksAroundIt() async throws {
        let log = try await AuditedLog.make()
        let r = try log.verify(run: log.runs[1])
        #expect(r.intact, "\(r.findings)")
        #expect(r.runsFolded == 1)
        let inRun = try log.seq(of: "StepSucceeded", run: 1)
        try log.tamper("UPDATE events SET actor = 'mallory' WHERE seq = \(inRun);")
        #expect(try log.verify(run: log.runs[1]).findings.first?.seq == inRun)
    }

    @Test func verifyNeverWritesTheDatabase() async throws {
        let log = try await AuditedLog.make()
        let before = try Data(contentsOf: URL(fileURLWithPath: log.path))
        _ = try log.verify()
        #expect(try Data(contentsOf: URL(fileURLWithPath: log.path)) == before)
        #expect(throws: StoreError.self) { try SQLiteStore.open(readingOnly: log.dir.path("nothing-here.sqlite")) }
    }
}
