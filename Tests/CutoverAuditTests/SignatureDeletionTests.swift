import CutoverAudit
import CutoverCore
import CutoverCrypto
import CutoverSQLite
import CutoverStore
import Foundation
import Testing
import TestSupport

/// The attacks that deleting signatures made possible: an event rewritten, the chain
/// recomputed after it and every checkpoint deleted; a bundle without its checkpoint lines; a
/// log cut back, or rewritten, behind a checkpoint the auditor kept.
@Suite struct SignatureDeletionTests {
    /// Rewrites the actor of event `seq` and recomputes every hash from there on, as an attacker
    /// with the database and our source would: the chain alone then checks out.
    func rewriteAndRechain(_ log: AuditedLog, at seq: Int64, actor: String) throws {
        let store = try SQLiteStore.open(readingOnly: log.path)
        var previous = try store.link(at: seq - 1)?.hash ?? ChainLink.genesis.hash
        var sql = ""
        try store.forEachRow(from: seq, through: .max) { row in
            let e = row.stored
            let who = e.seq == seq ? actor : e.actor
            let canonical = CanonicalEvent.bytes(seq: e.seq, runID: e.runID, runSeq: e.runSeq, atMillis: e.atMillis, actor: who, type: e.type, bodyJSON: e.bodyJSON)
            let hash = SHA256.hash(previous + canonical)
            sql += "UPDATE events SET actor = '\(who)', hash = X'\(Hex.encode(hash))' WHERE seq = \(e.seq);\n"
            previous = hash
        }
        try log.tamper(sql)
    }

    @Test func aRechainedLogWithoutItsCheckpointsFailsAgainstTheTrustedKey() async throws {
        let log = try await AuditedLog.make()
        let target = try log.seq(of: "StepSucceeded", run: 0, nth: 1)
        try rewriteAndRechain(log, at: target, actor: "mallory")
        try log.tamper("DELETE FROM checkpoints;")
        // The chain alone checks out: that is the attack.
        let chainOnly = try Auditor.verify(try SQLiteStore.open(readingOnly: log.path), key: nil).0
        #expect(chainOnly.intact)
        let r = try log.verify()
        #expect(r.findings.first?.kind == .unsigned, "\(r.findings)")
        #expect(r.findings.first?.message.contains("run \(log.runs[0]) finished") == true, "\(r.findings)")
        #expect(r.findings.first?.message.contains(log.key.fingerprint) == true)
    }

    @Test func aBundleWithoutItsCheckpointLinesFailsAgainstTheTrustedKey() async throws {
        let log = try await AuditedLog.make()
        let bundle = try log.export(run: 1)
        #expect(AuditBundle.verify(bundle, source: "b", trusted: log.key).0.intact)
        let stripped = bundle.split(separator: "\n").filter { !$0.hasPrefix(#"{"checkpoint""#) }.joined(separator: "\n") + "\n"
        let r = AuditBundle.verify(stripped, source: "b", trusted: log.key).0
        #expect(r.findings.first?.kind == .unsigned, "\(r.findings)")
    }

    @Test func aLogCutBackPastAKeptCheckpointFails() async throws {
        let log = try await AuditedLog.make()
        let store = try SQLiteStore.open(readingOnly: log.path)
        let kept = try #require(try store.checkpoints().max { $0.seq < $1.seq })
        let text = Auditor.keptText(kept, database: log.path)
        let held = try Auditor.readKept(text, source: "kept.json")
        #expect(try Auditor.verify(try SQLiteStore.open(readingOnly: log.path), key: log.key, kept: held).0.intact)
        // The whole last run cut off the end, with its checkpoint: the rest still verifies on its own.
        let cut = try log.seq(of: "RunStarted", run: 2)
        try log.tamper("DELETE FROM events WHERE seq >= \(cut); DELETE FROM checkpoints WHERE seq >= \(cut);")
        #expect(try log.verify().intact, "without the kept checkpoint, nothing shows")
        let r = try Auditor.verify(try SQLiteStore.open(readingOnly: log.path), key: log.key, kept: held).0
        #expect(r.findings.first?.kind == .truncated, "\(r.findings)")
        #expect(r.findings.first?.message.contains("the checkpoint you kept") == true, "\(r.findings)")
    }

    @Test func aLogRewrittenBehindAKeptCheckpointFails() async throws {
        let log = try await AuditedLog.make()
        let kept = try #require(try SQLiteStore.open(readingOnly: log.path).checkpoints().max { $0.seq < $1.seq })
        try rewriteAndRechain(log, at: try log.seq(of: "RunStarted", run: 1), actor: "mallory")
        try log.tamper("DELETE FROM checkpoints;")
        // Without a trusted key and without the kept checkpoint, the rewrite would go unseen.
        #expect(try Auditor.verify(try SQLiteStore.open(readingOnly: log.path), key: nil).0.intact)
        let r = try Auditor.verify(try SQLiteStore.open(readingOnly: log.path), key: nil, kept: kept).0
        #expect(r.findings.first?.kind == .edited, "\(r.findings)")
        #expect(r.findings.first?.seq == kept.seq)
    }
}
