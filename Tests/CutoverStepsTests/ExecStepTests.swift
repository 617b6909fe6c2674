import CutoverCore
import CutoverSteps
import Foundation
import Testing
import TestSupport

/// `exec` when this process loses the run while the program runs: the program and everything
/// it started are killed at the next proof, and the step throws what the proof threw.
@Suite struct ExecStepTests {
    @Test func aLostLeaseKillsTheProgramAndEveryProcessItStarted() async throws {
        let dir = TemporaryDirectory()
        let pids = dir.path("pids")
        let script = dir.write("run.sh", """
            #!/bin/sh
            (setsid sh -c 'sleep 3600 & echo $! >> "\(pids)"; wait' &)
            echo $$ >> "\(pids)"
            sleep 3600
            """)
        chmod(script, 0o755)
        // The first proof (right before the start) holds; the next, while it runs, does not.
        let ctx = StepTestContext(step: "long", leaseLostAfter: 1)
        let p = try StepParameters(.object(["command": .array([.string(script)])]), for: Exec.self)
        let started = Date()
        let error = await #expect(throws: StepError.self) { try await Exec(proveEvery: .milliseconds(300)).execute(p, ctx) }
        #expect(error?.code == "lease-lost", "\(String(describing: error))")
        // Alone this takes under a second; beside the whole suite, whose tests block the two
        // cooperative threads for seconds at a time, it was seen to take 103 s. The bound
        // tells "at the first failed proof" from "when the program ended on its own" (an hour).
        #expect(Date().timeIntervalSince(started) < 600, "killed at the first failed proof, not after the program's own hour")
        try await Task.sleep(for: .milliseconds(300))
        let all = ((try? String(contentsOfFile: pids, encoding: .utf8)) ?? "").split(separator: "\n").compactMap { Int32($0) }
        #expect(all.count == 2, "the script and a double-forked grandchild")
        for pid in all { #expect(kill(pid, 0) == -1 && errno == ESRCH, "process \(pid) outlived the lost lease") }
    }
}
