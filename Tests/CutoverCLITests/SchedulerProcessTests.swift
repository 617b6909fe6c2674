import CutoverCore
import CutoverSQLite
import CutoverStore
import Foundation
import Testing
import TestSupport

/// A running `cutover scheduler` (or `cutover worker`), its output collected as it comes.
final class SchedulerProcess: @unchecked Sendable {
    // @unchecked: `text` is only touched under `lock`; the process is driven by one test.
    let process: Process
    private let lock = NSLock()
    private var text = ""
    private let done = DispatchGroup()

    /// - Parameter launcher: what runs the binary instead of starting it directly (another
    ///   network namespace: `ip netns exec NS /path/to/cutover`).
    init(
        _ p: Project, _ args: [String] = ["--poll", "1s", "--grace", "5m"], command: String = "scheduler", environment: [String: String] = [:],
        launcher: [String]? = nil
    ) throws {
        process = CutoverBinary.start([command] + args, in: p.dir.url, environment: p.environment.merging(environment) { $1 })
        if let launcher {
            process.executableURL = URL(fileURLWithPath: launcher[0])
            process.arguments = Array(launcher.dropFirst()) + [command] + args
        }
        try process.run()
        for pipe in [process.standardOutput as! Pipe, process.standardError as! Pipe] {
            done.enter()
            DispatchQueue.global().async { [self] in
                let handle = pipe.fileHandleForReading
                while true {
                    let chunk = handle.availableData
                    if chunk.isEmpty { break }
                    lock.lock()
                    text += String(decoding: chunk, as: UTF8.self)
                    lock.unlock()
                }
                done.leave()
            }
        }
    }

    /// A process a failed test left running is stopped with it.
    deinit {
        if process.isRunning {
            process.terminate()
            process.waitUntilExit()
        }
    }

    var output: String {
        lock.lock()
        defer { lock.unlock() }
        return text
    }

    /// Waits until the output contains `needle`.
    func wait(for needle: String, seconds: Double = 30) throws {
        let until = Date().addingTimeInterval(seconds)
        while !output.contains(needle) {
            if Date() > until { throw WaitTimeout(what: needle, output: output) }
            if !process.isRunning, !output.contains(needle) { throw WaitTimeout(what: needle + " (process exited)", output: output) }
            Thread.sleep(forTimeInterval: 0.05)
        }
    }

    /// Waits for the process to exit; returns its status.
    func exit(seconds: Double = 30) throws -> Int32 {
        let until = Date().addingTimeInterval(seconds)
        while process.isRunning {
            if Date() > until { throw WaitTimeout(what: "exit", output: output) }
            Thread.sleep(forTimeInterval: 0.05)
        }
        done.wait()
        return process.terminationStatus
    }
}

struct WaitTimeout: Error, CustomStringConvertible {
    let what: String
    let output: String
    var description: String { "timed out waiting for \"\(what)\"; output so far:\n\(output)" }
}

extension Project {
    var log: ChainedStore { get throws { try SQLiteStore.open(path: dir.path(".cutover/cutover.sqlite")) } }

    /// Adds, as if two and a half minutes ago, a daily schedule whose firing was a minute ago:
    /// the scheduler finds it due at once instead of the test waiting for a firing.
    func addScheduleDueNow(_ name: String, workflow: String = "soak", runbook: String = "svc") throws -> Int64 {
        let now = Date()
        let due = Int64((now.timeIntervalSince1970 - 60) / 60) * 60
        let utc = Calendar(identifier: .gregorian).dateComponents(in: TimeZone(identifier: "UTC")!, from: Date(timeIntervalSince1970: Double(due)))
        try addSchedule(name, cron: "\(utc.minute!) \(utc.hour!) * * *", secondsAgo: 150, workflow: workflow, runbook: runbook)
        return due * 1_000
    }

    /// Adds a drill schedule as if `secondsAgo` seconds ago.
    func addSchedule(_ name: String, cron: String, secondsAgo: Double, workflow: String = "soak", runbook: String = "svc") throws {
        let definition = ScheduleDefinition(
            name: name, workflow: dir.path("workflows/\(workflow).json"), runbook: dir.path("runbooks/\(runbook).json"),
            cron: cron, timeZone: "UTC", mode: .drill, catchUp: .skip, approvedBy: [])
        let now = Date()
        _ = try log.append(
            [EventDraft(at: now.addingTimeInterval(-secondsAgo), actor: "oncall", body: .scheduleAdded(definition))], to: ScheduleStream.id(name),
            expectedNext: 1, options: AppendOptions(now: now))
    }

    /// Waits until `run` has recorded an event of `type` for `step`.
    func waitForEvent(_ run: String, _ type: String, step: String, seconds: Double = 30) throws {
        let until = Date().addingTimeInterval(seconds)
        while try !log.events(of: run, after: 0).contains(where: { $0.type == type && $0.body.stepID == step }) {
            if Date() > until { throw WaitTimeout(what: "\(type) of \(step) in \(run)", output: "") }
            Thread.sleep(forTimeInterval: 0.05)
        }
    }
}

@Suite struct SchedulerProcessTests {
    /// SIGTERM in the middle of a drill lets the step in flight finish, starts nothing after
    /// it, and exits 0; the scheduler started again resumes the drill and finishes it, which
    /// is started once, recorded, reported and notified.
    @Test func sigtermFinishesTheStepInFlightAndTheRestartedSchedulerFinishesTheDrill() throws {
        let p = try Project()
        let due = try p.addScheduleDueNow("nightly")
        let first = try SchedulerProcess(p)
        try first.wait(for: "schedule nightly: started drill")
        let run = try #require(try p.log.schedule("nightly")?.drills.first?.run)
        try p.waitForEvent(run, "TimerSet", step: "soak")
        first.process.terminate()
        #expect(try first.exit() == 0, "\(first.output)")
        #expect(first.output.contains("stopping: the steps in flight finish"))
        #expect(first.output.contains("stopped \(run) at a step boundary"))
        // Stopped cleanly: the soak step finished and was recorded, nothing after it started.
        let stopped = try p.log.events(of: run, after: 0)
        #expect(stopped.last?.type == "StepSucceeded" && stopped.last?.body.stepID == "soak", "\(stopped.map(\.type))")
        #expect(try p.log.fold(run)?.status == .running)
        #expect(try p.log.leaseHolder(run: run) == nil, "the run's lease was given back")

        let restarted = try SchedulerProcess(p)
        defer { if restarted.process.isRunning { restarted.process.terminate() } }
        try restarted.wait(for: "schedule nightly: \(run) passed", seconds: 40)
        restarted.process.terminate()
        #expect(try restarted.exit() == 0)
        #expect(!restarted.output.contains("started drill"), "the restarted scheduler started nothing new:\n\(restarted.output)")

        let events = try p.log.events(of: run, after: 0)
        let drivers = events.compactMap { e -> String? in if case .driverAttached(let d) = e.body { return d.owner } else { return nil } }
        #expect(drivers.count == 2 && drivers[0] != drivers[1])
        #expect(!events.contains { if case .stepFailed(let f) = $0.body { f.error.code == StepError.interrupted.code } else { false } })
        #expect(events.filter { $0.type == "StepStarted" && $0.body.stepID == "soak" }.count == 1, "the soak step ran once")
        #expect(events.last?.type == "RunRolledBack")

        let schedule = try #require(try p.log.schedule("nightly"))
        #expect(schedule.drills.count == 1 && schedule.drills[0].dueAtMillis == due)
        #expect(schedule.drills[0].finished?.passed == true)
        #expect(schedule.drills[0].notified?.delivered == true)
        let report = try #require(schedule.drills[0].finished?.report)
        #expect(FileManager.default.fileExists(atPath: report))
        let posted = try p.fixture.received()
        #expect(posted.count == 1)
        #expect("\(posted)".contains("Scheduled drill of svc (nightly) passed"))
        #expect(try p.cutover("audit", "verify").status == 3, "intact, but no trusted key to check signatures with")
    }

    /// Two schedulers on one database: only the lease holder acts. Killed mid-drill (SIGKILL,
    /// no clean stop), it hands over: the waiting one takes the lease at once (the holder's
    /// process is gone), settles the step left in flight and finishes the drill. One run.
    @Test func killingTheActiveSchedulerHandsOverTheDrill() throws {
        let p = try Project()
        _ = try p.addScheduleDueNow("nightly")
        let first = try SchedulerProcess(p)
        try first.wait(for: "holds the lease")
        let second = try SchedulerProcess(p)
        defer { if second.process.isRunning { second.process.terminate() } }
        try second.wait(for: "another scheduler holds the lease")
        try first.wait(for: "schedule nightly: started drill")
        let run = try #require(try p.log.schedule("nightly")?.drills.first?.run)
        try p.waitForEvent(run, "TimerSet", step: "soak")
        kill(first.process.processIdentifier, SIGKILL)
        _ = try first.exit()

        #expect(!second.output.contains("started drill") && !second.output.contains("schedule nightly"), "the waiting scheduler did nothing")
        try second.wait(for: "holds the lease", seconds: 10)
        try second.wait(for: "schedule nightly: \(run) passed", seconds: 40)
        let schedule = try #require(try p.log.schedule("nightly"))
        #expect(schedule.drills.count == 1)
        #expect(schedule.drills[0].finished?.passed == true)
        #expect(try p.log.runIDs() == [run])
        #expect(try p.fixture.received().count == 1)
    }

    /// Firings that did not become runs are in the drill history: skipped over a live
    /// failover (with the reason) and missed while no scheduler ran.
    @Test func theReportShowsSkippedAndMissedFirings() throws {
        let p = try Project()
        let live = try p.cutover("start", "gated", "--runbook", "svc", "--detach")
        #expect(live.status == 75)
        let liveRun = live.lines[0]
        _ = try p.addScheduleDueNow("nightly", workflow: "check")
        try p.addSchedule("minutely", cron: "* * * * *", secondsAgo: 600, workflow: "check")
        let once = try p.cutover("scheduler", "--once", "--grace", "150s")
        #expect(once.status == 0, "\(once.stdout)\(once.stderr)")
        #expect(once.stdout.contains("firing(s) missed while no scheduler ran"))
        #expect(try p.log.runIDs() == [liveRun], "no drill started over the live failover")

        let report = try p.cutover("report", "--since", "2026-01-01")
        #expect(report.stdout.contains("skipped") && report.stdout.contains("missed"), "\(report.stdout)")
        #expect(report.stdout.contains("a live failover of svc, \(liveRun), is active"), "\(report.stdout)")
        let rows = try p.cutover("report", "--since", "2026-01-01", "--json").lines.compactMap {
            try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]
        }
        try DocumentedShapes().check(rows, "report --json with gaps")
        let skipped = rows.filter { $0["state"] as? String == "skipped" }
        let missed = rows.filter { $0["state"] as? String == "missed" }
        #expect(skipped.count == 2, "nightly's firing and minutely's latest: \(rows)")
        #expect(missed.count >= 5 && missed.allSatisfy { $0["schedule"] as? String == "minutely" }, "\(rows)")
        let list = try p.cutover("schedule", "list")
        #expect(list.stdout.contains("1 skipped") && list.stdout.contains("missed"), "\(list.stdout)")
    }

    @Test func schedulesAreAddedListedPausedAndRemovedFromTheCommandLine() throws {
        let p = try Project()
        let bad = try p.cutover("schedule", "add", "q", "--workflow", "check", "--runbook", "svc", "--cron", "0 0 1 1,4,7,13 *", "--drill")
        #expect(bad.status == 64)
        #expect(bad.stderr.contains("field 4 (month), position 13"), "\(bad.stderr)")
        #expect(!p.databaseExists, "nothing is written for a bad schedule")
        let zone = try p.cutover("schedule", "add", "q", "--workflow", "check", "--runbook", "svc", "--cron", "@quarterly", "--tz", "Europe/Berln", "--drill")
        #expect(zone.status == 64 && zone.stderr.contains("Europe/Berln"))
        let live = try p.cutover("schedule", "add", "q", "--workflow", "check", "--runbook", "svc", "--cron", "@quarterly")
        #expect(live.status == 64 && live.stderr.contains("--drill"))
        let unapproved = try p.cutover("schedule", "add", "g", "--workflow", "gated", "--runbook", "svc", "--cron", "@monthly", "--drill")
        #expect(unapproved.status == 64 && unapproved.stderr.contains("--approved-by"))
        let twice = try p.cutover("schedule", "add", "g", "--workflow", "gated", "--runbook", "svc", "--cron", "@monthly", "--drill", "--approved-by", "alice,alice")
        #expect(twice.status == 64 && twice.stderr.contains("alice is named twice"), "\(twice.stderr)")
        #expect(!p.databaseExists)

        let added = try p.cutover("schedule", "add", "q", "--workflow", "check", "--runbook", "svc", "--cron", "@quarterly", "--tz", "Europe/Berlin", "--drill")
        #expect(added.status == 0, "\(added.stderr)")
        #expect(added.stdout.contains("00:00 CET") || added.stdout.contains("00:00 CEST"))
        let readiness = try p.cutover("schedule", "add", "weekly", "--workflow", "check", "--runbook", "svc", "--cron", "0 6 * * MON", "--readiness-only")
        #expect(readiness.status == 0 && readiness.stdout.contains("readiness check (dr-health)"), "\(readiness.stdout)")
        p.dir.write("runbooks/literal.json", #"{"service": "lit", "primary": {}, "dr": {"endpoint": "http://127.0.0.1:9/dr"}, "notify": {"webhook": "https://hooks.example.com/services/T0/B0/tokentokentoken"}}"#)
        let literal = try p.cutover("schedule", "add", "lit", "--workflow", "soak", "--runbook", "literal", "--cron", "@daily", "--readiness-only")
        #expect(literal.status == 0 && literal.stderr.contains("notify.webhook as a literal URL"), "\(literal.stderr)")
        #expect(!literal.stderr.contains("tokentokentoken"))
        #expect(try p.cutover("schedule", "remove", "lit").status == 0)
        let again = try p.cutover("schedule", "add", "q", "--workflow", "check", "--runbook", "svc", "--cron", "@daily", "--drill")
        #expect(again.status == 1 && again.stderr.contains("already exists"))

        let next = try p.cutover("schedule", "next", "q", "--count", "4", "--json")
        let months = next.lines.compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }.compactMap { $0["local"] as? String }
        #expect(months.map { String($0.dropFirst(5).prefix(11)) }.sorted() == ["01-01 00:00", "04-01 00:00", "07-01 00:00", "10-01 00:00"])

        #expect(try p.cutover("schedule", "pause", "weekly", "--reason", "change freeze").status == 0)
        #expect(try p.cutover("schedule", "pause", "weekly").status == 1)
        let history = try p.cutover("history", "schedule:weekly")
        #expect(history.stdout.contains("ScheduleAdded") && history.stdout.contains("0 6 * * MON (UTC), readiness"), "\(history.stdout)")
        #expect(history.stdout.contains("SchedulePaused") && history.stdout.contains("by \(Account.current): change freeze"), "\(history.stdout)")
        let listed = try p.cutover("schedule", "list", "--json")
        let rows = listed.lines.compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
        #expect(rows.count == 2)
        #expect(rows.first { $0["name"] as? String == "weekly" }?["paused"] as? Bool == true)
        #expect(rows.first { $0["name"] as? String == "weekly" }?["mode"] as? String == "readiness")
        #expect(try p.cutover("schedule", "resume", "weekly").status == 0)
        #expect(try p.cutover("schedule", "remove", "q").status == 0)
        #expect(try p.cutover("schedule", "list", "--json").lines.count == 1)
        #expect(try p.cutover("schedule", "remove", "q").status == 1)
        // Every change is an event, audited like runs.
        let verify = try p.cutover("audit", "verify")
        #expect(verify.status == 3 && verify.stdout.contains("3 schedule(s)"), "intact, no trusted key: \(verify.stdout)")
    }
}
