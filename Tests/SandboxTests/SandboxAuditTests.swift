import Foundation
import Testing
import TestSupport

/// The audit commands on a real drill made against the sandbox, as an auditor would use them.
extension SandboxTests {
    @Test func aSignedDrillIsReportedVerifiedExportedAndTamperingIsNamed() throws {
        let keys = try sandbox.cutover(["keys", "init"], db: db)
        #expect(keys.status == 0, "\(keys.stderr)")
        #expect(try sandbox.cutover(["keys", "init"], db: db).status == 1, "a signing key is never overwritten")
        let pub = dir.path("keys/cutover.ed25519.pub.pem")
        let (run, result) = try startApproveResume(drill: true)
        #expect(result.status == 0)
        #expect(result.stdout.contains("RTO ") && result.stdout.contains("until the cutover monitor passed; target 15m00s: PASS"), "\(result.stdout)")
        #expect(result.stdout.contains("RPO 0ms: the replica had every byte"), "\(result.stdout)")
        let status = try self.status(run)
        let report = status["report"] as? [String: Any]
        #expect(report?["rtoPass"] as? Bool == true && report?["rpoPass"] as? Bool == true)

        let verify = try sandbox.cutover(["audit", "verify", "--key", pub], db: db)
        #expect(verify.status == 0, "\(verify.stdout)\(verify.stderr)")
        #expect(verify.stdout.contains("✓ intact") && verify.stdout.contains("signatures checked with the trusted key ed25519:"))

        let bundle = dir.path("run.jsonl")
        #expect(try sandbox.cutover(["audit", "export", run, "--format", "jsonl", "-o", bundle], db: db).status == 0)
        let offline = try sandbox.cutover(["audit", "verify", "--bundle", bundle, "--key", pub, "--db", dir.path("absent.sqlite")], db: db)
        #expect(offline.status == 0, "a bundle verifies with nothing else: \(offline.stdout)\(offline.stderr)")
        let html = dir.path("run.html")
        #expect(try sandbox.cutover(["audit", "export", run, "--format", "html", "-o", html], db: db).status == 0)
        let page = try String(contentsOfFile: html, encoding: .utf8)
        #expect(page.contains("<svg") && page.contains("Drill report") && page.contains("pill ok\">intact"))
        // As a browser shows it: the verdict, what changed (the DNS step's records before →
        // after, the GPU group's size, the replica), who approved, the digests, the legend of
        // the dashed lines, and the rollback on its own scale.
        let dom = try Sandbox.script(["chromium", "--headless", "--no-sandbox", "--disable-gpu", "--dump-dom", "file://\(html)"]).output
        #expect(dom.contains("id=\"verdict\">drill passed</span>") && dom.contains("class=\"pill ok\" id=\"verdict\""), "a passed drill is green")
        let dnsRow = dom.components(separatedBy: "<tr data-step=\"switch-dns\">").dropFirst().first?.components(separatedBy: "</tr>").first ?? ""
        #expect(dnsRow.contains("recommendations.example.test. A: 10.0.1.10 (ttl 30) → 10.1.1.10 (ttl 30)") && dnsRow.contains("undone"), "the DNS change, before → after: \(dnsRow)")
        #expect(dom.contains("recsys-dr-gpu: 1 → 4 instances"), "the GPU group's size, before → after")
        #expect(dom.contains("Approved by") && dom.contains("go: alice"))
        let workflowDigest = status["workflowDigest"] as? String ?? "?"
        #expect(workflowDigest.count == 64 && dom.contains("sha256 \(workflowDigest)"))
        #expect(dom.contains("id=\"legend\"") && dom.contains("pivot step started") && dom.contains("rollback started") && dom.contains("an approval given"))
        #expect(dom.contains("class=\"timeline-rollback\""), "the rollback is drawn on its own scale")
        let changes = status["changes"] as? [[String: Any]] ?? []
        #expect(changes.contains { $0["step"] as? String == "switch-dns" && $0["undone"] as? Bool == true }, "\(changes)")
        let text = try sandbox.cutover(["status", run], db: db).stdout
        #expect(text.contains("Changes:") && text.contains("switch-dns: recommendations.example.test. A: 10.0.1.10"), "\(text)")

        let replay = try sandbox.cutover(["audit", "replay", run, "--at", "12"], db: db)
        #expect(replay.stdout.contains("as it was at event 12"), "\(replay.stdout)")
        #expect(replay.stdout.contains("scale-gpu: not started"), "at event 12 the scale had not begun: \(replay.stdout)")
        let whole = try sandbox.cutover(["audit", "replay", run], db: db)
        #expect(whole.stdout.contains("alice: approved go"), "\(whole.stdout)")
        #expect(whole.stdout.contains("compensation 1: succeeded"))
        let trend = try sandbox.cutover(["report", "--since", "2026-01-01"], db: db)
        #expect(trend.stdout.contains(run) && trend.stdout.contains("pass") && trend.stdout.contains("drill passed"), "\(trend.stdout)")
        #expect(trend.stdout.contains("RTO OK") && trend.stdout.contains("RPO OK"), "every column has a header")
        let yesterday = try sandbox.cutover(["report", "--since", "yesterday", "--json"], db: db)
        #expect(yesterday.status == 0 && yesterday.stdout.contains(run), "\(yesterday.stderr)")
        let bad = try sandbox.cutover(["report", "--since", "last tuesday"], db: db)
        #expect(bad.status == 64 && bad.stderr.contains("--since:") && !bad.stderr.contains("--at"), "\(bad.stderr)")

        // Underneath cutover: one event's actor changed.
        let target = 9
        let sql = "DROP TRIGGER events_no_update; UPDATE events SET actor = 'mallory' WHERE seq = \(target);"
        #expect(try sandbox.run(["sqlite3", db, sql]).status == 0)
        let broken = try sandbox.cutover(["audit", "verify", "--key", pub], db: db)
        #expect(broken.status == 1)
        #expect(broken.stdout.contains("✗ broken at seq \(target): edited"), "\(broken.stdout)")
        let json = try sandbox.cutover(["audit", "verify", "--json"], db: db)
        let problem = (try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any])?["problem"] as? [String: Any]
        #expect(problem?["seq"] as? Int == target && problem?["kind"] as? String == "edited")
    }
}
