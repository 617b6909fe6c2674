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

    @Test func theShippedPairsAreValidTogether() throws {
        let r = try CutoverBinary.run(
            ["validate", "workflows/failover.json", "workflows/failback.json", "workflows/models-sync.json", "runbooks/sandbox.json", "runbooks/recommendation-engine.json"],
            in: repositoryRoot)
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.contains("5 files valid; 6 workflow and runbook pairs checked together"), "\(r.stdout)")
    }
}
