import Foundation
import Testing
import TestSupport

/// `validate` checks a workflow and a runbook as the pair a run would load: the mistakes that
/// passed each file alone and failed at run time, some after the pivot.
@Suite struct PairValidationTests {
    struct Case: CustomTestStringConvertible, Sendable {
        let name: String
        /// The workflow's steps, and the runbook's fields after its service, endpoints and
        /// approvers.
        let steps: String
        var runbookExtra = ""
        /// The line `validate` must print (a prefix of it).
        let says: String
        var testDescription: String { name }
    }

    static let cases: [Case] = [
        Case(
            name: "a typo in a runbook reference",
            steps: #"{"id": "h", "type": "health.http", "with": {"url": "${runbook.dr.endpont}/health"}}"#,
            says: #"workflows/pair.json: steps[0].with.url: ${runbook.dr.endpont}: "endpont" not found; did you mean "endpoint"? in runbook runbooks/pair.json"#),
        Case(
            name: "more approvals than approvers",
            steps: #"{"id": "go", "type": "approval", "with": {"required": 3, "approvers": "${runbook.approvers}"}}"#,
            says: "workflows/pair.json: steps[0].with.required: 3 approvals needed, but only 2 people may approve (alice, bob); list more approvers or require fewer"),
        Case(
            name: "a monitor window longer than the step may run",
            steps: #"{"id": "watch", "type": "cutover.monitor", "with": {"url": "${runbook.dr.endpoint}/recommend", "window": "${runbook.monitor.window}"}, "timeout": "5m"}"#,
            runbookExtra: #", "monitor": {"window": "10m"}"#,
            says: "workflows/pair.json: steps[0].timeout: 5m00s is not longer than the monitor's window (10m00s): the step would always time out; give it a longer timeout"),
        Case(
            name: "a wait longer than its timeout",
            steps: #"{"id": "soak", "type": "wait", "with": {"duration": "2m"}, "timeout": "1m"}"#,
            says: "workflows/pair.json: steps[0].timeout: 1m00s is not longer than the wait (2m00s)"),
        Case(
            name: "a replica address without redis://",
            steps: #"{"id": "lag", "type": "replication.check", "with": {"primary": "${runbook.redis.primary}", "replica": "${runbook.redis.dr}", "rpo": "5s"}}"#,
            runbookExtra: #", "redis": {"primary": {"provider": "redis", "url": "redis://10.0.0.1:6379"}, "dr": {"provider": "redis", "url": "10.0.0.2:6379"}}"#,
            says: "runbooks/pair.json: redis.dr.url: expected redis://host:port, got \"10.0.0.2:6379\""),
        Case(
            name: "a number no run could use",
            steps: #"{"id": "h", "type": "health.http", "with": {"url": "${runbook.dr.endpoint}/health", "requests": 1000000000000}}"#,
            says: "workflows/pair.json: steps[0].with.requests: "),
    ]

    @Test(arguments: cases)
    func aBadPairIsRefusedWithFilePathAndRemedy(_ c: Case) throws {
        let p = try Project()
        p.dir.write("runbooks/pair.json", #"""
            {"service": "pair", "primary": {"endpoint": "\#(p.fixture.base)/primary"}, "dr": {"endpoint": "\#(p.fixture.base)/dr"},
             "approvers": ["alice", "bob"]\#(c.runbookExtra)}
            """#)
        p.dir.write("workflows/pair.json", #"{"name": "pair", "steps": [\#(c.steps)]}"#)
        let r = try p.cutover("validate", "workflows/pair.json", "runbooks/pair.json")
        #expect(r.status == 64, "\(r.stdout)\(r.stderr)")
        #expect(r.stderr.split(separator: "\n").contains { $0.hasPrefix(c.says) }, "\(r.stderr)")
        #expect(!p.databaseExists, "validate writes nothing")
    }

    @Test func everyCommandThatLoadsAPairRefusesItAlike() throws {
        let p = try Project()
        p.dir.write("workflows/typo.json", #"{"name": "typo", "steps": [{"id": "h", "type": "health.http", "with": {"url": "${runbook.dr.endpont}/health"}}]}"#)
        let says = #"workflows/typo.json: steps[0].with.url: ${runbook.dr.endpont}: "endpont" not found; did you mean "endpoint"? in runbook runbooks/svc.json"#
        for command in [["validate", "workflows/typo.json", "runbooks/svc.json"], ["plan", "typo", "--runbook", "svc"], ["preflight", "typo", "--runbook", "svc"],
                        ["start", "typo", "--runbook", "svc"], ["start", "typo", "--runbook", "svc", "--readiness-only"]] {
            let r = try CutoverBinary.run(command, in: p.dir.url, environment: p.environment)
            #expect(r.status == 64, "\(command): \(r.stderr)")
            #expect(r.stderr.split(separator: "\n").contains { $0.hasPrefix(says) }, "\(command): \(r.stderr)")
        }
        #expect(!p.databaseExists, "nothing was written")
    }

    @Test func anErrorRateIsAFraction() throws {
        let p = try Project()
        p.dir.write("runbooks/pct.json", #"{"service": "pct", "primary": {"endpoint": "http://127.0.0.1:1"}, "dr": {"endpoint": "http://127.0.0.1:1"}, "thresholds": {"errorRate": 5}}"#)
        let r = try p.cutover("validate", "runbooks/pct.json")
        #expect(r.status == 64)
        #expect(r.stderr.contains("runbooks/pct.json: thresholds.errorRate: expected a fraction from 0 to 1"), "\(r.stderr)")
    }

    @Test func preflightTimesEachCheckAndStartRefusesWhenOneFails() throws {
        let p = try Project()
        let ok = try p.cutover("preflight", "check", "--runbook", "svc")
        #expect(ok.status == 0, "\(ok.stdout)\(ok.stderr)")
        #expect(ok.lines.contains { $0.hasPrefix("  ok   secret env:SVC_WEBHOOK") && $0.contains("[tell]") }, "\(ok.stdout)")
        #expect(ok.lines.contains { $0.hasPrefix("  ok   tcp    http://127.0.0.1:") && $0.contains(" ms ") && $0.contains("[dr-health, tell]") }, "one connection for both steps: \(ok.stdout)")
        #expect(ok.lines.contains { $0.hasPrefix("  ok   check  dr-health (health.http)") && $0.contains("requests 3") }, "\(ok.stdout)")
        #expect(try p.fixture.requests()["webhook"] == nil, "the webhook was not called")
        #expect(!p.databaseExists)

        // DR's endpoint moved to a port nothing listens on (tcpmux, never served here): named,
        // and start writes nothing.
        let port = 1
        p.dir.write("runbooks/gone.json", #"{"service": "gone", "primary": {"endpoint": "http://127.0.0.1:1"}, "dr": {"endpoint": "http://127.0.0.1:\#(port)"}, "thresholds": {"p95": "500ms"}, "notify": {"webhook": "env:SVC_WEBHOOK"}}"#)
        let bad = try p.cutover("preflight", "check", "--runbook", "gone", "--json")
        #expect(bad.status == 1)
        let report = try JSONSerialization.jsonObject(with: Data(bad.stdout.utf8)) as? [String: Any] ?? [:]
        let failed = (report["checks"] as? [[String: Any]] ?? []).filter { $0["passed"] as? Bool == false }
        #expect(failed.contains { $0["kind"] as? String == "tcp" && $0["subject"] as? String == "http://127.0.0.1:\(port)" && ($0["detail"] as? String ?? "").contains("refused") }, "\(failed)")
        let start = try p.cutover("start", "check", "--runbook", "gone")
        #expect(start.status == 1 && start.stdout.isEmpty)
        #expect(start.stderr.contains("FAIL tcp    http://127.0.0.1:\(port)") && start.stderr.contains("nothing was started or written"), "\(start.stderr)")
        #expect(!p.databaseExists)
        let both = try p.cutover("start", "check", "--runbook", "svc", "--drill", "--readiness-only")
        #expect(both.status == 64 && both.stderr.contains("exclude each other"), "\(both.stderr)")
    }

    @Test func theShippedPairsAreValidTogether() throws {
        let r = try CutoverBinary.run(
            ["validate", "workflows/failover.json", "workflows/failback.json", "workflows/models-sync.json", "runbooks/sandbox.json", "runbooks/recommendation-engine.json"],
            in: repositoryRoot)
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.contains("5 files valid; 6 workflow and runbook pairs checked together"), "\(r.stdout)")
    }
}
