import Foundation
import Testing
import TestSupport

/// `cutover preflight` and the preflight `start` runs, against the sandbox's real services:
/// every secret, endpoint, read and readiness check of a workflow with its runbook, each named
/// in its row when it fails, and nothing changed or written.
extension SandboxTests {
    /// The sandbox as a run could change it: every side's state, without the call logs and
    /// the replica's replay distance (which moves on its own).
    func changeableState() throws -> String {
        var s = try sandbox.state()
        s["awsCalls"] = nil
        s["gceCalls"] = nil
        if var pg = s["postgres"] as? [String: Any], var dr = pg["dr"] as? [String: Any] {
            dr["lagBytes"] = nil
            pg["dr"] = dr
            s["postgres"] = pg
        }
        let heartbeat = try sandbox.run(["redis-cli", "-p", "16379", "GET", "cutover:heartbeat"]).output
        s["heartbeat"] = heartbeat
        return String(decoding: try JSONSerialization.data(withJSONObject: s, options: [.sortedKeys]), as: UTF8.self)
    }

    /// The database's files, byte for byte.
    func databaseBytes() -> [Data?] {
        [db, db + "-wal", db + "-shm"].map { FileManager.default.contents(atPath: $0) }
    }

    /// The lines of a preflight table that failed.
    func failed(_ r: CutoverBinary.Result) -> [String] {
        (r.stdout + r.stderr).split(separator: "\n").map(String.init).filter { $0.hasPrefix("  FAIL") }
    }

    /// The sandbox runbook with one change, written where the test can name it.
    func runbook(_ name: String, _ change: (inout [String: Any]) -> Void) throws -> String {
        let data = try Data(contentsOf: repositoryRoot.appendingPathComponent("runbooks/sandbox.json"))
        var object = try JSONSerialization.jsonObject(with: data) as? [String: Any] ?? [:]
        change(&object)
        return dir.write("\(name).json", String(decoding: try JSONSerialization.data(withJSONObject: object), as: UTF8.self))
    }

    @Test func preflightChecksEveryTargetOfTheDrillAndChangesNothing() throws {
        // A database with a run in it: the readiness checks alone, as a recorded run.
        let ready = try sandbox.cutover(["start", "failover", "--runbook", "sandbox", "--readiness-only", "--json"], db: db)
        #expect(ready.status == 0, "\(ready.stdout)\(ready.stderr)")
        let run = (try? JSONSerialization.jsonObject(with: Data((ready.lines.last ?? "").utf8)) as? [String: Any])?["run"] as? String ?? ""
        let s = try status(run)
        #expect(s["mode"] as? String == "readiness", "\(s)")
        let steps = (s["steps"] as? [[String: Any]] ?? []).compactMap { $0["id"] as? String }
        #expect(steps == ["dr-health", "replication-lag", "userdb-lag", "models-verify", "dr-capacity", "dr-ready", "dr-latency"], "only the readiness checks ran: \(steps)")

        let before = try changeableState()
        let files = databaseBytes()
        let calls = try sandbox.state(calls: true)
        let awsSeen = (calls["awsCalls"] as? [[String: Any]] ?? []).count
        let gceSeen = calls["gceCalls"] as? [String: Int] ?? [:]

        let r = try sandbox.cutover(["preflight", "failover", "--runbook", "sandbox", "--drill"], db: db)
        #expect(r.status == 0, "\(r.stdout)\(r.stderr)")
        #expect(failed(r).isEmpty, "\(failed(r))")
        // Each kind of check, with what it found and how long it took.
        for row in [
            "secret env:PG_CUTOVER_PASSWORD", "tcp    redis://127.0.0.1:16380", "tcp    postgresql://127.0.0.1:15433",
            "tcp    http://127.0.0.1:18095", "read   switch-dns (dns.switch)", "read   scale-gpu (instances.scale)",
            "read   enable-userdb-writes (writes.enable)", "read   move-alerts (alerts.move)", "check  dr-health (health.http)",
            "check  replication-lag (replication.check)", "check  models-verify (models.verify)",
        ] {
            #expect(r.lines.contains { $0.hasPrefix("  ok   \(row)") }, "no passing row \(row) in:\n\(r.stdout)")
        }
        #expect(r.lines.contains { $0.contains("switch-dns (dns.switch)") && $0.contains("recommendations.example.test. A is \(Self.primary)") }, "\(r.stdout)")
        #expect(r.lines.contains { $0.contains("enable-userdb-writes") && $0.contains("could be promoted") }, "\(r.stdout)")
        #expect(r.lines.contains { $0.contains("secret env:AWS_SESSION_TOKEN") && $0.contains("optional") }, "an unset optional secret is not a failure: \(r.stdout)")
        #expect(r.lines.last?.contains("checks passed") == true, "\(r.stdout)")

        // A failback before any failover: its checks after its first change would meet the
        // world before that change, so they are left to the run.
        let json = try sandbox.cutover(["preflight", "failback", "--runbook", "sandbox", "--json"], db: db)
        #expect(json.status == 0, "\(json.stderr)")
        let report = try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any] ?? [:]
        let rows = report["checks"] as? [[String: Any]] ?? []
        #expect(report["passed"] as? Bool == true && rows.count > 10)
        let skipped = rows.filter { $0["skipped"] as? Bool == true }.compactMap { $0["subject"] as? String }
        #expect(skipped.contains("userdb-lag (replication.check)") && !skipped.contains("primary-health (health.http)"), "\(skipped)")
        #expect(rows.contains { $0["subject"] as? String == "primary-health (health.http)" && $0["passed"] as? Bool == true }, "the check before the first change ran")
        #expect(rows.allSatisfy { $0["kind"] as? String != "tcp" || $0["millis"] is Double }, "every connection is timed")

        #expect(try changeableState() == before, "preflight changed the sandbox")
        #expect(databaseBytes() == files, "preflight wrote to the database")
        let after = try sandbox.state(calls: true)
        let awsNew = (after["awsCalls"] as? [[String: Any]] ?? []).dropFirst(awsSeen)
        #expect(!awsNew.isEmpty && awsNew.allSatisfy { call in
            // REST reads, or the query API's (POSTed) Describe and List actions.
            ["GET", "HEAD"].contains(call["method"] as? String ?? "") || ["Describe", "List", "Get"].contains { (call["action"] as? String ?? "").hasPrefix($0) }
        }, "AWS saw only reads: \(awsNew.map { "\($0["method"] ?? "") \($0["action"] ?? "")" })")
        let gceNew = (after["gceCalls"] as? [String: Int] ?? [:]).filter { $0.value > gceSeen[$0.key, default: 0] }.map(\.key)
        #expect(!gceNew.isEmpty && gceNew.allSatisfy { $0 == "token" || $0.hasSuffix(".get") || $0.lowercased().contains("list") }, "Google saw only reads: \(gceNew)")
    }

    @Test func preflightNamesAMissingSecretAndStartWritesNothing() throws {
        let path = try runbook("nope") { rb in rb["notify"] = ["webhook": "env:NOPE_WEBHOOK"] }
        let r = try sandbox.cutover(["preflight", "failover", "--runbook", path, "--drill"], db: db)
        #expect(r.status == 1)
        #expect(failed(r).count == 1 && failed(r)[0].contains("secret env:NOPE_WEBHOOK") && failed(r)[0].contains("export NOPE_WEBHOOK") && failed(r)[0].contains("tell-the-channel"), "\(failed(r))")

        let start = try sandbox.cutover(["start", "failover", "--runbook", path, "--drill"], db: db)
        #expect(start.status == 1)
        #expect(start.stdout.isEmpty, "no run id: \(start.stdout)")
        #expect(failed(start).contains { $0.contains("env:NOPE_WEBHOOK") }, "\(start.stderr)")
        #expect(start.stderr.contains("nothing was started or written") && start.stderr.contains("--no-preflight"), "\(start.stderr)")
        #expect(!FileManager.default.fileExists(atPath: db), "start wrote nothing")

        // --no-preflight begins anyway; the run meets the missing secret at its last step.
        let anyway = try sandbox.cutover(["start", "failover", "--runbook", path, "--drill", "--no-preflight", "--detach"], db: db)
        #expect(anyway.status == 75, "\(anyway.stdout)\(anyway.stderr)")
    }

    @Test func preflightNamesAStoppedServiceAndAWrongKey() throws {
        // A Google service-account key of the right account, signed with another private key.
        let keyPath = sandbox.directory.appendingPathComponent("google/service-account.json").path
        var key = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: keyPath))) as? [String: Any] ?? [:]
        let pem = dir.path("other.pem")
        #expect(try sandbox.run(["openssl", "genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", pem]).status == 0)
        key["private_key"] = try String(contentsOfFile: pem, encoding: .utf8)
        let wrong = dir.write("wrong-key.json", String(decoding: try JSONSerialization.data(withJSONObject: key), as: UTF8.self))
        let r = try sandbox.cutover(["preflight", "failover", "--runbook", "sandbox"], db: db, environment: ["GOOGLE_APPLICATION_CREDENTIALS": wrong])
        #expect(r.status == 1)
        for step in ["scale-gpu (instances.scale)", "switch-dns (dns.switch)", "dr-capacity (capacity.check)"] {
            #expect(failed(r).contains { $0.contains(step) && $0.contains("Invalid JWT Signature") }, "\(step) not failed for the key: \(failed(r))")
        }
        #expect(!failed(r).contains { $0.contains("BEGIN PRIVATE KEY") }, "the key never reaches a message")

        #expect(try sandbox.run(["scripts/sandbox", "stop", "redis-dr"]).status == 0)
        defer { _ = try? sandbox.run(["scripts/sandbox", "start", "redis-dr"]) }
        let stopped = try sandbox.cutover(["preflight", "failover", "--runbook", "sandbox", "--drill"], db: db)
        #expect(stopped.status == 1)
        #expect(failed(stopped).contains { $0.contains("tcp    redis://127.0.0.1:16380") && $0.contains("replication-lag") }, "\(failed(stopped))")
        #expect(failed(stopped).contains { $0.contains("check  replication-lag (replication.check)") && $0.contains("127.0.0.1:16380") }, "\(failed(stopped))")
        #expect(!FileManager.default.fileExists(atPath: db))
    }
}
