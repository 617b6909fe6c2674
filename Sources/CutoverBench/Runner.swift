import CutoverAudit
import CutoverCore
import CutoverCrypto
import CutoverEngine
import CutoverSQLite
import CutoverStore
import Foundation

/// `noop`: a step that does nothing, so that a run measures only cutover itself.
struct Noop: StepType {
    struct Output: Codable, Sendable {}
    static let name = "noop"
    static let kind = StepKind.check
    static let schema = StepSchema()
    func execute(_ p: StepParameters, _ ctx: any StepContext) async throws -> Output { Output() }
}

struct Runner {
    let options: Options
    let dir: URL
    let registry = StepRegistry([AnyStepType(Noop())])
    let clock = ContinuousClock()

    init(_ options: Options) {
        self.options = options
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("cutover-bench-\(ProcessInfo.processInfo.processIdentifier)")
        try? FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    }

    func path(_ name: String) -> String { dir.appendingPathComponent(name).path }

    func workflow(steps: Int) throws -> Workflow {
        let list = (0..<steps).map { #"{"id": "s\#($0)", "type": "noop"}"# }.joined(separator: ",")
        return try Workflow.load(file: "bench.json", data: Data(#"{"name": "bench", "steps": [\#(list)]}"#.utf8), registry: registry)
    }

    func runbook(_ service: String) throws -> Runbook {
        try Runbook.load(file: "bench-runbook.json", data: Data(#"{"service": "\#(service)", "primary": {}, "dr": {}}"#.utf8), providers: ProviderSchemas())
    }

    func engine(_ store: any EventStore) -> Engine {
        Engine(store: store, registry: registry, clock: SystemClock(), ids: RandomIDs(),
               configuration: EngineConfiguration(owner: "bench:\(ProcessInfo.processInfo.processIdentifier)", actor: "cutover@bench"))
    }

    /// Runs `runs` runs of `steps` no-op steps at once on one store; returns the time taken.
    func drive(_ store: any EventStore, runs: Int, steps: Int) async throws -> Duration {
        let w = try workflow(steps: steps)
        let e = engine(store)
        var ids: [String] = []
        for i in 0..<runs {
            ids.append(try e.start(Engine.StartRequest(workflow: w, runbook: try runbook("svc-\(UUID().uuidString.prefix(8))-\(i)"), mode: .live, startedBy: "bench", workflowDigest: "-", runbookDigest: "-")))
        }
        let start = clock.now
        try await withThrowingTaskGroup(of: RunState.self) { group in
            for id in ids { group.addTask { try await e.drive(id) } }
            for try await state in group where state.status != .succeeded {
                throw BenchError("a bench run ended \(state.status.rawValue)")
            }
        }
        return clock.now - start
    }

    func reps<T>(_ count: Int? = nil, _ body: () async throws -> T) async throws -> [T] {
        var out: [T] = []
        for i in 0..<(count ?? options.reps) {
            let v = try await body()
            if i > 0 { out.append(v) }  // the first is a warm-up
        }
        return out
    }

    func run() async throws -> [Result] {
        defer { try? FileManager.default.removeItem(at: dir) }
        if options.modelsOnly { return try await modelsFigure() }
        if options.postgresOnly { return try await postgresFigures() }
        if options.groupsOnly { return [try await parallelFigure()] }
        if options.shippingOnly { return try await shippingFigures() }
        if options.cliOnly { return try await cliFigure() }
        var results: [Result] = []
        // 1. A durable no-op step, and the raw commits it needs.
        var perStep: [Double] = []
        var rawPerStep: [Double] = []
        var commitsPerStep = 0.0
        var eventsPerStep = 0.0
        var noopPeak = 0.0
        for i in 0..<options.reps {
            let store = try SQLiteStore.open(path: path("noop-\(i).sqlite"))
            resetPeakRSS()
            let took = try await drive(store, runs: 1, steps: options.noopSteps)
            noopPeak = max(noopPeak, peakSinceResetMB() ?? 0)
            let events = try store.head()?.seq ?? 0
            let commits = store.durableCommits
            var bytes = 0
            try store.forEachEvent { bytes += $0.bodyJSON.utf8.count + $0.runID.count + $0.actor.count + $0.type.count + 32 + 24 }
            commitsPerStep = Double(commits) / Double(options.noopSteps)
            eventsPerStep = Double(events) / Double(options.noopSteps)
            // The same number of durable commits, each carrying the same bytes the engine's did.
            let raw = try SQLiteBaseline.durableCommits(path: path("raw-\(i).sqlite"), count: commits, rowBytes: bytes / max(1, commits))
            if i > 0 {
                perStep.append(took.seconds * 1_000 / Double(options.noopSteps))
                rawPerStep.append(raw.seconds * 1_000 / Double(options.noopSteps))
            }
        }
        let noop = Stat(perStep), raw = Stat(rawPerStep)
        // Each rep's engine run and raw commits ran back to back on the same disk: their
        // ratio, then the median of those, is what drift between reps does not move.
        let noopRatio = Stat(zip(perStep, rawPerStep).map { $0 / $1 }).median
        results.append(Result(
            figure: "durable no-op step (engine + SQLite)", value: noop, unit: "ms/step", baseline: raw,
            baselineName: "raw SQLite, same commits", ratio: noopRatio, budget: "ratio <= 1.5 and < 1 ms",
            met: noopRatio <= 1.5 && noop.median < 1, peakMB: noopPeak,
            note: String(format: "%.1f events and %.2f durable commits per step (a success and the next start share one)", eventsPerStep, commitsPerStep)))
        let rawCommitsPerSecond = 1_000 / (raw.median / commitsPerStep)
        results.append(try await parallelFigure())
        results += try await execFigures()

        // 2. A long workflow end to end, and many runs at once; measured in turns, so that
        // the disk's drift during the run (a commit here costs 0.4 to 0.9 ms from minute to
        // minute) weighs on both the same.
        var long: [Double] = []
        var concurrent: [Double] = []
        var concurrentCommits = 0.0
        var longPeak = 0.0, concurrentPeak = 0.0
        for i in 0..<min(options.reps, 4) {
            let store = try SQLiteStore.open(path: path("long-\(UUID().uuidString).sqlite"))
            resetPeakRSS()
            let l = Double(options.longSteps) / (try await drive(store, runs: 1, steps: options.longSteps)).seconds
            longPeak = max(longPeak, peakSinceResetMB() ?? 0)
            let cstore = try SQLiteStore.open(path: path("conc-\(UUID().uuidString).sqlite"))
            resetPeakRSS()
            let took = try await drive(cstore, runs: options.concurrentRuns, steps: options.concurrentSteps)
            concurrentPeak = max(concurrentPeak, peakSinceResetMB() ?? 0)
            concurrentCommits = Double(cstore.durableCommits) / Double(options.concurrentRuns * options.concurrentSteps)
            if i > 0 {  // the first is a warm-up
                long.append(l)
                concurrent.append(Double(options.concurrentRuns * options.concurrentSteps) / took.seconds)
            }
        }
        let longStat = Stat(long)
        results.append(Result(
            figure: "\(options.longSteps)-step workflow end to end", value: longStat, unit: "steps/s",
            baseline: Stat([rawCommitsPerSecond]), baselineName: "raw commits/s", ratio: nil, budget: "report", met: nil, peakMB: longPeak))
        let concStat = Stat(concurrent)
        // The ratio of each turn's pair, then their median: a pair saw the same disk.
        let pairRatio = Stat(zip(concurrent, long).map { $0 / $1 }).median
        results.append(Result(
            figure: "\(options.concurrentRuns) concurrent runs x \(options.concurrentSteps) steps", value: concStat, unit: "steps/s",
            baseline: longStat, baselineName: "sequential steps/s", ratio: pairRatio,
            budget: "not slower than sequential", met: pairRatio >= 0.95, peakMB: concurrentPeak,
            note: String(format: "%.2f durable commits per step (group commit: one transaction carries every run's append that waited)", concurrentCommits)))

        // The same two on the PostgreSQL store.
        results += try await postgresFigures()

        if options.engineOnly { return results }
        // 3-5. Fold, resume and chain verification, each in a child process for its peak memory.
        for size in Set(options.memorySizes + [options.foldEvents]).sorted() {
            try Synthesis.run(events: size, path: path("fold-\(size).sqlite"))
        }
        let self_ = CommandLine.arguments[0]
        func child(_ figure: String, _ db: String) throws -> (ms: Double, rss: Double, baselineMs: Double, bytes: Double) {
            let p = Process()
            p.executableURL = URL(fileURLWithPath: self_)
            p.arguments = ["--only", figure, "--db", db]
            let out = Pipe()
            p.standardOutput = out
            try p.run()
            let data = out.fileHandleForReading.readDataToEndOfFile()
            p.waitUntilExit()
            guard p.terminationStatus == 0, let v = try? JSONValue.parse(data) else { throw BenchError("child \(figure) failed") }
            return (v["ms"]?.doubleValue ?? 0, v["rss"]?.doubleValue ?? 0, v["baselineMs"]?.doubleValue ?? 0, v["bytes"]?.doubleValue ?? 0)
        }
        let foldDB = path("fold-\(options.foldEvents).sqlite")
        let folds = try (0..<options.reps).map { _ in try child("fold", foldDB) }.dropFirst()
        results.append(Result(
            figure: "fold a \(options.foldEvents)-event run from the database", value: Stat(folds.map(\.ms)), unit: "ms",
            baseline: Stat(folds.map(\.baselineMs)), baselineName: "reading the rows raw", ratio: Stat(folds.map(\.ms)).median / max(0.001, Stat(folds.map(\.baselineMs)).median),
            budget: "< 100 ms", met: Stat(folds.map(\.ms)).median < 100, peakMB: folds.map(\.rss).max()))
        let resumes = try (0..<options.reps).map { _ in try child("resume", foldDB) }.dropFirst()
        results.append(Result(
            figure: "resume it after a crash (load, fold, decide)", value: Stat(resumes.map(\.ms)), unit: "ms",
            budget: "< 300 ms", met: Stat(resumes.map(\.ms)).median < 300, peakMB: resumes.map(\.rss).max()))
        // 6. `audit verify` of real events: everything (chain, every run folded) against the
        // chain alone, on the same log, in turns.
        let realDB = path("real-\(options.realEvents).sqlite")
        try RealLog.grow(events: options.realEvents, path: realDB)
        var full: [Double] = []
        var chainOnly: [Double] = []
        var fullPeak = 0.0
        for _ in 0..<max(3, options.reps - 1) {
            let c = try child("verify", realDB)
            let f = try child("verify-full", realDB)
            chainOnly.append(c.bytes / 1_048_576 / (c.ms / 1_000))
            full.append(f.bytes / 1_048_576 / (f.ms / 1_000))
            fullPeak = max(fullPeak, f.rss)
        }
        full.removeFirst()
        chainOnly.removeFirst()
        let verifyRatio = Stat(zip(full, chainOnly).map { $0 / $1 }).median
        results.append(Result(
            figure: "audit verify of \(options.realEvents) real events (sandbox drill runs): chain, and every run folded", value: Stat(full),
            unit: "MB/s", baseline: Stat(chainOnly), baselineName: "the chain alone (--chain-only)", ratio: verifyRatio,
            budget: ">= 0.5 of the chain alone", met: verifyRatio >= 0.5, peakMB: fullPeak))
        for size in options.memorySizes {
            let db = path("fold-\(size).sqlite")
            let n = size >= 1_000_000 ? 2 : max(2, options.reps - 2)
            let v = try (0..<n).map { _ in try child("verify", db) }.dropFirst()
            let sha = try (0..<n).map { _ in try child("sha", db) }.dropFirst()
            let scan = try (0..<n).map { _ in try child("scan", db) }.dropFirst()
            let scanRate = Stat(scan.map { $0.bytes / 1_048_576 / ($0.ms / 1_000) }).median
            let mbps = v.map { $0.bytes / 1_048_576 / ($0.ms / 1_000) }
            let base = sha.map { $0.bytes / 1_048_576 / ($0.ms / 1_000) }
            let ratio = Stat(mbps).median / Stat(base).median
            results.append(Result(
                figure: "verify the chain of \(size) events", value: Stat(mbps), unit: "MB/s", baseline: Stat(base),
                baselineName: "SHA-256 one pass (libcrypto)", ratio: ratio, budget: ">= 0.5 of the baseline",
                met: ratio >= 0.5, peakMB: v.map(\.rss).max(),
                note: String(format: "%.0f ms for %.1f MB of canonical bytes; SQLite alone visits the rows at %.0f MB/s (the ceiling: %.2f of the baseline)", Stat(v.map(\.ms)).median, (v.first?.bytes ?? 0) / 1_048_576, scanRate, scanRate / Stat(base).median)))
            let f = try (0..<2).map { _ in try child("fold", db) }.dropFirst()
            results.append(Result(
                figure: "fold memory at \(size) events", value: Stat(f.map(\.ms)), unit: "ms", budget: "flat memory", met: nil,
                peakMB: f.map(\.rss).max()))
        }
        return results + (try await modelsFigure()) + (ModelsFigure.available() ? try await shippingFigures() : [])
    }

    /// 7. models.sync across clouds, against curl between the same servers.
    func modelsFigure() async throws -> [Result] {
        let self_ = CommandLine.arguments[0]
        return try await ModelsFigure.results(options, dir: dir) { args, watch in
            let p = Process()
            p.executableURL = URL(fileURLWithPath: self_)
            p.arguments = ["--only", "models-sync", "--db", args[0]]
            let out = Pipe()
            p.standardOutput = out
            try p.run()
            if let watch {
                while p.isRunning {
                    if watch() {
                        kill(p.processIdentifier, SIGKILL)
                        break
                    }
                    usleep(20_000)
                }
                p.waitUntilExit()
                return nil
            }
            let data = out.fileHandleForReading.readDataToEndOfFile()
            p.waitUntilExit()
            guard p.terminationStatus == 0, let v = try? JSONValue.parse(data) else { throw BenchError("child models-sync failed") }
            return v.objectValue
        }
    }
}

struct BenchError: Error, CustomStringConvertible {
    let description: String
    init(_ d: String) { description = d }
}
