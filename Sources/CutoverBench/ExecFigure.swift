import CutoverCore
import CutoverEngine
import CutoverSQLite
import CutoverSteps
import Foundation

/// `exec` of `/bin/true` through the engine against a bare `posix_spawn` + `waitpid` of it in
/// the same run; and (`cliFigure`, alone with `--cli`) a workflow of `wait 0ms` steps started from the command line (the
/// release `cutover` beside this binary) against the engine's no-op step of the same run.
extension Runner {
    func execFigures() async throws -> [Result] {
        var results: [Result] = []
        let steps = options.smoke ? 5 : 200
        let registry = StepRegistry([AnyStepType(Exec())])
        let list = (0..<steps).map { #"{"id": "e\#($0)", "type": "exec", "with": {"command": ["/bin/true"], "output": "none"}}"# }.joined(separator: ",")
        let workflow = try Workflow.load(file: "exec.json", data: Data(#"{"name": "exec", "steps": [\#(list)]}"#.utf8), registry: registry)
        var perStep: [Double] = [], barePerStep: [Double] = []
        for i in 0..<options.reps {
            let store = try SQLiteStore.open(path: path("exec-\(i).sqlite"))
            let e = Engine(
                store: store, registry: registry, clock: SystemClock(), ids: RandomIDs(),
                configuration: EngineConfiguration(owner: "bench:\(ProcessInfo.processInfo.processIdentifier)", actor: "bench"))
            let id = try e.start(Engine.StartRequest(workflow: workflow, runbook: try runbook("exec-\(i)"), mode: .live, startedBy: "bench", workflowDigest: "-", runbookDigest: "-"))
            let start = clock.now
            let state = try await e.drive(id)
            guard state.status == .succeeded else { throw BenchError("the exec run ended \(state.status.rawValue)") }
            let took = clock.now - start
            let bare = try spawnTrue(steps)
            if i > 0 {
                perStep.append(took.seconds * 1_000 / Double(steps))
                barePerStep.append(bare.seconds * 1_000 / Double(steps))
            }
        }
        let ratio = Stat(zip(perStep, barePerStep).map { $0 / $1 }).median
        results.append(Result(
            figure: "exec step of /bin/true (engine + SQLite)", value: Stat(perStep), unit: "ms/step", baseline: Stat(barePerStep),
            baselineName: "posix_spawn + waitpid of /bin/true", ratio: ratio, budget: "measured (no budget)", met: nil, peakMB: nil,
            note: "each step: its start, a proof (a fenced lease write), the spawn in a process group, the wait, the outcome"))
        return results + (try await cliFigure())
    }

    /// The cheapest step a workflow file can name, a thousand of them, from the command line.
    func cliFigure() async throws -> [Result] {
        var results: [Result] = []
        let cli = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("cutover").path
        guard FileManager.default.isExecutableFile(atPath: cli) else {
            results.append(Result(figure: "wait 0ms steps from the CLI", value: Stat([0]), unit: "ms/step", budget: "skipped", met: nil, note: "no cutover beside this binary: swift build -c release --product cutover"))
            return results
        }
        let waits = options.smoke ? 20 : 1_000
        let folder = dir.appendingPathComponent("cli")
        try FileManager.default.createDirectory(at: folder.appendingPathComponent("workflows"), withIntermediateDirectories: true)
        try FileManager.default.createDirectory(at: folder.appendingPathComponent("runbooks"), withIntermediateDirectories: true)
        let waitList = (0..<waits).map { #"{"id": "w\#($0)", "type": "wait", "with": {"duration": "0ms"}}"# }.joined(separator: ",")
        let waitsFile = folder.appendingPathComponent("workflows/waits.json")
        try #"{"name": "waits", "steps": [\#(waitList)]}"#.write(to: waitsFile, atomically: true, encoding: .utf8)
        var cliPerStep: [Double] = [], noopPaired: [Double] = []
        var commits = 0.0
        // Thirty-one pairs after the warm-up: a pair takes under a second, and a thousand
        // commits on this disk vary by ±15% from one run to the next (the same run of no-op
        // steps took 250 to 390 ms within a minute), so one pair's ratio is anywhere from 0.85
        // to 1.35; the median of 11 pairs still moved by ±0.05 from one bench to the next.
        for i in 0..<(options.smoke ? options.reps : 32) {
            // The engine's no-op steps beside it, on the same disk: the pair's ratio is what
            // the disk's drift between reps does not move. Before the command in one pair,
            // after it in the next, so that neither always runs on a disk the other just used.
            let noopFirst = i % 2 == 0
            var noopTook = Duration.zero
            if noopFirst { noopTook = try await drive(try SQLiteStore.open(path: path("cli-noop-\(i).sqlite")), runs: 1, steps: waits) }
            let service = "cli-\(i)"
            let runbook = folder.appendingPathComponent("runbooks/\(service).json")
            try #"{"service": "\#(service)", "primary": {}, "dr": {}}"#.write(to: runbook, atomically: true, encoding: .utf8)
            let db = folder.appendingPathComponent("cli-\(i).sqlite").path
            // Spawned and waited for with waitpid: Foundation's Process notices an exit on a
            // run-loop tick (up to 50 ms late), which would be counted against the CLI.
            let start = clock.now
            let status = try spawnAndWait(cli, ["start", waitsFile.path, "--runbook", runbook.path, "--no-preflight", "--db", db])
            let took = clock.now - start
            guard status == 0 else { throw BenchError("cutover start waits exited with wait status \(status)") }
            if !noopFirst { noopTook = try await drive(try SQLiteStore.open(path: path("cli-noop-\(i).sqlite")), runs: 1, steps: waits) }
            let events = try SQLiteStore.open(readingOnly: db).head()?.seq ?? 0
            commits = Double(events) / Double(waits)
            if i > 0 {
                cliPerStep.append(took.seconds * 1_000 / Double(waits))
                noopPaired.append(noopTook.seconds * 1_000 / Double(waits))
            }
        }
        let cliStat = Stat(cliPerStep)
        let cliRatio = Stat(zip(cliPerStep, noopPaired).map { $0 / $1 }).median
        results.append(Result(
            figure: "\(waits) wait 0ms steps started from the CLI", value: cliStat, unit: "ms/step", baseline: Stat(noopPaired),
            baselineName: "the engine's durable no-op steps, measured beside each", ratio: cliRatio, budget: "ratio <= 1.2", met: cliRatio <= 1.2, peakMB: nil,
            note: String(format: "whole command: start, load, validate, the run, the summary; %.1f events per step", commits)))
        return results
    }

    /// Runs `path` with `args` and waits for it; its wait status. `silenced`: its output goes
    /// to /dev/null; otherwise it inherits ours, with nothing done between spawn and exec.
    private func spawnAndWait(_ path: String, _ args: [String], silenced: Bool = true) throws -> Int32 {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        if silenced {
            posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0)
            posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0)
        }
        let argv: [UnsafeMutablePointer<CChar>?] = ([path] + args).map { strdup($0) } + [nil]
        defer { for a in argv { free(a) } }
        var pid: pid_t = 0
        let rc = argv.withUnsafeBufferPointer { a in
            silenced ? posix_spawn(&pid, path, &actions, nil, a.baseAddress!, environ) : posix_spawn(&pid, path, nil, nil, a.baseAddress!, environ)
        }
        guard rc == 0 else { throw BenchError("posix_spawn \(path) failed: \(String(cString: strerror(rc)))") }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) == -1 && errno == EINTR {}
        return status
    }

    /// `count` spawns of /bin/true, each waited for: what a program costs without cutover.
    private func spawnTrue(_ count: Int) throws -> Duration {
        let start = clock.now
        for _ in 0..<count { _ = try spawnAndWait("/bin/true", [], silenced: false) }
        return clock.now - start
    }
}
