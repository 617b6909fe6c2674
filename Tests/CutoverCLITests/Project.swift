import Foundation
import TestSupport

/// A folder laid out like an on-call engineer's checkout: workflows/, runbooks/, and the
/// fixture endpoints the runbook points at.
final class Project: @unchecked Sendable {
    // @unchecked: set up once, then only read.
    let dir = TemporaryDirectory()
    let fixture: FixtureServer

    /// Approvers with keys (`Approvers.shared`, approving with `approve(_:as:)`) unless
    /// `signed` is false: then plain names, which on SQLite are operating-system accounts.
    init(approvers: [String] = ["alice", "bob"], signed: Bool = true) throws {
        fixture = try FixtureServer()
        let list = signed
            ? String(Approvers.shared.list(approvers).dropFirst().dropLast())
            : approvers.map { "\"\($0)\"" }.joined(separator: ", ")
        dir.write("runbooks/svc.json", """
            {"service": "svc", "primary": {"endpoint": "\(fixture.base)/primary"}, "dr": {"endpoint": "\(fixture.base)/dr"},
             "thresholds": {"rto": "15m", "rpo": "30s", "p95": "500ms"}, "approvers": [\(list)],
             "notify": {"webhook": "env:SVC_WEBHOOK"}}
            """)
        dir.write("workflows/check.json", """
            {"name": "check", "steps": [
              {"id": "dr-health", "type": "health.http", "with": {"url": "${runbook.dr.endpoint}/health", "requests": 3, "p95": "${runbook.thresholds.p95}"}},
              {"id": "soak", "type": "wait", "with": {"duration": "1s"}},
              {"id": "tell", "type": "notify", "with": {"url": "${runbook.notify.webhook}", "message": "${run.mode} of ${run.service} done"}}
            ]}
            """)
        dir.write("workflows/gated.json", """
            {"name": "gated", "steps": [
              {"id": "go", "type": "approval", "with": {"approvers": "${runbook.approvers}"}},
              {"id": "dr-health", "type": "health.http", "with": {"url": "${runbook.dr.endpoint}/health", "requests": 2}}
            ]}
            """)
        dir.write("workflows/gated-soak.json", """
            {"name": "gated-soak", "steps": [
              {"id": "go", "type": "approval", "with": {"approvers": "${runbook.approvers}"}},
              {"id": "soak", "type": "wait", "with": {"duration": "6s"}},
              {"id": "tell", "type": "notify", "with": {"url": "${runbook.notify.webhook}", "message": "${run.id} carried on"}}
            ]}
            """)
        dir.write("workflows/soak.json", """
            {"name": "soak", "steps": [
              {"id": "dr-health", "type": "health.http", "with": {"url": "${runbook.dr.endpoint}/health", "requests": 1}},
              {"id": "soak", "type": "wait", "with": {"duration": "6s"}},
              {"id": "after", "type": "health.http", "with": {"url": "${runbook.dr.endpoint}/health", "requests": 1}}
            ]}
            """)
    }

    var environment: [String: String] { ["SVC_WEBHOOK": "\(fixture.base)/webhook"] }

    func cutover(_ args: String...) throws -> CutoverBinary.Result {
        try CutoverBinary.run(args, in: dir.url, environment: environment)
    }

    /// `cutover approve RUN`, signed with `name`'s key.
    func approve(_ run: String, as name: String, _ extra: String...) throws -> CutoverBinary.Result {
        try CutoverBinary.run(["approve", run, "--key", Approvers.shared.key(name)] + extra, in: dir.url, environment: environment)
    }

    var databaseExists: Bool { FileManager.default.fileExists(atPath: dir.path(".cutover/cutover.sqlite")) }

    /// The JSON object on the last line of a command's output.
    func lastJSON(_ r: CutoverBinary.Result) -> [String: Any] {
        guard let last = r.lines.last, let o = try? JSONSerialization.jsonObject(with: Data(last.utf8)) as? [String: Any] else { return [:] }
        return o
    }
}
