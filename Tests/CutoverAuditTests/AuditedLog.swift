import CutoverAudit
import CutoverCore
import CutoverCrypto
import CutoverEngine
import CutoverSQLite
import CutoverStore
import Foundation
import Testing
import TestSupport

/// A small real log for audit tests: three runs made by the engine against the simulated
/// world (a live failover with a retried step, a drill rolled back as planned, a failure
/// before the pivot rolled back), each sealed by a signed checkpoint.
struct AuditedLog {
    let dir: TemporaryDirectory
    let path: String
    let key: Ed25519Key
    let runs: [String]

    static let workflow = """
        {"name": "audited", "steps": [
          {"id": "health", "type": "sim.check", "with": {"key": "health", "equals": "ok"}},
          {"id": "prep", "type": "sim.set", "with": {"key": "warm", "value": "yes"}},
          {"id": "scale", "type": "sim.set", "with": {"key": "capacity", "value": "4"}, "retry": {"attempts": 3, "backoff": "1s"}},
          {"id": "writes", "type": "sim.pivot", "with": {"key": "writes", "value": "primary"}},
          {"id": "dns", "type": "sim.set", "with": {"key": "dns", "value": "dr"}}
        ]}
        """

    static func make() async throws -> AuditedLog {
        let h = try Harness()
        let key = try Ed25519Key.generate()
        let e = h.engine()
        let w = try h.workflow(workflow)
        var runs: [String] = []
        h.world.failExecute("scale", with: [StepError(code: "throttled", message: "slow down", retryable: true)])
        for (mode, fail) in [(RunMode.live, false), (.drill, false), (.live, true)] {
            if fail { h.world.failExecute("scale", with: [StepError(code: "quota", message: "no GPUs left", retryable: false)]) }
            let run = try e.start(h.request(w, mode: mode))
            _ = try await e.drive(run)
            _ = try Auditor.checkpoint(h.log, key: key, seq: try h.log.span(of: run)?.upperBound, now: h.clock.now())
            runs.append(run)
        }
        return AuditedLog(dir: h.dir, path: h.log.location, key: key, runs: runs)
    }

    /// Verifies with folding, and checks that the chain-only fast path names the same position.
    func verify(run: String? = nil, key: Ed25519Key? = nil) throws -> VerifyReport {
        let full = try Auditor.verify(try SQLiteStore.open(readingOnly: path), run: run, key: key ?? self.key).0
        let chain = try Auditor.verify(try SQLiteStore.open(readingOnly: path), run: run, key: key ?? self.key, fold: false).0
        if full.findings.first?.kind != .illegalState {
            #expect(chain.findings.first == full.findings.first, "chain-only: \(chain.findings) vs \(full.findings)")
            #expect(chain.bytes == full.bytes && chain.lastSeq == full.lastSeq)
        }
        return full
    }

    /// Raw SQL underneath cutover, with the append-only triggers dropped, as an attacker would.
    func tamper(_ sql: String) throws {
        let r = try Sandbox.script(["sqlite3", path, "DROP TRIGGER IF EXISTS events_no_update; DROP TRIGGER IF EXISTS events_no_delete; DROP TRIGGER IF EXISTS checkpoints_no_update; DROP TRIGGER IF EXISTS checkpoints_no_delete; \(sql)"])
        guard r.status == 0 else { throw FixtureError("sqlite3 failed: \(r.output)") }
    }

    func query(_ sql: String) throws -> String {
        let r = try Sandbox.script(["sqlite3", path, sql])
        guard r.status == 0 else { throw FixtureError("sqlite3 failed: \(r.output)") }
        return r.output.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    func seq(of type: String, run: Int, nth: Int = 0) throws -> Int64 {
        let rows = try query("SELECT seq FROM events WHERE run_id = '\(runs[run])' AND type = '\(type)' ORDER BY seq").split(separator: "\n")
        return Int64(rows[nth])!
    }

    func export(run: Int) throws -> String {
        try AuditBundle.export(try SQLiteStore.open(path: path), run: runs[run], publicKey: key)
    }
}
