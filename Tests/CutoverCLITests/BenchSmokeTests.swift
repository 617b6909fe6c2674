import Foundation
import Testing
import TestSupport

/// The benchmark is not part of the suite, but a tiny run of it is, so it cannot rot.
@Suite struct BenchSmokeTests {
    @Test func theBenchmarkRunsAndReportsEveryFigureWithItsBaseline() throws {
        let bench = repositoryRoot.appendingPathComponent(".build/debug/cutover-bench").path
        let r = try Sandbox.script([bench, "--smoke", "--json"])
        #expect(r.status == 0, "\(r.output)")
        let line = r.output.split(separator: "\n").last.map(String.init) ?? ""
        let rows = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [[String: Any]])
        let figures = rows.compactMap { $0["figure"] as? String }
        for expected in ["durable no-op step", "workflow end to end", "concurrent runs", "fold a", "resume it", "verify the chain", "fold memory"] {
            #expect(figures.contains { $0.contains(expected) }, "missing \(expected): \(figures)")
        }
        for row in rows {
            let median = (row["value"] as? [String: Any])?["median"] as? Double ?? 0
            #expect(median > 0, "\(row["figure"] ?? "?") measured nothing")
        }
        let noop = rows.first { ($0["figure"] as? String)?.contains("no-op") == true }
        #expect(noop?["ratio"] as? Double != nil && noop?["baselineName"] as? String == "raw SQLite, same commits")
    }
}
