import Foundation
import Testing
import TestSupport

/// Starts `cutover start soak` and reads its output until the soak timer is set.
func startUntilWaiting(_ p: Project, runbook: String = "svc", environment: [String: String] = [:]) throws -> (Process, String) {
    // Without preflight: the tests count what reached the fixture, and read the run's progress.
    let process = CutoverBinary.start(
        ["start", "soak", "--runbook", runbook, "--no-preflight"], in: p.dir.url, environment: p.environment.merging(environment) { $1 })
    try process.run()
    let out = (process.standardOutput as! Pipe).fileHandleForReading
    var seen = ""
    let began = Date()
    while !seen.contains("step soak waiting"), Date().timeIntervalSince(began) < 30 {
        let chunk = out.availableData
        if chunk.isEmpty { break }
        seen += String(decoding: chunk, as: UTF8.self)
    }
    return (process, seen)
}

@Suite struct RunLifecycleTests {
    @Test func aDrillRunsToItsPlannedRollbackAndIsRecorded() throws {
        let p = try Project()
        let r = try p.cutover("start", "check", "--runbook", "svc", "--drill", "--json")
        #expect(r.status == 0, "\(r.stderr)")
        // JSON Lines and nothing else: the run's events as they were appended, then the summary.
        let lines = r.lines.map { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
        #expect(lines.allSatisfy { $0 != nil }, "every line of start --json is a JSON object: \(r.stdout)")
        let run = lines.first??["run"] as? String ?? ""
        #expect(run.hasPrefix("run-") && lines.first??["type"] as? String == "RunStarted" && lines.first??["kind"] as? String == "event")
        #expect(lines.dropLast().allSatisfy { $0?["kind"] as? String == "event" && $0?["run"] as? String == run })
        let summary = p.lastJSON(r)
        #expect(summary["kind"] as? String == "summary" && summary["run"] as? String == run)
        #expect(summary["state"] as? String == "rolled-back" && summary["verdict"] as? String == "drill passed")
        #expect(summary["planned"] as? Bool == true)
        #expect(try p.fixture.received().count == 1)

        let history = try p.cutover("history", run, "--json")
        #expect(history.status == 0)
        let events = history.lines.compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
        #expect(events.first?["type"] as? String == "RunStarted")
        #expect(events.last?["type"] as? String == "RunRolledBack")
        for e in events {
            #expect(e["seq"] is Int && e["type"] is String && e["at"] is String && (e["hash"] as? String)?.count == 64)
            #expect(e.keys.contains("step"))
        }
        #expect(events.contains { $0["type"] as? String == "TimerSet" && $0["step"] as? String == "soak" })

        let status = try p.cutover("status", run, "--json")
        #expect(p.lastJSON(status)["state"] as? String == "rolled-back")
        let list = try p.cutover("list", "--json")
        #expect(list.lines.count == 1)
        #expect(p.lastJSON(list)["run"] as? String == run && p.lastJSON(list)["verdict"] as? String == "drill passed")
        let table = try p.cutover("list")
        #expect(table.stdout.contains("drill passed") && !table.stdout.contains("rolled-back"), "\(table.stdout)")
        let text = try p.cutover("status", run)
        #expect(text.stdout.contains("drill passed and rolled back as planned"))
    }

    /// A drill whose check fails is `drill failed` wherever it is shown; one that passed is
    /// `drill passed`: in `list`, `status` and `report`.
    @Test func aFailedDrillAndAPassedOneReadAsSuch() throws {
        let p = try Project()
        let passed = p.lastJSON(try p.cutover("start", "check", "--runbook", "svc", "--drill", "--json"))
        try p.fixture.control("dr", errorRate: 1.0)
        let failedRun = try p.cutover("start", "check", "--runbook", "svc", "--drill", "--json", "--no-preflight")
        #expect(failedRun.status == 1)
        let failed = p.lastJSON(failedRun)
        #expect(failed["verdict"] as? String == "drill failed", "\(failed)")
        let verdicts = try p.cutover("list", "--json").lines.compactMap { (try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any])?["verdict"] as? String }
        #expect(verdicts == ["drill passed", "drill failed"])
        let table = try p.cutover("list").stdout
        #expect(table.contains("drill passed") && table.contains("drill failed"))
        let status = try p.cutover("status", failed["run"] as? String ?? "").stdout
        #expect(status.contains("drill failed"))
        #expect(passed["verdict"] as? String == "drill passed")
    }

    /// `start --json` streams: each event is a line while the run goes (the first arrives
    /// while the run still waits), and `watch --json` from another process sees the same run
    /// to its summary.
    @Test func startJSONStreamsEventsWhileTheRunGoesAndWatchFollowsIt() throws {
        let p = try Project()
        let process = CutoverBinary.start(["start", "soak", "--runbook", "svc", "--no-preflight", "--json"], in: p.dir.url, environment: p.environment)
        try process.run()
        let out = (process.standardOutput as! Pipe).fileHandleForReading
        var buffer = ""
        var objects: [[String: Any]] = []
        let began = Date()
        // Read line by line until the timer is set: the run is then 6s from its end.
        while !objects.contains(where: { $0["type"] as? String == "TimerSet" }), Date().timeIntervalSince(began) < 30 {
            let chunk = out.availableData
            if chunk.isEmpty { break }
            buffer += String(decoding: chunk, as: UTF8.self)
            while let nl = buffer.firstIndex(of: "\n") {
                let line = String(buffer[..<nl])
                buffer = String(buffer[buffer.index(after: nl)...])
                let object = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any], "not JSON: \(line)")
                objects.append(object)
            }
        }
        #expect(process.isRunning, "the events came while the run still went")
        let run = try #require(objects.first?["run"] as? String)
        #expect(objects.first?["type"] as? String == "RunStarted")
        for o in objects {
            #expect(o["kind"] as? String == "event" && (o["at"] as? String)?.hasSuffix("Z") == true && o["atMillis"] is Int)
        }
        let watch = try p.cutover("watch", run, "--json")
        #expect(watch.status == 0, "\(watch.stderr)")
        let watched = watch.lines.compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
        #expect(watched.count == watch.lines.count && watched.first?["type"] as? String == "RunStarted")
        #expect(watched.last?["kind"] as? String == "summary" && watched.last?["state"] as? String == "succeeded")
        process.waitWithoutRunLoop()
        let rest = String(decoding: out.readDataToEndOfFile(), as: UTF8.self)
        let final = (buffer + rest).split(separator: "\n").last.map(String.init) ?? ""
        let summary = try #require(try JSONSerialization.jsonObject(with: Data(final.utf8)) as? [String: Any])
        #expect(summary["kind"] as? String == "summary" && summary["run"] as? String == run && summary["state"] as? String == "succeeded")
        // The watcher saw every event the driver appended.
        let events = watched.filter { $0["kind"] as? String == "event" }.compactMap { $0["runSeq"] as? Int }
        #expect(!events.isEmpty && events == Array(1...events.count))
        #expect(watched.dropLast().last?["type"] as? String == "RunSucceeded")
    }

    @Test func approvalsDetachAndResume() throws {
        let p = try Project()
        let r = try p.cutover("start", "gated", "--runbook", "svc", "--detach")
        #expect(r.status == 75)
        let run = r.lines[0]
        #expect(r.stdout.contains("cutover approve \(run) --key FILE (signed)"), "\(r.stdout)")
        let waiting = try p.cutover("status", run)
        #expect(waiting.stdout.contains("waiting-approval (0 of 1)") && waiting.stdout.contains("approvals for go: 0 of 1 (none yet); may approve: alice, bob"), "\(waiting.stdout)")

        // Refused because another run holds the service: its own exit status.
        let second = try p.cutover("start", "check", "--runbook", "svc")
        #expect(second.status == 69)
        #expect(second.stderr.contains("service svc already has an active run, \(run)"))

        // The runbook lists keys: an approval without a signature by one of them is refused.
        let unsigned = try p.cutover("approve", run)
        #expect(unsigned.status == 1)
        #expect(unsigned.stderr.contains("this step takes signed approvals only") && unsigned.stderr.contains("nothing recorded"), "\(unsigned.stderr)")
        let stranger = try p.approve(run, as: "carol")
        #expect(stranger.status == 1)
        #expect(stranger.stderr.contains("is not one the runbook lists for this step (alice, bob)"), "\(stranger.stderr)")
        let typed = try p.cutover("approve", run, "--as", "alice")
        #expect(typed.status == 64 && typed.stderr.contains("--as is not accepted"), "\(typed.stderr)")

        let ok = try p.approve(run, as: "alice")
        #expect(ok.status == 0, "\(ok.stderr)")
        #expect(ok.stdout.contains("approved step go of \(run) as alice, signed by alice's key (1 of 1)"), "\(ok.stdout)")
        #expect(ok.stdout.contains("cutover resume \(run)"))

        let approved = try p.cutover("status", run)
        #expect(approved.stdout.contains("approved") && approved.stdout.contains("1 of 1 (alice)") && approved.stdout.contains("`cutover resume \(run)` carries it on"), "\(approved.stdout)")
        #expect(!approved.stdout.contains("waiting for approval"))
        let approvedJSON = p.lastJSON(try p.cutover("status", run, "--json"))
        #expect(approvedJSON["verdict"] as? String == "approved" && approvedJSON["next"] as? String == "cutover resume \(run)")

        // Detach, approve, resume: the normal path, with nothing failed on the way.
        let resumed = try p.cutover("resume", run)
        #expect(resumed.status == 0, "\(resumed.stderr)")
        #expect(!resumed.stdout.contains("✗") && !resumed.stdout.contains("stopped") && !resumed.stdout.contains("failed"), "\(resumed.stdout)")
        let done = try p.cutover("status", run)
        #expect(done.stdout.contains("succeeded") && !done.stdout.contains("last error"), "\(done.stdout)")
        let types = try p.cutover("history", run, "--json").lines.compactMap {
            (try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any])?["type"] as? String
        }
        #expect(!types.contains("StepFailed"), "\(types)")
    }

    /// A pause asked for while a step runs is shown until it takes effect.
    @Test func aRequestedPauseIsShown() throws {
        let p = try Project()
        let (process, seen) = try startUntilWaiting(p)
        let run = String(seen.split(separator: "\n").first ?? "")
        _ = try p.cutover("pause", run, "--reason", "checking the dashboards")
        let status = try p.cutover("status", run)
        // Either the request is shown, or (a wait takes the pause at once) the run is paused.
        #expect(status.stdout.contains("pause requested by \(Account.current)") || status.stdout.contains("paused"), "\(status.stdout)")
        process.terminate()
        process.waitWithoutRunLoop()
    }

    @Test func abortOfAWaitingRunStopsIt() throws {
        let p = try Project()
        let run = try p.cutover("start", "gated", "--runbook", "svc", "--detach").lines[0]
        let paused = try p.cutover("pause", run)
        #expect(paused.status == 0)
        let aborted = try p.cutover("abort", run, "--reason", "wrong service", "--json")
        #expect(aborted.status == 0, "\(aborted.stderr)")
        let summary = p.lastJSON(aborted)
        #expect(summary["state"] as? String == "aborted")
        #expect((summary["reason"] as? String)?.contains("aborted by \(Account.current): wrong service") == true)
        let again = try p.cutover("abort", run)
        #expect(again.status == 1)
        #expect(again.stderr.contains("is aborted"))
    }

    @Test func rollbackUndoesASucceededRun() throws {
        let p = try Project()
        let r = try p.cutover("start", "check", "--runbook", "svc", "--json")
        #expect(p.lastJSON(r)["state"] as? String == "succeeded")
        let run = p.lastJSON(r)["run"] as? String ?? ""
        let resume = try p.cutover("resume", run)
        #expect(resume.status == 1)
        #expect(resume.stderr.contains("nothing to resume"))
        let rolled = try p.cutover("rollback", run, "--json")
        #expect(rolled.status == 0, "\(rolled.stderr)")
        #expect(p.lastJSON(rolled)["state"] as? String == "rolled-back")
    }

    @Test func sigkillDuringAWaitThenResumeFinishesTheRun() throws {
        let p = try Project()
        let began = Date()
        let (process, seen) = try startUntilWaiting(p)
        #expect(seen.contains("step soak waiting 6.0s"))
        let run = String(seen.split(separator: "\n").first ?? "")
        Thread.sleep(forTimeInterval: 1.5)
        kill(process.processIdentifier, SIGKILL)
        process.waitWithoutRunLoop()
        #expect(process.terminationReason == .uncaughtSignal)

        // Nobody drives it: stalled, with the command that carries it on.
        let status = p.lastJSON(try p.cutover("status", run, "--json"))
        #expect(status["state"] as? String == "running" && status["verdict"] as? String == "stalled" && status["stalled"] as? Bool == true)
        #expect(status["next"] as? String == "cutover resume \(run)" && status["driver"] is NSNull)
        let text = try p.cutover("status", run).stdout
        #expect(text.contains("stalled") && text.contains("cutover resume \(run)"), "\(text)")

        let resumeStarted = Date()
        let resumed = try p.cutover("resume", run, "--json")
        let resumeTook = Date().timeIntervalSince(resumeStarted)
        #expect(resumed.status == 0, "\(resumed.stderr)")
        #expect(p.lastJSON(resumed)["state"] as? String == "succeeded")
        #expect(resumeTook < 5.5, "only the time left of the 6s wait is waited (took \(resumeTook)s)")
        #expect(Date().timeIntervalSince(began) >= 6)

        let types = try p.cutover("history", run, "--json").lines.compactMap {
            (try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any])?["type"] as? String
        }
        #expect(types.filter { $0 == "TimerSet" }.count == 1)
        #expect(types.filter { $0 == "DriverAttached" }.count == 2)
        #expect(!types.contains("StepFailed"), "a wait changes nothing: the killed attempt waits on, nothing failed")
    }

    @Test func sigtermStopsCleanlyAndResumeCarriesOn() throws {
        let p = try Project()
        let (process, seen) = try startUntilWaiting(p)
        let run = String(seen.split(separator: "\n").first ?? "")
        kill(process.processIdentifier, SIGTERM)
        process.waitWithoutRunLoop()
        #expect(process.terminationStatus == 130)
        let err = String(decoding: (process.standardError as! Pipe).fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        #expect(err.contains("`cutover resume \(run)` carries on from there"))
        let resumed = try p.cutover("resume", run, "--json")
        #expect(p.lastJSON(resumed)["state"] as? String == "succeeded")
    }
}
