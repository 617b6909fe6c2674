import Foundation
import Testing
import TestSupport

/// `audit verify` says "intact" with 0 only when it checked signatures against a key the
/// auditor trusts; `keys trust` pins one; a kept checkpoint holds the log to what it was.
@Suite struct AuditTrustTests {
    @Test func verifyWithoutATrustedKeyExitsWithItsOwnStatus() throws {
        let p = try Project()
        let config = p.dir.path("auditor-config")
        let env = p.environment.merging(["XDG_CONFIG_HOME": config]) { $1 }
        func cutover(_ args: String...) throws -> CutoverBinary.Result { try CutoverBinary.run(args, in: p.dir.url, environment: env) }

        #expect(try cutover("keys", "init").status == 0)
        #expect(try cutover("start", "check", "--runbook", "svc", "--drill").status == 0)
        let unchecked = try cutover("audit", "verify")
        #expect(unchecked.status == 3, "\(unchecked.stdout)")
        #expect(unchecked.stdout.contains("signatures NOT checked"))

        let trust = try cutover("keys", "trust", ".cutover/keys/cutover.ed25519.pub.pem")
        #expect(trust.status == 0, "\(trust.stderr)")
        let trusted = try cutover("audit", "verify")
        #expect(trusted.status == 0, "\(trusted.stdout)\(trusted.stderr)")
        #expect(trusted.stdout.contains("signatures checked with the trusted key"))

        // Keep the latest checkpoint, then cut the log back past it: the kept checkpoint says so.
        let keep = try cutover("audit", "checkpoint", "-o", "kept.json")
        #expect(keep.status == 0, "\(keep.stderr)")
        #expect(try cutover("audit", "verify", "--checkpoint", "kept.json").status == 0)
        let db = p.dir.path(".cutover/cutover.sqlite")
        let cut = try Sandbox.script(["sqlite3", db, "DROP TRIGGER events_no_delete; DROP TRIGGER checkpoints_no_delete; DELETE FROM events WHERE seq > 5; DELETE FROM checkpoints;"])
        #expect(cut.status == 0, "\(cut.output)")
        let held = try cutover("audit", "verify", "--checkpoint", "kept.json")
        #expect(held.status == 1, "\(held.stdout)")
        #expect(held.stdout.contains("the checkpoint you kept"), "\(held.stdout)")
    }

    @Test func aLogEmptiedUnderItsCheckpointNeverCountsMinusOneEvents() throws {
        let p = try Project()
        #expect(try p.cutover("keys", "init").status == 0)
        #expect(try p.cutover("start", "check", "--runbook", "svc", "--drill").status == 0)
        let db = p.dir.path(".cutover/cutover.sqlite")
        let emptied = try Sandbox.script(["sqlite3", db, "DROP TRIGGER events_no_delete; DELETE FROM events;"])
        #expect(emptied.status == 0, "\(emptied.output)")
        let r = try p.cutover("audit", "verify", "--key", ".cutover/keys/cutover.ed25519.pub.pem")
        #expect(r.status == 1)
        #expect(r.stdout.contains("truncated"), "\(r.stdout)")
        #expect(r.stdout.contains("no event checked out") && !r.stdout.contains("-1"), "\(r.stdout)")
    }
}
