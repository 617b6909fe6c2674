import CutoverAudit
import CutoverCore
import CutoverCrypto
import CutoverEngine
import CutoverStore
import Foundation

/// `cutover-bench`: cutover's own overhead next to the physical limit, measured in one
/// process and one run. Every figure is a median over repetitions (the first, a warm-up,
/// discarded) with min and max, next to a baseline measured the same way just before it.
@main
struct Bench {
    static func main() async {
        let args = Array(CommandLine.arguments.dropFirst())
        do {
            if let events = value(args, "--synthesize").flatMap(Int.init), let db = value(args, "--db") {
                // For profiling one figure by hand: `--synthesize N --db F`, then `--only fold --db F`.
                if args.contains("--real") {
                    try RealLog.grow(events: events, path: db)
                } else {
                    try Synthesis.run(events: events, path: db)
                }
                return
            }
            if let i = args.firstIndex(of: "--only") {
                // Child mode: one measurement in a fresh process, so peak memory is its own.
                try await Child.run(figure: args[i + 1], db: value(args, "--db")!)
                return
            }
            let options = Options(args)
            let results = try await Runner(options).run()
            if options.json {
                print(JSONValue.array(results.map(\.json)).canonicalString)
            } else {
                Table.print(results, options)
            }
        } catch {
            FileHandle.standardError.write(Data("cutover-bench: \(error)\n".utf8))
            exit(1)
        }
    }

    static func value(_ args: [String], _ flag: String) -> String? {
        args.firstIndex(of: flag).flatMap { $0 + 1 < args.count ? args[$0 + 1] : nil }
    }
}

struct Options {
    var json = false
    var smoke = false
    /// `--engine`: only the no-op, long and concurrent figures (for working on the engine).
    var engineOnly = false
    /// `--models`: only the models.sync figures (the sandbox must be up).
    var modelsOnly = false
    /// `--postgres`: the PostgreSQL store's figures alone.
    var postgresOnly = false
    /// `--groups`: the parallel groups' figure alone.
    var groupsOnly = false
    /// `--shipping`: the log shipping figures alone (the sandbox must be up).
    var shippingOnly = false
    /// `--cli`: the workflow of `wait 0ms` steps started from the command line, alone.
    var cliOnly = false
    var reps = 5
    /// Sizes: steps in the no-op run, steps in the long run, concurrent runs x steps, events folded, events verified.
    var noopSteps = 1_000
    var longSteps = 10_000
    var concurrentRuns = 100
    var concurrentSteps = 100
    var foldEvents = 100_000
    /// Events in the log of real drill runs that `audit verify` checks in full and chain-only.
    var realEvents = 100_000
    var memorySizes = [10_000, 100_000, 1_000_000]

    init(_ args: [String]) {
        json = args.contains("--json")
        smoke = args.contains("--smoke")
        engineOnly = args.contains("--engine")
        groupsOnly = args.contains("--groups")
        shippingOnly = args.contains("--shipping")
        cliOnly = args.contains("--cli")
        modelsOnly = args.contains("--models")
        postgresOnly = args.contains("--postgres")
        if smoke {
            reps = 2
            noopSteps = 20
            longSteps = 100
            concurrentRuns = 5
            concurrentSteps = 10
            foldEvents = 2_000
            realEvents = 1_000
            memorySizes = [1_000, 4_000]
        }
    }
}

/// One row of the table.
struct Result {
    var figure: String
    var value: Stat
    var unit: String
    var baseline: Stat?
    var baselineName: String?
    var ratio: Double?
    var budget: String
    var met: Bool?
    var peakMB: Double?
    var note: String?

    var json: JSONValue {
        var o: [String: JSONValue] = ["figure": .string(figure), "value": value.json, "unit": .string(unit), "budget": .string(budget)]
        if let b = baseline { o["baseline"] = b.json }
        if let n = baselineName { o["baselineName"] = .string(n) }
        if let r = ratio { o["ratio"] = .double((r * 1_000).rounded() / 1_000) }
        if let m = met { o["met"] = .bool(m) }
        if let p = peakMB { o["peakMB"] = .double((p * 10).rounded() / 10) }
        if let n = note { o["note"] = .string(n) }
        return .object(o)
    }
}

struct Stat {
    var median: Double
    var min: Double
    var max: Double

    init(_ samples: [Double]) {
        let s = samples.sorted()
        median = s.isEmpty ? 0 : s.count % 2 == 1 ? s[s.count / 2] : (s[s.count / 2 - 1] + s[s.count / 2]) / 2
        min = s.first ?? 0
        max = s.last ?? 0
    }

    var json: JSONValue { .object(["median": .double(round3(median)), "min": .double(round3(min)), "max": .double(round3(max))]) }
}

func round3(_ x: Double) -> Double { (x * 1_000).rounded() / 1_000 }

extension Duration {
    var seconds: Double { Double(components.seconds) + Double(components.attoseconds) / 1e18 }
}

/// Peak resident memory of this process, in MB.
/// Starts a new resident-memory peak for `peakSinceResetMB` (Linux: writing 5 to
/// `/proc/self/clear_refs` resets VmHWM), so figures measured in this process get their own.
func resetPeakRSS() {
    try? "5".write(toFile: "/proc/self/clear_refs", atomically: false, encoding: .utf8)
}

/// The resident-memory peak (VmHWM) since the last `resetPeakRSS`, or nil where there is none.
func peakSinceResetMB() -> Double? {
    guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
        let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmHWM:") }),
        let kB = Double(line.split(separator: " ").dropFirst().first ?? "")
    else { return nil }
    return kB / 1_024
}

func peakRSSMB() -> Double {
    var usage = rusage()
    getrusage(__rusage_who_t(RUSAGE_SELF.rawValue), &usage)
    return Double(usage.ru_maxrss) / 1_024
}

enum Table {
    static func fmt(_ x: Double) -> String {
        if x >= 1_000 { return String(format: "%.0f", x) }
        if x >= 10 { return String(format: "%.1f", x) }
        return String(format: "%.3f", x)
    }

    static func print(_ results: [Result], _ options: Options) {
        Swift.print("cutover-bench\(options.smoke ? " (smoke: tiny sizes, figures not meaningful)" : ""): medians after a warm-up run, [min-max]")
        Swift.print("")
        for r in results {
            var line = "\(r.figure.padding(toLength: 46, withPad: " ", startingAt: 0)) \(fmt(r.value.median)) \(r.unit) [\(fmt(r.value.min))-\(fmt(r.value.max))]"
            if let b = r.baseline, let name = r.baselineName { line += "  vs \(name) \(fmt(b.median)) [\(fmt(b.min))-\(fmt(b.max))]" }
            if let ratio = r.ratio { line += "  ratio \(String(format: "%.2f", ratio))" }
            if let p = r.peakMB { line += "  peak \(String(format: "%.0f", p)) MB" }
            line += "  budget: \(r.budget)" + (r.met.map { $0 ? " ✓" : " ✗ MISSED" } ?? "")
            Swift.print(line)
            if let n = r.note { Swift.print("    \(n)") }
        }
    }
}
