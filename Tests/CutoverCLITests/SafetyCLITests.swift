import Foundation
import Testing
import TestSupport

/// Safety rules from the command line: a rule that does not hold stops the run before the
/// step it guards; an override counts only from someone who may approve.
@Suite struct SafetyCLITests {
    func project() throws -> Project {
        let p = try Project()
        // At most no change of this kind per hour: the guarded step never passes on its own.
        p.dir.write("runbooks/guarded.json", """
            {"service": "guarded", "primary": {"endpoint": "\(p.fixture.base)/primary"}, "dr": {"endpoint": "\(p.fixture.base)/dr"},
             "safety": [{"id": "frozen", "rule": "change-rate", "before": ["exec"], "max": 0, "within": "1h"}]}
            """)
        p.dir.write("workflows/flip.json", """
            {"name": "flip", "steps": [
              {"id": "dr-health", "type": "health.http", "with": {"url": "${runbook.dr.endpoint}/health", "requests": 1}},
              {"id": "flip", "type": "exec", "with": {"command": ["/bin/sh", "-c", "echo flipped > \(p.dir.path("flag")); echo '{}'"], "shell": false,
                "compensate": {"command": ["/bin/rm", "-f", "\(p.dir.path("flag"))"]}}}
            ]}
            """)
        return p
    }

    @Test func aRuleThatDoesNotHoldStopsTheRunAndOnlyAnApproverMayOverrideIt() throws {
        let p = try project()
        let live = try p.cutover("start", "flip", "--runbook", "guarded", "--json")
        #expect(live.status == 1, "\(live.stderr)")
        let summary = p.lastJSON(live)
        #expect(summary["state"] as? String == "needs-attention")
        let run = try #require(summary["run"] as? String)
        #expect(!FileManager.default.fileExists(atPath: p.dir.path("flag")), "the guarded step never ran")
        let status = try p.cutover("status", run).stdout
        #expect(status.contains("safety rule frozen does not hold before step flip: 0 changes in the last 1h00m, at or over the limit of 0"), "\(status)")
        #expect(status.contains("cutover override \(run) flip frozen --reason TEXT"), "\(status)")
        // The person who started a live run cannot wave its rule through; nothing is recorded.
        let mine = try p.cutover("override", run, "flip", "frozen", "--reason", "I am sure")
        #expect(mine.status == 1 && mine.stderr.contains("started this live run"), "\(mine.stderr)")
        #expect(try p.cutover("override", run, "flip", "nope", "--reason", "x").stderr.contains("does not guard step flip"))
        let history = try p.cutover("history", run).stdout
        #expect(!history.contains("SafetyOverridden"))
        #expect(history.contains("SafetyChecked"))
        #expect(try p.cutover("rollback", run).status == 0, "the live run given up: the service is free again")
        // In a drill the starter may approve, and so override: the run carries on and undoes it.
        let drill = try p.cutover("start", "flip", "--runbook", "guarded", "--drill", "--json")
        let drillRun = try #require(p.lastJSON(drill)["run"] as? String)
        #expect(p.lastJSON(drill)["state"] as? String == "needs-attention")
        let over = try p.cutover("override", drillRun, "flip", "frozen", "--reason", "drill: checked by hand", "--json")
        #expect(over.status == 0, "\(over.stderr)")
        #expect(p.lastJSON(over)["state"] as? String == "rolled-back")
        let after = try p.cutover("history", drillRun).stdout
        #expect(after.contains("rule frozen overridden by") && after.contains("drill: checked by hand"), "\(after)")
        #expect(after.contains("does not hold, overridden by"), "\(after)")
        #expect(!FileManager.default.fileExists(atPath: p.dir.path("flag")), "the drill undid its change")
    }
}
