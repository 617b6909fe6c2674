import CutoverAudit
import CutoverCore
import CutoverCrypto
import CutoverSQLite
import CutoverStore
import Foundation

/// Makes a log with one long run: 100 planned steps, each started, noted over and over (as a
/// monitor notes its probes) and finished; the last step left in flight, as a crash leaves it.
enum Synthesis {
    static func run(events: Int, path: String) throws {
        try? FileManager.default.removeItem(atPath: path)
        let log = try SQLiteStore.open(path: path)
        let steps = 100
        let plan = (0..<steps).map { PlannedStep(id: "s\($0)", type: "noop", kind: .check, pivot: false, retry: .default, timeoutMillis: nil) }
        let at = Date(timeIntervalSince1970: 1_790_000_000)
        let run = "run-synthetic"
        var batch: [EventDraft] = [EventDraft(at: at, actor: "bench", body: .runStarted(RunStarted(
            workflow: "bench", workflowDigest: "-", runbook: "bench", runbookDigest: "-", scope: "bench", mode: .live,
            startedBy: "bench", steps: plan, workflowSnapshot: .object([:]), runbookSnapshot: .object([:]))))]
        var next: Int64 = 1
        let perStep = max(3, events / steps)
        var written = 1
        for s in 0..<steps where written < events {
            batch.append(EventDraft(at: at, actor: "cutover@bench", body: .stepStarted(StepAttempt(step: "s\(s)", attempt: 1))))
            written += 1
            for n in 0..<(perStep - 2) where written < events - (s == steps - 1 ? 0 : 1) {
                batch.append(EventDraft(at: at, actor: "cutover@bench", body: .stepNote(StepNote(step: "s\(s)", message: "probe \(n): 200 in 12ms"))))
                written += 1
            }
            if s < steps - 1, written < events {
                batch.append(EventDraft(at: at, actor: "cutover@bench", body: .stepSucceeded(StepSucceeded(step: "s\(s)", attempt: 1, output: .object([:])))))
                written += 1
            }
            if batch.count >= 5_000 || s == steps - 1 {
                _ = try log.append(batch, to: run, expectedNext: next, options: AppendOptions(now: at))
                next += Int64(batch.count)
                batch = []
            }
        }
        if !batch.isEmpty { _ = try log.append(batch, to: run, expectedNext: next, options: AppendOptions(now: at)) }
    }
}

/// One measurement in its own process; prints {"ms", "rss", "baselineMs", "bytes"}.
enum Child {
    static func run(figure: String, db: String) async throws {
        let clock = ContinuousClock()
        var out: [String: JSONValue] = [:]
        switch figure {
        case "models-sync":
            print(JSONValue.object(try await ModelsFigure.child(db)).canonicalString)
            return
        case "fold", "resume":
            let baseline = try SQLiteBaseline.readRun(path: db, run: "run-synthetic")
            let start = clock.now
            let log = try SQLiteStore.open(readingOnly: db)
            guard let state = try log.fold("run-synthetic") else { throw BenchError("no synthetic run") }
            if figure == "resume" {
                guard case .settleStep = state.nextAction(nowMillis: Int64(Date().timeIntervalSince1970 * 1_000)) else {
                    throw BenchError("the synthetic run should have a step in flight")
                }
            }
            out["ms"] = .double((clock.now - start).seconds * 1_000)
            out["baselineMs"] = .double(baseline.took.seconds * 1_000)
        case "sha":
            // Baseline: the same canonical bytes the chain covers, hashed in one pass.
            let log = try SQLiteStore.open(readingOnly: db)
            var all = [UInt8]()
            try log.forEachEvent { e in
                all += CanonicalEvent.bytes(seq: e.seq, runID: e.runID, runSeq: e.runSeq, atMillis: e.atMillis, actor: e.actor, type: e.type, bodyJSON: e.bodyJSON)
            }
            let start = clock.now
            _ = SHA256.hash(all)
            out["ms"] = .double((clock.now - start).seconds * 1_000)
            out["bytes"] = .double(Double(all.count))
        case "scan":
            // The ceiling SQLite sets: every row's columns visited in place, nothing else done.
            let start = clock.now
            let log = try SQLiteStore.open(readingOnly: db)
            var bytes = 0
            try log.forEachRow(from: 1, through: .max) { r in bytes &+= r.body.count &+ r.actor.count &+ r.runID.count &+ r.type.count &+ 60 }
            out["ms"] = .double((clock.now - start).seconds * 1_000)
            out["bytes"] = .double(Double(bytes))
        case "verify", "verify-full":
            let start = clock.now
            let log = try SQLiteStore.open(readingOnly: db)
            let (report, _) = try Auditor.verify(log, key: nil, fold: figure == "verify-full")
            guard report.intact else { throw BenchError("the synthetic log does not verify: \(report.findings)") }
            out["ms"] = .double((clock.now - start).seconds * 1_000)
            out["bytes"] = .double(Double(report.bytes))
        case "decode-profile":
            // For working on the audit's fold by hand: decoding by kind, the audit inline and on
            // threads, and the kind lookups, on the log given (`--synthesize N --real --db F`).
            let log = try SQLiteStore.open(readingOnly: db)
            var parse: [String: Double] = [:]
            var decode: [String: Double] = [:]
            var count: [String: Int] = [:]
            try log.forEachRow(from: 1, through: .max) { r in
                let type = String(decoding: r.type, as: UTF8.self)
                let t0 = clock.now
                let v = try JSONValue.parse(String(decoding: r.body, as: UTF8.self))
                let t1 = clock.now
                _ = try EventBody.decode(type: type, payload: r.body)
                let t2 = clock.now
                parse[type, default: 0] += (t1 - t0).seconds * 1_000
                decode[type, default: 0] += (t2 - t1).seconds * 1_000
                count[type, default: 0] += 1
                _ = v
            }
            for parallel in [false, true] {
                let t = clock.now
                var audit = ChainAudit(checkpoints: [], key: nil, parallel: parallel)
                try log.forEachRow(from: 1, through: .max) { audit.feed($0) }
                _ = audit.finish()
                print(parallel ? "audit, folding on threads" : "audit, folding inline", (clock.now - t).seconds * 1_000)
            }
            let t = clock.now
            var rows = 0
            try log.forEachRow(from: 1, through: .max) { r in
                _ = try? EventBody.kind(named: r.type)
                rows += 1
            }
            print("kind lookups", (clock.now - t).seconds * 1_000)
            for (t, p) in parse.sorted(by: { $0.value > $1.value }) { print(t, count[t]!, String(format: "parse %.0f ms, parse+decode %.0f ms", p, decode[t]!)) }
            return
        default:
            throw BenchError("unknown figure \(figure)")
        }
        out["rss"] = .double(peakRSSMB())
        print(JSONValue.object(out).canonicalString)
    }
}

/// Grows a log of real events: the events of a recorded sandbox drill (an audit bundle,
/// `scripts/fixtures/drill-run.jsonl`) appended again and again under new run ids through the
/// store, until the log holds at least `events`. Each copy is one run of the drill's own
/// events: snapshots, outputs, notes and all.
enum RealLog {
    static let fixture = "scripts/fixtures/drill-run.jsonl"

    static func grow(events: Int, path: String, from bundle: String = fixture) throws {
        guard let text = try? String(contentsOfFile: bundle, encoding: .utf8) else {
            throw BenchError("\(bundle): cannot be read (run the bench from the repository, as scripts/bench does)")
        }
        var drafts: [String: [EventDraft]] = [:]
        var order: [String] = []
        for line in text.split(separator: "\n") {
            guard let e = try JSONValue.parse(String(line))["event"], let run = e["run"]?.stringValue, let type = e["type"]?.stringValue,
                let at = e["at"]?.intValue, let actor = e["actor"]?.stringValue, let body = e["body"]
            else { continue }
            let decoded = try EventBody.decode(type: type, payload: body.canonicalString)
            if drafts[run] == nil { order.append(run) }
            drafts[run, default: []].append(EventDraft(at: Date(timeIntervalSince1970: Double(at) / 1_000), actor: actor, body: decoded))
        }
        guard !order.isEmpty else { throw BenchError("\(bundle) holds no events") }
        try? FileManager.default.removeItem(atPath: path)
        let log = try SQLiteStore.open(path: path)
        var written = 0
        var copy = 0
        while written < events {
            copy += 1
            for run in order {
                let batch = drafts[run]!
                _ = try log.append(batch, to: "\(run)-copy\(copy)", expectedNext: 1, options: AppendOptions(now: Date()))
                written += batch.count
            }
        }
    }
}
