import CutoverCore
import CutoverSQLite
import Foundation
import Testing
import TestSupport

/// `cutover halt` while three runs are active in three processes: each is paused in its
/// soak's wait within a second, a new start and a scheduled drill are refused, `status` and
/// `list` say who halted and why, and `cutover unhalt` lets the three carry on to the end.
@Suite struct HaltTests {
    /// Starts `soak` for `runbook` and reads its output until the soak timer is set.
    func startSoaking(_ p: Project, _ runbook: String) throws -> (process: Process, run: String) {
        let (process, seen) = try startUntilWaiting(p, runbook: runbook)
        let run = try #require(seen.split(separator: "\n").first.map(String.init), "no run id in: \(seen)")
        #expect(seen.contains("step soak waiting"), "\(seen)")
        return (process, run)
    }

    @Test func aHaltStopsEveryActiveRunRefusesStartsAndDrillsAndUnhaltCarriesThemOn() throws {
        let p = try Project()
        for service in ["svc-a", "svc-b", "svc-c"] {
            p.dir.write("runbooks/\(service).json", """
                {"service": "\(service)", "primary": {"endpoint": "\(p.fixture.base)/primary"}, "dr": {"endpoint": "\(p.fixture.base)/dr"},
                 "thresholds": {"rto": "15m", "rpo": "30s", "p95": "500ms"}, "notify": {"webhook": "env:SVC_WEBHOOK"}}
                """)
        }
        let active = try ["svc", "svc-a", "svc-b"].map { try startSoaking(p, $0) }
        defer { for a in active where a.process.isRunning { a.process.terminate() } }

        let halt = try p.cutover("halt", "--reason", "us-east-1 is failing under us; hold everything")
        #expect(halt.status == 0, "\(halt.stderr)")
        let log = try SQLiteStore.open(path: p.dir.path(".cutover/cutover.sqlite"))
        let haltEvent = try #require(try log.events(of: LogStream.halt, after: 0).first)
        // Each run pauses in its wait, well within a second of the halt.
        for (_, run) in active {
            let until = Date().addingTimeInterval(10)
            var paused: Event?
            while paused == nil, Date() < until {
                paused = try log.events(of: run, after: 0).first { if case .runPaused(let s) = $0.body { s.halt == true } else { false } }
                if paused == nil { Thread.sleep(forTimeInterval: 0.05) }
            }
            let event = try #require(paused, "run \(run) was not paused by the halt")
            #expect(event.atMillis - haltEvent.atMillis < 1_000, "run \(run) paused \(event.atMillis - haltEvent.atMillis) ms after the halt")
            #expect(try log.fold(run)?.status == .paused)
        }

        // Nothing new starts: a start gets the busy status a held service gets; so does a resume.
        let start = try p.cutover("start", "check", "--runbook", "svc-c", "--no-preflight")
        #expect(start.status == 69, "\(start.stdout)\(start.stderr)")
        #expect(start.stderr.contains("halted by") && start.stderr.contains("us-east-1 is failing"), "\(start.stderr)")
        #expect(try p.cutover("resume", active[1].run).status == 69)
        // Nor a scheduled drill: its firing is skipped, with the halt as the reason.
        _ = try p.addScheduleDueNow("nightly", workflow: "check", runbook: "svc-c")
        let once = try p.cutover("scheduler", "--once", "--grace", "150s")
        #expect(once.status == 0, "\(once.stdout)\(once.stderr)")
        let skipped = try #require(try p.log.schedule("nightly")?.skips.first, "\(once.stdout)")
        #expect(skipped.reason.contains("halted by"), "\(skipped.reason)")
        #expect(try p.log.runIDs().count == 3, "nothing was started while halted")

        // Who and why, where people look.
        let list = try p.cutover("list", "--json")
        let first = try #require(list.lines.first.flatMap { try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] })
        #expect(first["kind"] as? String == "halt" && (first["reason"] as? String)?.contains("us-east-1") == true)
        #expect(try p.cutover("status", active[0].run).stdout.contains("HALTED halted by"))
        #expect(try p.cutover("halt", "--reason", "again").status != 0, "a halted log is not halted twice")

        let unhalt = try p.cutover("unhalt", "--reason", "the region is back")
        #expect(unhalt.status == 0, "\(unhalt.stderr)")
        for (process, run) in active {
            let (out, err) = CutoverBinary.collect(process)
            #expect(process.terminationStatus == 0, "\(run): \(out)\(err)")
            let events = try log.events(of: run, after: 0)
            #expect(events.contains { if case .runResumed(let s) = $0.body { s.halt == true } else { false } })
            #expect(events.last?.type == "RunSucceeded", "\(events.map(\.type))")
        }
        #expect(try p.cutover("start", "check", "--runbook", "svc-c", "--no-preflight").status == 0)
        #expect(try p.cutover("audit", "verify").status == 3, "the halt stream folds: intact (no trusted key to check signatures with)")
    }
}

extension HaltTests {
    @Test func aHaltIssuedWhileAMonitorWatchesStopsItWithinASecond() throws {
        let p = try Project()
        p.dir.write("workflows/watch.json", """
            {"name": "watch", "steps": [
              {"id": "monitor", "type": "cutover.monitor", "with": {"url": "${runbook.dr.endpoint}/recommend", "window": "5m", "interval": "2s"}}
            ]}
            """)
        let process = CutoverBinary.start(["start", "watch", "--runbook", "svc", "--no-preflight"], in: p.dir.url, environment: p.environment)
        try process.run()
        defer { if process.isRunning { process.terminate() } }
        // Once the monitor is under way (a probe done, the next two seconds off), halt.
        let until = Date().addingTimeInterval(30)
        let file = p.dir.path(".cutover/cutover.sqlite")
        while !FileManager.default.fileExists(atPath: file), Date() < until { Thread.sleep(forTimeInterval: 0.05) }
        let log = try SQLiteStore.open(path: file)
        var run: String?
        while run == nil, Date() < until {
            run = try log.runIDs().first { r in (try? log.events(of: r, after: 0))?.contains { $0.type == "StepStarted" } == true }
            if run == nil { Thread.sleep(forTimeInterval: 0.05) }
        }
        let watching = try #require(run, "the monitor never started")
        Thread.sleep(forTimeInterval: 0.3)
        #expect(try p.cutover("halt", "--reason", "freeze while the monitor watches").status == 0)
        let halted = try #require(try log.events(of: LogStream.halt, after: 0).first)
        var paused: Event?
        let deadline = Date().addingTimeInterval(10)
        while paused == nil, Date() < deadline {
            paused = try log.events(of: watching, after: 0).first { if case .runPaused(let s) = $0.body { s.halt == true } else { false } }
            if paused == nil { Thread.sleep(forTimeInterval: 0.05) }
        }
        let event = try #require(paused, "the monitor's run was not paused")
        #expect(event.atMillis - halted.atMillis < 1_000, "paused \(event.atMillis - halted.atMillis) ms after the halt")
        #expect(try log.fold(watching)?.steps["monitor"]?.phase == .running, "paused inside the monitor's wait, not after it")
    }
}
