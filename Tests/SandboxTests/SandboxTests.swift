import CutoverSQLite
import CutoverStore
import Foundation
import Testing
import TestSupport

/// Failovers and drills of the shipped workflows against the sandbox of real services
/// (PowerDNS, Redis primary and replica, moto_server behind a fault proxy, HTTP fixtures),
/// through the real `cutover` binary. One scenario at a time: they share the services.
@Suite(.serialized) struct SandboxTests {
    let sandbox: Sandbox
    let dir = TemporaryDirectory()
    var db: String { dir.path("cutover.sqlite") }

    init() throws {
        sandbox = try Sandbox.shared.get()
        try sandbox.reset()
    }

    static let primary = "10.0.1.10"
    static let dr = "10.1.1.10"

    /// `start --detach` up to the approval (exit 75), approve as alice, and `resume`.
    func startApproveResume(_ workflow: String = "failover", drill: Bool = false, beforeResume: () throws -> Void = {}) throws -> (run: String, result: CutoverBinary.Result) {
        let start = try sandbox.cutover(["start", workflow, "--runbook", sandbox.runbook, "--detach"] + (drill ? ["--drill"] : []), db: db)
        #expect(start.status == 75, "start: \(start.stdout)\(start.stderr)")
        let run = start.lines.first ?? ""
        let approve = try sandbox.approve(run, db: db)
        #expect(approve.status == 0, "\(approve.stderr)")
        try beforeResume()
        return (run, try sandbox.cutover(["resume", run], db: db))
    }

    func status(_ run: String) throws -> [String: Any] {
        let r = try sandbox.cutover(["status", run, "--json"], db: db)
        return try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any] ?? [:]
    }

    func history(_ run: String) throws -> [[String: Any]] {
        let r = try sandbox.cutover(["history", run, "--json"], db: db)
        return try r.lines.map { try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] ?? [:] }
    }

    func chainIntact() throws -> Bool {
        try SQLiteStore.open(path: db).verifyChain().intact
    }

    @Test func aFullFailoverMovesServiceToDR() throws {
        let (run, result) = try startApproveResume()
        #expect(result.status == 0, "\(result.stdout)\(result.stderr)")
        let s = try sandbox.state(calls: true)
        #expect(s["dns"] as? [String] == [Self.dr], "PowerDNS answers the DR address to a real DNS query")
        #expect((s["route53"] as? [String: Any])?["records"] as? [String] == [Self.dr])
        let capacity = s["capacity"] as? [String: Int]
        #expect(capacity?["desired"] == 4 && capacity?["inService"] == 4)
        #expect(((s["redis"] as? [String: Any])?["dr"] as? [String: Any])?["role"] as? String == "master")
        let write = try sandbox.run(["redis-cli", "-p", "16380", "SET", "failover:probe", run])
        #expect(write.output.contains("OK"), "the DR replica accepts writes: \(write.output)")
        let hooks = (s["webhook"] as? [[String: Any]] ?? []).compactMap { ($0["body"] as? [String: Any])?["text"] as? String }
        #expect(hooks.contains { $0.contains("failover \(run)") && $0.contains("DR is serving") }, "\(hooks)")
        #expect(try status(run)["state"] as? String == "succeeded")
        #expect(try chainIntact())
        // The credentials the steps used are nowhere in the database (events, WAL or not).
        let bytes = try [db, db + "-wal"].filter { FileManager.default.fileExists(atPath: $0) }.map { try Data(contentsOf: URL(fileURLWithPath: $0)) }
        for secret in ["AWS_SECRET_ACCESS_KEY", "AWS_ACCESS_KEY_ID", "PDNS_API_KEY"].compactMap({ sandbox.environment[$0] }) {
            #expect(!bytes.contains { $0.range(of: Data(secret.utf8)) != nil }, "a credential reached the database")
        }
    }

    @Test func aDrillLeavesEverythingExactlyAsItWas() throws {
        let before = try sandbox.restorable()
        let (run, result) = try startApproveResume(drill: true)
        #expect(result.status == 0, "\(result.stdout)\(result.stderr)")
        #expect(try sandbox.restorable() == before)
        #expect(result.stdout.contains("10.0.1.10 -> 10.1.1.10"), "the terminal shows DNS moving to DR")
        #expect(result.stdout.contains("10.1.1.10 -> 10.0.1.10 (restored)"), "and back")
        let events = try history(run)
        let rollback = events.first { $0["type"] as? String == "RollbackStarted" }
        #expect((rollback?["body"] as? [String: Any])?["planned"] as? Bool == true, "the log says the rollback was planned")
        #expect(try status(run)["state"] as? String == "rolled-back")
        #expect(try chainIntact())
    }

    @Test func aFailureBeforeThePivotRollsBackWhatChanged() throws {
        let before = try sandbox.restorable()
        // DR stops serving after its first health check passed: the check at capacity fails.
        let (run, result) = try startApproveResume {
            try sandbox.control("http://127.0.0.1:18090/_control/dr", #"{"errorRate": 1.0}"#)
        }
        #expect(result.status == 1)
        #expect(try sandbox.restorable() == before, "the GPU group is back to its warm size")
        let st = try status(run)
        #expect(st["state"] as? String == "rolled-back")
        #expect((st["reason"] as? String)?.contains("step dr-ready failed after 3 attempts") == true, "\(st["reason"] ?? "")")
        let types = try history(run).compactMap { $0["type"] as? String }
        #expect(types.filter { $0 == "CompensationSucceeded" }.count == 1, "only the scale was undone")
    }

    /// Waits (up to 60 s) until the run's history has an event matching `match`.
    func waitFor(_ run: String, _ match: ([String: Any]) -> Bool) throws {
        for _ in 0..<600 {
            if try history(run).contains(where: match) { return }
            Thread.sleep(forTimeInterval: 0.1)
        }
        Issue.record("timed out waiting for an event in \(run)")
    }

    /// Starts `resume RUN` in the background; once `when` holds, slows DR down to breach the monitor.
    func resumeWithBreach(_ run: String) throws -> CutoverBinary.Result {
        nonisolated(unsafe) var result: CutoverBinary.Result?
        let done = DispatchSemaphore(value: 0)
        let sb = sandbox, path = db
        Thread.detachNewThread {
            result = try? sb.cutover(["resume", run], db: path)
            done.signal()
        }
        try waitFor(run) { $0["type"] as? String == "StepStarted" && $0["step"] as? String == "monitor" }
        try sandbox.control("http://127.0.0.1:18090/_control/dr", #"{"latencyMs": 900}"#)
        done.wait()
        return try #require(result)
    }

    @Test func aMonitorBreachAfterThePivotStopsForAPersonThenRollbackRestores() throws {
        let before = try sandbox.restorable()
        let start = try sandbox.cutover(["start", "failover", "--runbook", sandbox.runbook, "--detach"], db: db)
        let run = start.lines.first ?? ""
        _ = try sandbox.approve(run, db: db)
        let result = try resumeWithBreach(run)
        #expect(result.status == 1)
        let st = try status(run)
        #expect(st["state"] as? String == "needs-attention")
        let attention = "\(st["reason"] ?? "") \(st["decision"] ?? "") \(result.stdout)"
        #expect(attention.contains("after the pivot"), "\(attention)")
        #expect(attention.contains("cutover rollback \(run)"))
        #expect(try sandbox.state()["dns"] as? [String] == [Self.dr], "no automatic rollback: DR still serves")
        try sandbox.control("http://127.0.0.1:18090/_control/dr", #"{"latencyMs": 0}"#)
        // The rollback a person asks for undoes what it can, and stops where only a person can:
        // the promoted user database, which SQL cannot make a replica again.
        let rollback = try sandbox.cutover(["rollback", run], db: db)
        #expect(rollback.status != 0, "\(rollback.stdout)")
        let stopped = try status(run)
        #expect(stopped["state"] as? String == "needs-attention")
        let why = "\(stopped["reason"] ?? "") \(rollback.stdout)"
        #expect(why.contains("enable-userdb-writes") && why.contains("pg_rewind"), "names the step and the commands: \(why)")
        #expect(try sandbox.state()["dns"] as? [String] == [Self.primary], "what could be undone was")
        // The person rebuilds DR's user database as a replica of the primary, and asks again.
        let rebuilt = try sandbox.run(["scripts/sandbox", "follow", "pg-dr"])
        #expect(rebuilt.status == 0, "\(rebuilt.output)")
        let again = try sandbox.cutover(["rollback", run], db: db)
        #expect(again.status == 0, "the rollback that was asked for completed: \(again.stdout)\(again.stderr)")
        #expect(try status(run)["state"] as? String == "rolled-back")
        #expect(try sandbox.restorable() == before, "DNS, capacity, Redis and PostgreSQL roles, silences restored")
        #expect(try chainIntact())
    }

    @Test func theSameBreachInADrillRollsEverythingBack() throws {
        let before = try sandbox.restorable()
        let start = try sandbox.cutover(["start", "failover", "--runbook", sandbox.runbook, "--detach", "--drill"], db: db)
        let run = start.lines.first ?? ""
        _ = try sandbox.approve(run, db: db)
        let result = try resumeWithBreach(run)
        #expect(result.status == 1)
        #expect(try status(run)["state"] as? String == "rolled-back")
        let rollback = try history(run).first { $0["type"] as? String == "RollbackStarted" }
        #expect((rollback?["body"] as? [String: Any])?["planned"] as? Bool == false, "a failed drill's rollback was not the plan")
        #expect(try sandbox.restorable() == before)
    }

    @Test func failbackAfterAFailoverBringsEverythingHome() throws {
        let before = try sandbox.restorable()
        let (_, over) = try startApproveResume()
        #expect(over.status == 0, "\(over.stdout)")
        #expect((try sandbox.state()["postgres"] as? [String: Any]).flatMap { ($0["dr"] as? [String: Any])?["inRecovery"] as? Bool } == false, "DR's user database took writes")
        // Each user database is rebuilt as a replica by the runbook's own command (an exec
        // step running the sandbox's `follow`); the run stops for a person only to approve.
        let start = try sandbox.cutover(["start", "failback", "--runbook", sandbox.runbook, "--detach"], db: db)
        #expect(start.status == 75, "\(start.stdout)\(start.stderr)")
        let run = start.lines.first ?? ""
        var result = start
        var waited: [String] = []
        while result.status == 75, waited.count < 5 {
            waited.append((try status(run)["waitingFor"] as? [String: Any])?["step"] as? String ?? "")
            _ = try sandbox.approve(run, db: db)
            result = try sandbox.cutover(["resume", run, "--detach"], db: db)
        }
        #expect(waited == ["go"], "\(waited)")
        let rebuilt = try history(run).filter { $0["type"] as? String == "StepSucceeded" && ($0["step"] as? String ?? "").hasSuffix("userdb-rebuilt") }
        #expect(rebuilt.count == 2, "both rebuilds ran as exec steps: \(rebuilt.count)")
        #expect(result.status == 0, "\(result.stdout)\(result.stderr)")
        #expect(try status(run)["state"] as? String == "succeeded")
        #expect(try sandbox.restorable() == before, "DNS at the primary, both replicas following it again, GPU groups back, silences as before")
    }
}
