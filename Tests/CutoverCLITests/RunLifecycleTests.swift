import Foundation
import Testing
import TestSupport

/// Starts `cutover start soak` and reads its output until the soak timer is set.
func startUntilWaiting(_ p: Project) throws -> (Process, String) {
    // Without preflight: the tests count what reached the fixture, and read the run's progress.
    let process = CutoverBinary.start(["start", "soak", "--runbook", "svc", "--no-preflight"], in: p.dir.url, environment: p.environment)
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
        let run = r.lines.first ?? ""
        #expect(run.hasPrefix("run-"))
        let summary = p.lastJSON(r)
        #expect(summary["run"] as? String == run)
        #expect(summary["state"] as? String == "rolled-back")
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
        #expect(list.stdout.contains(run))
        let text = try p.cutover("status", run)
        #expect(text.stdout.contains("drill passed and rolled back as planned"))
    }

    @Test func approvalsDetachAndResume() throws {
        let p = try Project()
        let r = try p.cutover("start", "gated", "--runbook", "svc", "--detach")
        #expect(r.status == 75)
        let run = r.lines[0]
        #expect(r.stdout.contains("cutover approve \(run) --as NAME"))

        let second = try p.cutover("start", "check", "--runbook", "svc")
        #expect(second.status == 1)
        #expect(second.stderr.contains("service svc already has an active run, \(run)"))

        let own = try p.cutover("approve", run)
        #expect(own.status == 1)
        #expect(own.stderr.contains("oncall started this live run and cannot approve it"))
        let stranger = try p.cutover("approve", run, "--as", "mallory")
        #expect(stranger.status == 1)
        #expect(stranger.stderr.contains("mallory is not an approver"))

        let ok = try p.cutover("approve", run, "--as", "alice")
        #expect(ok.status == 0)
        #expect(ok.stdout.contains("approved step go of \(run) as alice (1 of 1)"))
        #expect(ok.stdout.contains("cutover resume \(run)"))

        let resumed = try p.cutover("resume", run, "--json")
        #expect(resumed.status == 0, "\(resumed.stderr)")
        #expect(p.lastJSON(resumed)["state"] as? String == "succeeded")
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
        #expect((summary["reason"] as? String)?.contains("aborted by oncall: wrong service") == true)
        let again = try p.cutover("abort", run)
        #expect(again.status == 1)
        #expect(again.stderr.contains("is aborted"))
    }

    @Test func rollbackUndoesASucceededRun() throws {
        let p = try Project()
        let r = try p.cutover("start", "check", "--runbook", "svc", "--json")
        #expect(p.lastJSON(r)["state"] as? String == "succeeded")
        let run = r.lines[0]
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

        let status = try p.cutover("status", run, "--json")
        #expect(p.lastJSON(status)["state"] as? String == "running")

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
        #expect(types.contains("StepFailed"), "the killed attempt is recorded as interrupted")
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
