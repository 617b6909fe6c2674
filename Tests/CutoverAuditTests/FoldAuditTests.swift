import CutoverAudit
import CutoverCore
import CutoverCrypto
import CutoverSQLite
import CutoverStore
import Foundation
import Testing
import TestSupport

/// Events whose chain is intact but whose runs do not fold: a forger who can recompute hashes
/// but not write a legal history. The audit folds on threads of its own for a whole log; it
/// must name the same event, at the same position, as folding inline does.
@Suite struct FoldAuditTests {
    /// Replaces the body of the event at `seq` and recomputes the chain from there on, as
    /// someone with write access and the chain's description would.
    static func forge(_ log: AuditedLog, at seq: Int64, type: String? = nil, body: String) throws {
        let store = try SQLiteStore.open(readingOnly: log.path)
        var rows: [StoredEvent] = []
        try store.forEachEvent(from: seq - 1) { rows.append($0) }
        var hasher = ChainHasher()
        var link = rows[0].hash
        var sql = ""
        for e in rows.dropFirst() {
            let newType = e.seq == seq ? (type ?? e.type) : e.type
            let newBody = e.seq == seq ? body : e.bodyJSON
            link = hasher.hash(seq: e.seq, runID: e.runID, runSeq: e.runSeq, atMillis: e.atMillis, actor: e.actor, type: newType, body: newBody, after: link)
            let quoted = newBody.replacingOccurrences(of: "'", with: "''")
            sql += "UPDATE events SET type = '\(newType)', body = '\(quoted)', hash = X'\(Hex.encode(link))' WHERE seq = \(e.seq);\n"
        }
        try log.tamper(sql + "DELETE FROM checkpoints;")
    }

    /// The audit of the whole log inline, on one thread, for comparison.
    static func inline(_ log: AuditedLog) throws -> VerifyReport {
        let store = try SQLiteStore.open(readingOnly: log.path)
        var audit = ChainAudit(checkpoints: try store.checkpoints(), key: nil, parallel: false)
        try store.forEachRow(from: 1, through: .max) { audit.feed($0) }
        return audit.finish()
    }

    @Test func finishingTwiceGivesTheSameReport() async throws {
        let log = try await AuditedLog.make()
        let store = try SQLiteStore.open(readingOnly: log.path)
        var audit = ChainAudit(checkpoints: try store.checkpoints(), key: log.key, parallel: true)
        try store.forEachRow(from: 1, through: .max) { audit.feed($0) }
        let first = audit.finish()
        let second = audit.finish()
        #expect(first.intact && second.intact)
        #expect(first.runsFolded == 3 && second.runsFolded == 3)
        #expect(first.bytes == second.bytes && first.events == second.events)
        // An audit dropped half-way leaves no thread waiting for it (the pipeline closes itself).
        var abandoned = ChainAudit(checkpoints: [], key: nil, parallel: true)
        try store.forEachRow(from: 1, through: 3) { abandoned.feed($0) }
    }

    @Test(arguments: [
        ("a run that starts twice", "RunStarted", nil as String?, FindingKindName.illegalState),
        ("a step outside the plan", "StepStarted", #"{"attempt":1,"step":"ghost"}"#, .illegalState),
        ("a payload that is not its type", "StepStarted", #"{"attempt":"one","step":"scale"}"#, .malformed),
        ("a payload that is not JSON", "StepStarted", #"{"attempt":1,"step":"scale""#, .malformed),
    ])
    func anIllegalHistoryWithAnIntactChainIsNamed(_ name: String, _ type: String, _ body: String?, _ expected: FindingKindName) async throws {
        let log = try await AuditedLog.make()
        let at = try log.seq(of: type, run: 1, nth: type == "RunStarted" ? 0 : 1)
        if type == "RunStarted" {
            // The second run's first step start becomes another RunStarted.
            let started = try log.seq(of: "StepStarted", run: 1)
            let plan = try log.query("SELECT body FROM events WHERE seq = \(at)")
            try Self.forge(log, at: started, type: "RunStarted", body: plan)
            try check(log, at: started, expected, name)
        } else {
            try Self.forge(log, at: at, body: body!)
            try check(log, at: at, expected, name)
        }
    }

    func check(_ log: AuditedLog, at seq: Int64, _ expected: FindingKindName, _ name: String) throws {
        let chain = try Auditor.verify(try SQLiteStore.open(readingOnly: log.path), key: nil, fold: false).0
        #expect(chain.intact, "\(name): the forged chain is intact on its own")
        let parallel = try Auditor.verify(try SQLiteStore.open(readingOnly: log.path), key: nil).0
        let one = try Self.inline(log)
        #expect(parallel.findings.first?.kind.rawValue == expected.rawValue, "\(name): \(parallel.findings)")
        #expect(parallel.findings.first?.seq == seq, "\(name)")
        #expect(parallel.findings == one.findings, "\(name): folding on threads and inline agree")
        #expect(parallel.events == one.events && parallel.lastSeq == one.lastSeq, "\(name)")
        #expect(parallel.bytes == one.bytes && parallel.eventsAfterLastCheckpoint == one.eventsAfterLastCheckpoint, "\(name)")
        #expect(parallel.bytes < chain.bytes, "\(name): bytes count only what was checked before the bad event")
        #expect(parallel.lastSeq == seq, "\(name): nothing from the bad event on is trusted")
    }
}

/// `Finding.Kind` by name, for test arguments.
enum FindingKindName: String, Sendable {
    case illegalState = "illegal-state"
    case malformed
}

/// The chain's description is enough to write a log an auditor accepts: a second
/// implementation of it, in Python (`scripts/fixtures/grow_log.py`), copies a real log's runs
/// under new ids and recomputes every hash; cutover verifies the result, folds included.
@Suite struct IndependentChainTests {
    @Test func aLogChainedByAnotherProgramFromTheDescriptionVerifies() async throws {
        let log = try await AuditedLog.make()
        let grown = log.dir.path("grown.sqlite")
        let r = try Sandbox.script(["python3", "scripts/fixtures/grow_log.py", log.path, grown, "200"])
        #expect(r.status == 0, "\(r.output)")
        let report = try Auditor.verify(try SQLiteStore.open(readingOnly: grown), key: nil).0
        #expect(report.intact, "\(report.findings)")
        #expect(report.events >= 200)
        #expect(report.runsFolded > 3)
    }
}
