import CutoverCore
import CutoverSQLite
import CutoverStore
import Foundation
import Testing
import TestSupport

/// Scheduled drills and readiness checks of the shipped workflow against the real services,
/// started by `cutover scheduler --once` as a systemd timer would run it.
extension SandboxTests {
    /// Adds a schedule as if added three minutes ago, with its firing a minute ago, so that one
    /// pass of the scheduler finds it due.
    func addDueSchedule(_ name: String, mode: RunMode, runbook: String, approvedBy: [String] = []) throws {
        let now = Date()
        let due = Int64((now.timeIntervalSince1970 - 60) / 60) * 60
        let utc = Calendar(identifier: .gregorian).dateComponents(in: TimeZone(identifier: "UTC")!, from: Date(timeIntervalSince1970: Double(due)))
        let definition = ScheduleDefinition(
            name: name, workflow: repositoryRoot.appendingPathComponent("workflows/failover.json").path, runbook: runbook,
            cron: "\(utc.minute!) \(utc.hour!) * * *", timeZone: "UTC", mode: mode, catchUp: .skip, approvedBy: approvedBy)
        _ = try SQLiteStore.open(path: db).append(
            [EventDraft(at: now.addingTimeInterval(-180), actor: "oncall", body: .scheduleAdded(definition))], to: ScheduleStream.id(name),
            expectedNext: 1, options: AppendOptions(now: now))
    }

    func webhookBodies() throws -> [[String: Any]] {
        (try sandbox.state(calls: true)["webhook"] as? [[String: Any]] ?? []).compactMap { $0["body"] as? [String: Any] }
    }

    @Test func aScheduledDrillFailsOverAndBackOnItsOwnAndTellsTheChannel() throws {
        let before = try sandbox.restorable()
        try addDueSchedule("quarterly", mode: .drill, runbook: repositoryRoot.appendingPathComponent("runbooks/sandbox.json").path, approvedBy: ["demo-approver"])
        let once = try sandbox.cutover(["scheduler", "--once", "--grace", "5m"], db: db)
        #expect(once.status == 0, "\(once.stdout)\(once.stderr)")
        #expect(once.stdout.contains("passed: failed over and back as planned; RTO"), "\(once.stdout)")
        #expect(try sandbox.restorable() == before, "the drill put everything back")

        let schedule = try #require(try SQLiteStore.open(path: db).schedule("quarterly"))
        let drill = try #require(schedule.drills.first)
        #expect(drill.finished?.passed == true && drill.notified?.delivered == true)
        let events = try history(drill.run)
        // The standing approval, in demo-approver's name, appended by the scheduler's account.
        let standing = events.first { $0["type"] as? String == "ApprovalGranted" }
        let body = standing?["body"] as? [String: Any]
        #expect(body?["by"] as? String == "demo-approver" && body?["standing"] as? String == "quarterly" && standing?["actor"] as? String == Account.current, "\(standing ?? [:])")
        let post = try #require(try webhookBodies().last)
        let text = post["text"] as? String ?? ""
        #expect(text.contains("Scheduled drill of recommendations-sandbox (quarterly) passed"), "\(text)")
        #expect(text.contains("RTO ") && text.contains("(target 15m00s: pass)") && text.contains("RPO 0ms (target 5.0s: pass)"), "\(text)")
        #expect(text.contains("Report: ") && text.contains("\(drill.run).html"))
        #expect((post["blocks"] as? [Any])?.count == 3)
        let report = try #require(drill.finished?.report)
        #expect(try String(contentsOfFile: report, encoding: .utf8).contains("<svg"))
        let trend = try sandbox.cutover(["report"], db: db)
        #expect(trend.stdout.contains(drill.run) && trend.stdout.contains("drill (quarterly)"), "\(trend.stdout)")
    }

    /// The weekly readiness check: checks only, nothing moves; its result goes to PagerDuty as
    /// Events v2 (resolve when ready, trigger when not) without the routing key reaching the log.
    @Test func aReadinessCheckChangesNothingAndReportsToPagerDuty() throws {
        let before = try sandbox.restorable()
        var runbook = try JSONSerialization.jsonObject(with: Data(contentsOf: repositoryRoot.appendingPathComponent("runbooks/sandbox.json"))) as! [String: Any]
        runbook["notify"] = ["webhook": "http://127.0.0.1:18090/webhook", "format": "pagerduty", "routingKey": "env:PD_ROUTING_KEY"]
        let path = dir.path("pagerduty.json")
        try JSONSerialization.data(withJSONObject: runbook).write(to: URL(fileURLWithPath: path))
        let key = "R0UTINGKEY0123456789abcdefSANDBOX"
        var env = sandbox.environment
        env["CUTOVER_DB"] = db
        env["PD_ROUTING_KEY"] = key

        try addDueSchedule("weekly", mode: .readiness, runbook: path)
        let ready = try CutoverBinary.run(["scheduler", "--once", "--grace", "5m"], in: repositoryRoot, environment: env)
        #expect(ready.status == 0, "\(ready.stdout)\(ready.stderr)")
        #expect(try sandbox.restorable() == before, "a readiness check changes nothing")
        let log = try SQLiteStore.open(path: db)
        let run = try #require(try log.schedule("weekly")?.drills.first?.run)
        let state = try #require(try log.fold(run))
        #expect(state.plan?.mode == .readiness)
        #expect(state.plan?.steps.map(\.id) == ["dr-health", "replication-lag", "userdb-lag", "models-verify", "dr-capacity", "dr-ready", "dr-latency"])
        #expect(state.status == .succeeded)
        let resolve = try #require(try webhookBodies().last)
        #expect(resolve["event_action"] as? String == "resolve" && resolve["routing_key"] as? String == key)

        // DR stops answering: the next check is not ready and triggers an alert.
        try sandbox.control("http://127.0.0.1:18090/_control/dr", #"{"status": 503}"#)
        _ = try log.append(
            [EventDraft(at: Date(), actor: "oncall", body: .scheduleRemoved(Signal()))], to: ScheduleStream.id("weekly"),
            expectedNext: try log.schedule("weekly")!.lastRunSeq + 1, options: AppendOptions(now: Date()))
        try addDueSchedule("weekly2", mode: .readiness, runbook: path)
        let notReady = try CutoverBinary.run(["scheduler", "--once", "--grace", "5m"], in: repositoryRoot, environment: env)
        #expect(notReady.stdout.contains("DID NOT PASS: NOT ready: failed; step dr-health failed"), "\(notReady.stdout)")
        let trigger = try #require(try webhookBodies().last)
        #expect(trigger["event_action"] as? String == "trigger")
        let payload = trigger["payload"] as? [String: Any]
        #expect(payload?["severity"] as? String == "error")
        #expect((payload?["summary"] as? String)?.contains("Scheduled readiness check of recommendations-sandbox (weekly2) did not pass") == true)
        #expect(trigger["dedup_key"] as? String == "cutover-schedule-recommendations-sandbox-weekly2")

        let bytes = try [db, db + "-wal"].filter { FileManager.default.fileExists(atPath: $0) }.map { try Data(contentsOf: URL(fileURLWithPath: $0)) }
        #expect(!bytes.contains { $0.range(of: Data(key.utf8)) != nil }, "the routing key reached the database")
    }
}
