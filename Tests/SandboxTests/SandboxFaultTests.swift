import CutoverStore
import Foundation
import Testing
import TestSupport

/// Crashes, services that are down or answer garbage, and two starts at once, against the sandbox.
extension SandboxTests {
    /// Proxy calls whose action or path matches, with the method.
    func calls(_ method: String, _ match: String) throws -> Int {
        let calls = try sandbox.state(calls: true)["awsCalls"] as? [[String: Any]] ?? []
        return calls.filter {
            ($0["method"] as? String) == method && (($0["action"] as? String) == match || (($0["path"] as? String) ?? "").contains(match))
                && ($0["outcome"] as? String) == "forwarded"
        }.count
    }

    /// Calls the Compute Engine fake answered, by method (`resize`, `listManagedInstances`).
    func gceCalls(_ method: String) throws -> Int {
        (try sandbox.state(calls: true)["gceCalls"] as? [String: Int])?[method] ?? 0
    }

    /// Runs `resume RUN` as its own process and SIGKILLs it once `when` holds.
    func resumeAndKill(_ run: String, when: () throws -> Bool) throws {
        let p = sandbox.cutoverProcess(["resume", run], db: db)
        try p.run()
        var fired = false
        for _ in 0..<400 where p.isRunning {
            if try when() {
                kill(p.processIdentifier, SIGKILL)
                fired = true
                break
            }
            Thread.sleep(forTimeInterval: 0.05)
        }
        p.waitWithoutRunLoop()
        #expect(fired, "the kill point was reached while the process ran")
        #expect(p.terminationReason == .uncaughtSignal)
    }

    func approvedRun(drill: Bool = false) throws -> String {
        let start = try sandbox.cutover(["start", "failover", "--runbook", sandbox.runbook, "--detach"] + (drill ? ["--drill"] : []), db: db)
        #expect(start.status == 75, "\(start.stdout)\(start.stderr)")
        let run = start.lines.first ?? ""
        _ = try sandbox.approve(run, db: db)
        return run
    }

    @Test func sigkillDuringTheGoogleGroupWaitThenResumeDoesNotScaleTwice() throws {
        let run = try approvedRun()
        // Instances take 4 s to start on the Compute fake, so the process is inside the wait when it dies.
        try sandbox.control("http://127.0.0.1:18095/_gce/control", #"{"startSeconds": 4}"#)
        try resumeAndKill(run) { try gceCalls("resize") == 1 }
        let resumed = try sandbox.cutover(["resume", run], db: db)
        #expect(resumed.status == 0, "\(resumed.stdout)\(resumed.stderr)")
        #expect(try gceCalls("resize") == 1, "the resize recorded as started was settled by observing, not repeated")
        let scaled = try history(run).first { $0["type"] as? String == "StepSucceeded" && $0["step"] as? String == "scale-gpu" }
        #expect((scaled?["body"] as? [String: Any])?["observed"] as? Bool == true)
        #expect((try sandbox.state()["capacity"] as? [String: Int])?["inService"] == 4)
        #expect(try chainIntact())
    }

    @Test func sigkillRightAfterTheDNSChangeThenResumeDoesNotChangeItAgain() throws {
        let run = try approvedRun()
        // Every Route 53 call takes 0.7 s: the kill lands after the change, before it is recorded.
        try sandbox.control("http://127.0.0.1:15001/_proxy/control", #"{"delayNext": 20, "delayMs": 700, "service": "route53"}"#)
        try resumeAndKill(run) { try calls("POST", "/rrset") == 1 }
        try sandbox.control("http://127.0.0.1:15001/_proxy/control", #"{"reset": true}"#)
        let resizes = try gceCalls("resize")
        let resumed = try sandbox.cutover(["resume", run], db: db)
        #expect(resumed.status == 0, "\(resumed.stdout)\(resumed.stderr)")
        #expect(try calls("POST", "/rrset") == 0, "the Route 53 change recorded as started was observed, not sent again")
        #expect(try gceCalls("resize") == resizes, "nor was anything before it")
        let s = try sandbox.state()
        #expect((s["route53"] as? [String: Any])?["records"] as? [String] == [Self.dr])
        #expect(s["dns"] as? [String] == [Self.dr])
        #expect(try chainIntact())
    }

    /// The public zone's servers (PowerDNS, behind the Cloud DNS fake) stop answering.
    @Test func cloudDNSDownRetriesThenTheDrillRollsBack() throws {
        let before = try sandbox.restorable()
        let run = try approvedRun(drill: true)
        #expect(try sandbox.run(["scripts/sandbox", "stop", "pdns"]).status == 0)
        let result = try sandbox.cutover(["resume", run], db: db)
        let restarted = try sandbox.run(["scripts/sandbox", "start", "pdns"])
        #expect(restarted.status == 0, "scripts/sandbox start pdns: \(restarted.output)")
        #expect(result.status == 1)
        let st = try status(run)
        #expect(st["state"] as? String == "rolled-back")
        let reason = st["reason"] as? String ?? ""
        #expect(reason.contains("step switch-dns failed after 4 attempts"), "\(reason)")
        #expect(reason.contains("Cloud DNS zone example-test") && reason.contains("HTTP 503"), "names the target and what happened: \(reason)")
        let failures = try history(run).filter { $0["type"] as? String == "StepFailed" && $0["step"] as? String == "switch-dns" }
        #expect(failures.count == 4)
        #expect(failures.dropLast().allSatisfy { ($0["body"] as? [String: Any])?["retryAtMillis"] != nil }, "retried with backoff")
        #expect(try sandbox.restorable() == before)
        #expect(try chainIntact(), "nothing in the log is lost")
        // A drill that did not pass reads as failed wherever it is shown.
        #expect(st["verdict"] as? String == "drill failed")
        let list = try sandbox.cutover(["list"], db: db).stdout
        #expect(list.contains("drill failed") && !list.contains("drill passed"), "\(list)")
        let report = try sandbox.cutover(["report"], db: db).stdout
        #expect(report.contains(run) && report.contains("drill failed"), "\(report)")
        let html = dir.path("failed.html")
        #expect(try sandbox.cutover(["audit", "export", run, "--format", "html", "-o", html], db: db).status == 0)
        let page = try String(contentsOfFile: html, encoding: .utf8)
        #expect(page.contains("<span class=\"pill bad\" id=\"verdict\">drill failed</span>"))
    }

    @Test func motoAnswering500IsRetriedAndTheFailoverGoesOn() throws {
        let run = try approvedRun()
        try sandbox.control("http://127.0.0.1:15001/_proxy/control", #"{"failNext": 2, "status": 500, "service": "route53"}"#)
        let result = try sandbox.cutover(["resume", run], db: db)
        #expect(result.status == 0, "\(result.stdout)")
        let failures = try history(run).filter { $0["type"] as? String == "StepFailed" && $0["step"] as? String == "switch-cloud-dns" }
        #expect(failures.count == 2)
        #expect(result.stdout.contains("answered HTTP 500"))
        #expect(try calls("POST", "/rrset") == 1, "one change went through")
        #expect(!result.stdout.contains("sandboxSecretAccessKey") && !result.stdout.contains("AKIASANDBOX"), "no credential in the output")
    }

    @Test func garbageFromTheDREndpointFailsCleanly() throws {
        try sandbox.control("http://127.0.0.1:18090/_control/dr", #"{"garbage": true}"#)
        let refused = try sandbox.cutover(["start", "failover", "--runbook", "sandbox", "--json"], db: db)
        #expect(refused.status == 1 && refused.stderr.contains("FAIL check  dr-health (health.http)") && refused.stderr.contains("answer is not JSON"), "preflight names it first: \(refused.stderr)")
        let start = try sandbox.cutover(["start", "failover", "--runbook", "sandbox", "--json", "--no-preflight"], db: db)
        #expect(start.status == 1)
        let out = try JSONSerialization.jsonObject(with: Data((start.lines.last ?? "").utf8)) as? [String: Any]
        #expect(out?["state"] as? String == "failed")
        #expect((out?["reason"] as? String)?.contains("answer is not JSON") == true, "\(out?["reason"] ?? "")")
        #expect(try chainIntact())
    }

    @Test func twoStartsOfOneRunbookAtOnceRunExactlyOne() throws {
        let args = ["start", "failover", "--runbook", sandbox.runbook, "--detach"]
        let a = sandbox.cutoverProcess(args, db: db)
        let b = sandbox.cutoverProcess(args, db: db)
        try a.run()
        try b.run()
        let outs = [a, b].map { p -> (Int32, String) in
            let out = (p.standardOutput as! Pipe).fileHandleForReading.readDataToEndOfFile()
            let err = (p.standardError as! Pipe).fileHandleForReading.readDataToEndOfFile()
            p.waitWithoutRunLoop()
            return (p.terminationStatus, String(decoding: out + err, as: UTF8.self))
        }
        let winners = outs.filter { $0.0 == 75 }
        let losers = outs.filter { $0.0 != 75 }
        #expect(winners.count == 1 && losers.count == 1, "\(outs)")
        guard let winner = winners.first, let loser = losers.first else { return }
        let run = winner.1.split(separator: "\n").first.map(String.init) ?? "?"
        #expect(loser.0 != 0)
        #expect(loser.1.contains(run), "the refusal names the run that holds the runbook: \(loser.1)")
    }
}
