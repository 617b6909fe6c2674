import CutoverAudit
import CutoverCore
import CutoverSQLite
import CutoverStore
import Foundation
import Testing
import TestSupport

/// The HTML export, opened by a real browser (Debian's chromium, headless).
@Suite struct HTMLReportTests {
    func render(_ log: AuditedLog, run: Int) throws -> (html: String, events: [Event]) {
        let store = try SQLiteStore.open(path: log.path)
        let events = try store.events(of: log.runs[run], after: 0)
        let state = try RunState.fold(log.runs[run], events)
        let verification = try Auditor.verify(store, run: log.runs[run], key: log.key).0
        let html = HTMLReport.render(state: state, timeline: Timeline(runID: log.runs[run], events: events), report: DrillReport(state), changes: [], verification: verification)
        return (html, events)
    }

    @Test func chromiumRendersTheTimelineWithOneBarPerAttempt() async throws {
        let log = try await AuditedLog.make()
        for run in [0, 1, 2] {
            let (html, events) = try render(log, run: run)
            let file = log.dir.path("run-\(run).html")
            try html.write(toFile: file, atomically: true, encoding: .utf8)
            let shot = log.dir.path("run-\(run).png")
            let r = try Sandbox.script([
                "chromium", "--headless", "--no-sandbox", "--disable-gpu", "--enable-logging=stderr", "--v=0",
                "--screenshot=\(shot)", "--window-size=1200,900", "file://\(file)",
            ])
            #expect(r.status == 0, "\(r.output)")
            #expect(!r.output.contains("Uncaught") && !r.output.contains(":CONSOLE"), "no script or console errors: \(r.output)")
            #expect(((try? FileManager.default.attributesOfItem(atPath: shot)[.size] as? Int) ?? 0) > 10_000, "the page rendered to an image")
            let dom = try Sandbox.script(["chromium", "--headless", "--no-sandbox", "--disable-gpu", "--dump-dom", "file://\(file)"])
            let attempts = events.filter { $0.type == "StepStarted" }.count
            let compensations = events.filter { $0.type == "CompensationStarted" }.count
            #expect(dom.output.components(separatedBy: "<rect class=\"attempt\"").count - 1 == attempts, "run \(run): one bar per step attempt")
            #expect(dom.output.components(separatedBy: "<rect class=\"compensation\"").count - 1 == compensations)
            #expect((compensations > 0) == (run != 0), "the drill and the failed run rolled something back; the live run did not")
        }
    }

    @Test func thePageSaysWhatAnAuditorNeeds() async throws {
        let log = try await AuditedLog.make()
        let (html, _) = try render(log, run: 0)
        #expect(html.contains("mark-pivot"), "the pivot is marked")
        #expect(html.contains("attempt 1: retrying"), "the retried attempt is labelled")
        #expect(html.contains("<span class=\"pill ok\">intact</span>"))
        #expect(html.contains("checked with \(log.key.fingerprint)"))
        #expect(!html.contains("<script"), "no script: it opens the same years later")
        #expect(!html.contains("http://") || html.components(separatedBy: "http://").count == 2, "no outside resource but the SVG namespace")
    }
}
