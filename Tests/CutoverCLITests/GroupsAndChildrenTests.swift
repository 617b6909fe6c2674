import Foundation
import Testing
import TestSupport

/// A region's plan from the command line: two services' child runs side by side in a
/// parallel group, each child holding its own service, then a step of the parent's own.
@Suite struct GroupsAndChildrenTests {
    func project() throws -> Project {
        let p = try Project()
        for service in ["svc-a", "svc-b"] {
            p.dir.write("runbooks/\(service).json", """
                {"service": "\(service)", "primary": {"endpoint": "\(p.fixture.base)/primary"}, "dr": {"endpoint": "\(p.fixture.base)/dr"}}
                """)
        }
        p.dir.write("workflows/child.json", """
            {"name": "child", "steps": [
              {"id": "dr-health", "type": "health.http", "with": {"url": "${runbook.dr.endpoint}/health", "requests": 1}},
              {"id": "soak", "type": "wait", "with": {"duration": "10ms"}}
            ]}
            """)
        p.dir.write("workflows/region.json", """
            {"name": "region", "steps": [
              {"id": "both", "maxConcurrency": 2, "parallel": [
                {"id": "a", "type": "workflow", "with": {"workflow": "child", "runbook": "svc-a"}},
                {"id": "b", "type": "workflow", "with": {"workflow": "child", "runbook": "svc-b"}}
              ]},
              {"id": "tell", "type": "notify", "with": {"url": "${runbook.notify.webhook}", "message": "region done: ${steps.a.output.run}"}}
            ]}
            """)
        return p
    }

    @Test func aRegionPlanRunsItsServicesAsLinkedChildRuns() throws {
        let p = try project()
        let plan = try p.cutover("plan", "region", "--runbook", "svc")
        #expect(plan.status == 0, "\(plan.stderr)")
        #expect(plan.stdout.contains("parallel group both: 2 steps, up to 2 at a time"), "\(plan.stdout)")
        let r = try p.cutover("start", "region", "--runbook", "svc", "--json")
        #expect(r.status == 0, "\(r.stderr)")
        let summary = p.lastJSON(r)
        #expect(summary["state"] as? String == "succeeded")
        let run = try #require(summary["run"] as? String)
        let steps = summary["steps"] as? [[String: Any]] ?? []
        #expect(steps.filter { $0["group"] as? String == "both" }.map { $0["id"] as? String } == ["a", "b"])
        for (step, service) in [("a", "svc-a"), ("b", "svc-b")] {
            let child = p.lastJSON(try p.cutover("status", "\(run).\(step)", "--json"))
            #expect(child["state"] as? String == "succeeded")
            #expect(child["service"] as? String == service)
            #expect((child["parent"] as? [String: Any])?["run"] as? String == run)
            #expect((child["parent"] as? [String: Any])?["step"] as? String == step)
        }
        // The parent's own step read its child's output: the link is in the message it sent.
        #expect("\(try p.fixture.received())".contains("region done: \(run).a"))
        let text = try p.cutover("status", "\(run).b").stdout
        #expect(text.contains("child run of \(run), step b"), "\(text)")
        #expect(try p.cutover("list", "--json").lines.count == 3)
        #expect(try p.cutover("audit", "verify").status == 3, "every stream intact (no trusted key to check signatures with)")
    }

    @Test func childrenAreCheckedBeforeAnythingIsWritten() throws {
        let p = try project()
        p.dir.write("workflows/promote.json", """
            {"name": "promote", "steps": [{"id": "soak", "type": "wait", "with": {"duration": "1s"}},
              {"id": "dns", "type": "exec", "pivot": true, "with": {"command": ["/bin/true"], "compensate": {"command": ["/bin/true"]}}}]}
            """)
        p.dir.write("workflows/bad-region.json", """
            {"name": "bad-region", "steps": [
              {"id": "same", "type": "workflow", "with": {"workflow": "child", "runbook": "svc"}},
              {"id": "unmarked", "type": "workflow", "with": {"workflow": "promote", "runbook": "svc-a"}},
              {"id": "missing", "type": "workflow", "with": {"workflow": "nope", "runbook": "svc-b"}},
              {"id": "itself", "type": "workflow", "with": {"workflow": "bad-region", "runbook": "svc-b"}}
            ]}
            """)
        let r = try p.cutover("start", "bad-region", "--runbook", "svc")
        #expect(r.status != 0)
        #expect(r.stderr.contains("steps[0].with.runbook") && r.stderr.contains("which this run holds"), "\(r.stderr)")
        #expect(r.stderr.contains("steps[1].pivot") && r.stderr.contains("has a pivot (dns)"), "\(r.stderr)")
        #expect(r.stderr.contains("steps[2].with") && r.stderr.contains("no workflow \"nope\""), "\(r.stderr)")
        #expect(r.stderr.contains("steps[3].with.workflow") && r.stderr.contains("a workflow cannot run itself"), "\(r.stderr)")
        #expect(!p.databaseExists, "nothing written")
    }
}
