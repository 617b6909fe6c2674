import CutoverCore
import CutoverPostgresStore
import Foundation
import Testing
import TestSupport

/// A team's log on PostgreSQL (the sandbox's pg-log), through the command line: made once by
/// `db init`, runs started and approved from "two laptops" (two folders) sharing it, audited
/// from it, and a SQLite log with runs and schedules moved onto it by `db copy`.
@Suite struct TeamLogTests {
    /// An empty database on pg-log, without its log yet: its URI as its owner and as the writer.
    func emptyDatabase(_ p: Project) throws -> (admin: String, writer: String) {
        let db = try PostgresTestServer.emptyDatabase(p.dir)
        return (try PostgresTestServer.uri("cutover_admin", db), try PostgresTestServer.uri("cutover_writer", db))
    }

    /// The same database as `uri`, logged in as `role`.
    func login(_ uri: String, as role: String) throws -> String {
        let db = String(uri.split(separator: "/").last?.split(separator: "?").first ?? "")
        return try PostgresTestServer.uri(role, db)
    }

    /// alice starts a live run from her laptop; approvers are database roles, so alice, who
    /// started it, is refused, and bob, from his, approves it.
    @Test func aRunStartedOnOneLaptopIsApprovedAndResumedFromAnotherThroughPostgreSQL() throws {
        let starter = try Project(signed: false), approver = try Project(signed: false)
        let (admin, writer) = try emptyDatabase(starter)
        let alice = try login(writer, as: "alice"), bob = try login(writer, as: "bob")
        let env = { (p: Project) in p.environment.merging(["CUTOVER_DB": writer]) { $1 } }
        // No log yet: a run says what to do, and writes nothing.
        let early = try CutoverBinary.run(["start", "gated", "--runbook", "svc", "--detach"], in: starter.dir.url, environment: env(starter))
        #expect(early.status == 1 && early.stderr.contains("cutover db init"), "\(early.stderr)")
        let initialized = try CutoverBinary.run(["db", "init", "--grant", "cutover_writer", "--db", admin], in: starter.dir.url)
        #expect(initialized.status == 0 && initialized.stdout.contains("created the event log"), "\(initialized.stdout)\(initialized.stderr)")
        #expect(!initialized.stdout.contains(try PostgresTestServer.password("cutover_admin")), "no password is printed")
        let again = try CutoverBinary.run(["db", "init", "--db", admin], in: starter.dir.url)
        #expect(again.status == 0 && again.stdout.contains("already holds an event log"))

        let start = try CutoverBinary.run(["start", "gated", "--runbook", "svc", "--detach", "--json"], in: starter.dir.url, environment: starter.environment.merging(["CUTOVER_DB": alice]) { $1 })
        #expect(start.status == 75, "\(start.stdout)\(start.stderr)")
        let first = try #require(start.lines.first.flatMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] })
        let run = try #require(first["run"] as? String)
        #expect(first["actor"] as? String == "alice", "the role, not CUTOVER_ACTOR or $USER: \(first)")
        // The starter's role cannot approve its own live run, whatever it claims.
        let own = try CutoverBinary.run(["approve", run], in: starter.dir.url, environment: starter.environment.merging(["CUTOVER_DB": alice]) { $1 })
        #expect(own.status == 1 && own.stderr.contains("alice started this live run and cannot approve it"), "\(own.stderr)")
        // The other laptop sees the run, approves it and carries it on.
        let seen = try CutoverBinary.run(["status", run], in: approver.dir.url, environment: env(approver))
        #expect(seen.stdout.contains("waiting-approval (0 of 1)"), "\(seen.stdout)\(seen.stderr)")
        let approved = try CutoverBinary.run(["approve", run], in: approver.dir.url, environment: approver.environment.merging(["CUTOVER_DB": bob]) { $1 })
        #expect(approved.status == 0 && approved.stdout.contains("as bob (1 of 1)"), "\(approved.stdout)\(approved.stderr)")
        let resumed = try CutoverBinary.run(["resume", run, "--json"], in: approver.dir.url, environment: env(approver))
        #expect(resumed.status == 0 && approver.lastJSON(resumed)["state"] as? String == "succeeded", "\(resumed.stderr)")
        // Audited from the shared log.
        let verify = try CutoverBinary.run(["audit", "verify", "--json"], in: starter.dir.url, environment: env(starter))
        #expect(verify.status == 3 && verify.stdout.contains("\"intact\":true"), "intact, no key pinned: \(verify.stdout)\(verify.stderr)")
        let list = try CutoverBinary.run(["list"], in: starter.dir.url, environment: env(starter))
        #expect(list.stdout.contains(run) && list.stdout.contains("succeeded"))
    }

    /// A log made by an older cutover: every command that opens it is refused and names
    /// `db migrate`; `db init` does not migrate it; `db migrate`, asked, does, once.
    @Test func anOlderLogIsMigratedOnlyWhenAsked() throws {
        let p = try Project()
        let (admin, writer) = try emptyDatabase(p)
        _ = try PostgresSchema.initialize(admin, granting: ["cutover_writer"], version: PostgresSchema.version - 1)
        let env = p.environment.merging(["CUTOVER_DB": writer]) { $1 }
        let list = try CutoverBinary.run(["list"], in: p.dir.url, environment: env)
        #expect(list.status != 0 && list.stderr.contains("cutover db migrate"), "\(list.stdout)\(list.stderr)")
        let start = try CutoverBinary.run(["start", "check", "--runbook", "svc"], in: p.dir.url, environment: env)
        #expect(start.status != 0 && start.stderr.contains("cutover db migrate"), "\(start.stderr)")
        let initAgain = try CutoverBinary.run(["db", "init", "--db", admin], in: p.dir.url)
        #expect(initAgain.status == 1 && initAgain.stderr.contains("`cutover db migrate`") && initAgain.stderr.contains("nothing was changed"), "\(initAgain.stderr)")
        let migrated = try CutoverBinary.run(["db", "migrate", "--db", admin], in: p.dir.url)
        #expect(migrated.status == 0 && migrated.stdout.contains("from schema version \(PostgresSchema.version - 1) to \(PostgresSchema.version)"), "\(migrated.stdout)\(migrated.stderr)")
        #expect(!migrated.stdout.contains(try PostgresTestServer.password("cutover_admin")))
        let again = try CutoverBinary.run(["db", "migrate", "--db", admin], in: p.dir.url)
        #expect(again.status == 0 && again.stdout.contains("already"), "\(again.stdout)")
        let run = try CutoverBinary.run(["start", "check", "--runbook", "svc", "--json"], in: p.dir.url, environment: env)
        #expect(run.status == 0, "\(run.stderr)")
        let sqlite = try CutoverBinary.run(["db", "migrate", "--db", p.dir.path("log.sqlite")], in: p.dir.url)
        #expect(sqlite.status == 64 && sqlite.stderr.contains("PostgreSQL"), "\(sqlite.stderr)")
    }

    /// On PostgreSQL a worker is woken by the log's notifications: an approval is acted on
    /// at once, though its poll is thirty seconds away.
    @Test func aWorkerOnPostgreSQLIsWokenByTheApprovalNotTheNextPoll() throws {
        let p = try Project(signed: false)
        let (admin, writer) = try emptyDatabase(p)
        #expect(try CutoverBinary.run(["db", "init", "--grant", "cutover_writer", "--db", admin], in: p.dir.url).status == 0)
        let env = p.environment.merging(["CUTOVER_DB": writer]) { $1 }
        let start = try CutoverBinary.run(["start", "gated", "--runbook", "svc", "--detach"], in: p.dir.url, environment: env)
        #expect(start.status == 75, "\(start.stderr)")
        let run = start.lines[0]
        let w = try SchedulerProcess(p, ["--poll", "30s", "--lease", "5s"], command: "worker", environment: ["CUTOVER_DB": writer])
        try w.wait(for: "(woken by its notifications)")
        // Past the first look at the log, which found nothing to do.
        Thread.sleep(forTimeInterval: 1)
        let approvedAt = Date()
        #expect(try CutoverBinary.run(["approve", run], in: p.dir.url, environment: env.merging(["CUTOVER_DB": try login(writer, as: "alice")]) { $1 }).status == 0)
        try w.wait(for: "run \(run): ended succeeded", seconds: 20)
        #expect(Date().timeIntervalSince(approvedAt) < 10, "woken by the approval, not by the poll")
        w.process.terminate()
        #expect(try w.exit() == 0)
    }

    @Test func aSQLiteLogWithRunsAndSchedulesIsCopiedAndVerifiesToTheSameHead() throws {
        let p = try Project()
        _ = try p.cutover("start", "check", "--runbook", "svc", "--drill")
        _ = try p.cutover("start", "check", "--runbook", "svc")
        #expect(try p.cutover("schedule", "add", "weekly", "--workflow", "check", "--runbook", "svc", "--cron", "@weekly", "--drill").status == 0)
        _ = try p.cutover("schedule", "pause", "weekly")
        let gated = try p.cutover("start", "gated", "--runbook", "svc", "--detach")
        #expect(gated.status == 75)
        let (admin, writer) = try emptyDatabase(p)
        #expect(try CutoverBinary.run(["db", "init", "--grant", "cutover_writer", "--db", admin], in: p.dir.url).status == 0)
        let sqlite = p.dir.path(".cutover/cutover.sqlite")
        // The copy keeps each event's actor (this machine's account): only the import role may.
        let refused = try CutoverBinary.run(["db", "copy", "--from", sqlite, "--to", writer], in: p.dir.url)
        #expect(refused.status == 1 && refused.stderr.contains("cutover_importer") && refused.stderr.contains("nothing was copied"), "\(refused.stderr)")
        let importer = try login(writer, as: "log_import")
        let copy = try CutoverBinary.run(["db", "copy", "--from", sqlite, "--to", importer], in: p.dir.url)
        #expect(copy.status == 0, "\(copy.stdout)\(copy.stderr)")
        #expect(copy.stdout.contains("both verify to event"), "\(copy.stdout)")
        let heads = try [sqlite, writer].map { db -> (seq: Int, hash: String) in
            let v = try CutoverBinary.run(["audit", "verify", "--json", "--db", db], in: p.dir.url)
            let o = try JSONSerialization.jsonObject(with: Data(v.stdout.utf8)) as? [String: Any]
            #expect(o?["intact"] as? Bool == true, "\(db): \(v.stdout)")
            let head = o?["head"] as? [String: Any]
            return (head?["seq"] as? Int ?? -1, head?["hash"] as? String ?? "?")
        }
        // The copy is on the record, after the copied events: by the import role, up to the
        // source's head; read here by the auditor, who may read and nothing more.
        #expect(heads[1].seq == heads[0].seq + 1, "\(heads)")
        let auditor = try PostgresStore.open(uri: try login(writer, as: "audrey"))
        let imports = try auditor.events(of: LogStream.imports, after: 0)
        #expect(imports.count == 1 && imports.first?.actor == "log_import", "\(imports)")
        guard case .logImported(let record)? = imports.first?.body else { Issue.record("no LogImported: \(imports)"); return }
        #expect(record.events == Int64(heads[0].seq) && record.head == heads[0].hash, "\(record)")
        #expect(try auditor.events(of: try #require(try auditor.runIDs().first), after: 0).allSatisfy { $0.actor == Account.current }, "the original actors kept")
        // The copy holds what the file held: the runs, the schedule, the active run's service.
        let env = p.environment.merging(["CUTOVER_DB": writer]) { $1 }
        let list = try CutoverBinary.run(["list", "--json"], in: p.dir.url, environment: env)
        #expect(list.lines.count == 3)
        let schedules = try CutoverBinary.run(["schedule", "list"], in: p.dir.url, environment: env)
        #expect(schedules.stdout.contains("weekly") && schedules.stdout.contains("paused"), "\(schedules.stdout)")
        let busy = try CutoverBinary.run(["start", "check", "--runbook", "svc"], in: p.dir.url, environment: env)
        #expect(busy.status == 69, "the gated run still holds svc in the copy: \(busy.stderr)")
        // Never into a log that holds events.
        let twice = try CutoverBinary.run(["db", "copy", "--from", sqlite, "--to", importer], in: p.dir.url)
        #expect(twice.status == 1 && twice.stderr.contains("already holds events"), "\(twice.stderr)")
    }

    /// The log's database stops taking connections and every connection to it is cut while
    /// a run soaks, past the moment its wait ends: the driver rides out the wait, waits at the
    /// step boundary for the log, and carries on when it is back; nothing is lost or doubled.
    @Test func theLogGoingAwayMidRunMakesTheRunWaitAtAStepBoundary() throws {
        let p = try Project()
        let db = try PostgresTestServer.emptyDatabase(p.dir)
        #expect(try CutoverBinary.run(["db", "init", "--grant", "cutover_writer", "--db", try PostgresTestServer.uri("cutover_admin", db)], in: p.dir.url).status == 0)
        let writer = try PostgresTestServer.uri("cutover_writer", db)
        let env = p.environment.merging(["CUTOVER_DB": writer]) { $1 }
        let (process, seen) = try startUntilWaiting(p, environment: env)
        let out = (process.standardOutput as! Pipe).fileHandleForReading
        let run = String(seen.split(separator: "\n").first ?? "")
        #expect(run.hasPrefix("run-"), "\(seen)")
        // As the server's superuser (root's socket): the database refuses new connections,
        // and the driver's is cut.
        let socket = repositoryRoot.appendingPathComponent(".sandbox/pg-log/socket").path
        func superuser(_ sql: String) throws {
            let r = try Sandbox.script(["psql", "-h", socket, "-p", "\(PostgresTestServer.port)", "-U", "postgres", "-Atc", sql])
            #expect(r.status == 0, "\(r.output)")
        }
        Thread.sleep(forTimeInterval: 3)
        try superuser("ALTER DATABASE \(db) ALLOW_CONNECTIONS false")
        try superuser("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = '\(db)'")
        // The 6s soak ends meanwhile; the driver must wait for the log to record it.
        Thread.sleep(forTimeInterval: 6)
        #expect(process.isRunning, "the driver waits for the log instead of failing")
        #expect(try p.fixture.requests()["dr"] == 1, "only dr-health reached DR: the step after the soak waits for the log")
        try superuser("ALTER DATABASE \(db) ALLOW_CONNECTIONS true")
        process.waitWithoutRunLoop()
        let rest = seen + String(decoding: out.readDataToEndOfFile(), as: UTF8.self)
        #expect(process.terminationStatus == 0, "\(rest)")
        #expect(rest.contains("succeeded"), "\(rest)")
        let history = try CutoverBinary.run(["history", run, "--json"], in: p.dir.url, environment: env).lines.compactMap {
            try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]
        }
        let soaked = history.filter { $0["type"] as? String == "StepSucceeded" && $0["step"] as? String == "soak" }
        #expect(soaked.count == 1, "recorded once: \(soaked)")
        #expect(try p.fixture.requests()["dr"] == 2, "the step after the soak ran once the log was back")
        #expect(!history.contains { $0["type"] as? String == "StepFailed" }, "nothing failed")
        let verify = try CutoverBinary.run(["audit", "verify", "--json"], in: p.dir.url, environment: env)
        #expect(verify.stdout.contains("\"intact\":true"), "\(verify.stdout)\(verify.stderr)")
    }
}
