import CutoverCore
import CutoverEngine
import CutoverGoogle
import CutoverNet
import CutoverProviders
import CutoverShipping
import CutoverSQLite
import CutoverStore
import Foundation

/// `touch`: a step that changes nothing but asks for the proof a change takes, so a run of
/// them measures what cutover does before each mutating call (shipping included).
struct Touch: StepType {
    struct Output: Codable, Sendable {}
    static let name = "touch"
    static let kind = StepKind.compensable
    static let schema = StepSchema()
    func execute(_ p: StepParameters, _ ctx: any StepContext) async throws -> Output {
        _ = try await ctx.proof()
        return Output()
    }
}

/// Ships to one destination for a bench engine.
struct BenchShipper: LogShipper {
    let log: any EventStore
    let destination: ShipDestination
    func ship(through seq: Int64, _ proof: RunProof) async throws {
        _ = try await LogShipping.ship(log, to: destination, proof: proof)
    }
}

/// Issue 26's figures, against the sandbox's fake-gcs-server: the wait shipping adds before
/// each mutating step (against a create-only upload of the same bytes by curl), and a restore
/// of a million events (against a raw download of the same segments by curl).
extension Runner {
    static let shipBucket = "cutover-bench-ship"

    func shipDestination(_ prefix: String) throws -> ShipDestination {
        let target = ProviderTarget(provider: "gcs", fields: ["endpoint": .string(ModelsFigure.gcs), "credentials": .string("none"), "bucket": .string(Self.shipBucket)])
        let http = HTTPClient()
        let store = try ProviderCatalog(GoogleProviders.adapters(http: http)).objectStore(target, ListingContext())
        return ShipDestination(url: "gs://\(Self.shipBucket)/\(prefix)", store: store, prefix: prefix)
    }


    func shippingFigures() async throws -> [Result] {
        guard ModelsFigure.available() else { throw BenchError("the shipping figures need the sandbox's fake-gcs-server: run scripts/sandbox up") }
        ModelsFigure.curl(["-sf", "-X", "POST", "-H", "Content-Type: application/json", "--data", #"{"name": "\#(Self.shipBucket)"}"#, ModelsFigure.gcs + "/storage/v1/b?project=bench"])
        return [try await shippingCostFigure(), try await restoreFigure()]
    }

    /// A run of mutating steps with the log shipped before each, against the same run without,
    /// in turns; the difference per step against one create-only upload of a segment's bytes.
    func shippingCostFigure() async throws -> Result {
        let steps = options.smoke ? 5 : 50
        let registry = StepRegistry([AnyStepType(Touch())])
        let list = (0..<steps).map { #"{"id": "t\#($0)", "type": "touch"}"# }.joined(separator: ",")
        let w = try Workflow.load(file: "bench-touch.json", data: Data(#"{"name": "touch", "steps": [\#(list)]}"#.utf8), registry: registry)
        var extra: [Double] = [], raw: [Double] = [], segmentBytes: [Double] = []
        for turn in 0..<(options.smoke ? 2 : options.reps + 1) {
            var took: [Bool: Double] = [:]
            for shipping in [false, true] {
                let store = try SQLiteStore.open(path: path("touch-\(turn)-\(shipping).sqlite"))
                var configuration = EngineConfiguration(owner: "bench:\(ProcessInfo.processInfo.processIdentifier)", actor: "cutover@bench")
                let prefix = "cost-\(UUID().uuidString.prefix(8).lowercased())"
                if shipping { configuration.shipping = BenchShipper(log: store, destination: try shipDestination(prefix)) }
                let e = Engine(store: store, registry: registry, clock: SystemClock(), ids: RandomIDs(), configuration: configuration)
                let id = try e.start(Engine.StartRequest(workflow: w, runbook: try runbook("touch-\(turn)"), mode: .live, startedBy: "bench", workflowDigest: "-", runbookDigest: "-"))
                let start = clock.now
                let state = try await e.drive(id)
                guard state.status == .succeeded else { throw BenchError("a touch run ended \(state.status.rawValue)") }
                took[shipping] = (clock.now - start).seconds * 1_000 / Double(steps)
                if shipping {
                    let objects = try await shipDestination(prefix).store.list(prefix: "\(prefix)/segments/")
                    segmentBytes.append(Double(objects.map(\.size).reduce(0, +)) / Double(max(1, objects.count)))
                }
            }
            // The same number of create-only uploads of a segment's size, one after another.
            let bytes = Int(segmentBytes.last ?? 1_000)
            let file = path("segment-\(turn).bin")
            try Data(repeating: 0x61, count: bytes).write(to: URL(fileURLWithPath: file))
            let start = clock.now
            for i in 0..<steps {
                ModelsFigure.curl([
                    "-sf", "-X", "POST", "-H", "Content-Type: application/octet-stream", "--data-binary", "@\(file)", "-o", "/dev/null",
                    "\(ModelsFigure.gcs)/upload/storage/v1/b/\(Self.shipBucket)/o?uploadType=media&ifGenerationMatch=0&name=raw-\(UUID().uuidString)-\(i)",
                ])
            }
            let curlMs = (clock.now - start).seconds * 1_000 / Double(steps)
            if turn > 0 {
                extra.append(max(0, took[true]! - took[false]!))
                raw.append(curlMs)
            }
        }
        let value = Stat(extra), base = Stat(raw)
        return Result(
            figure: "shipping before a mutating step (fake-gcs-server)", value: value, unit: "ms/step", baseline: base,
            baselineName: "curl: a create-only upload of the same bytes", ratio: value.median / base.median, budget: "reported (the wait before each change)",
            met: nil,
            note: String(format: "%d steps, one segment of %.0f bytes each (a list, a read of the last segment, a create and a read back per step); curl starts a process per upload", steps, Stat(segmentBytes).median))
    }

    /// A million events shipped, then restored into a fresh log, against curl downloading the
    /// same segments one after another.
    func restoreFigure() async throws -> Result {
        let events = options.smoke ? 20_000 : 1_000_000
        let source = path("ship-source.sqlite")
        try Synthesis.run(events: events, path: source)
        let log = try SQLiteStore.open(path: source)
        let prefix = "restore-\(UUID().uuidString.prefix(8).lowercased())"
        let d = try shipDestination(prefix)
        let shipStart = clock.now
        let shipper = Engine(store: log, registry: registry, clock: SystemClock(), ids: RandomIDs(),
                             configuration: EngineConfiguration(owner: "bench:\(ProcessInfo.processInfo.processIdentifier)", actor: "cutover@bench", leaseTTL: .seconds(3_600)))
        let shipped = try await LogShipping.ship(log, to: d, proof: try shipper.shippingProof())
        let shipSeconds = (clock.now - shipStart).seconds
        let objects = try await d.store.list(prefix: "\(prefix)/segments/")
        let bytes = Double(objects.map(\.size).reduce(0, +))
        var restore: [Double] = [], download: [Double] = []
        for turn in 0..<(options.smoke ? 2 : 3) {
            let start = clock.now
            for o in objects {
                let name = o.key.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? o.key
                ModelsFigure.curl(["-sf", "-o", "/dev/null", "\(ModelsFigure.gcs)/download/storage/v1/b/\(Self.shipBucket)/o/\(name)?alt=media"])
            }
            let raw = (clock.now - start).seconds
            let into = try SQLiteStore.open(path: path("restored-\(turn).sqlite"))
            let rstart = clock.now
            let r = try await LogShipping.restore(from: d, into: into)
            let took = (clock.now - rstart).seconds
            guard r.events == Int64(events), try into.head() == log.head() else { throw BenchError("the restore did not end at the source's head") }
            if turn > 0 {
                download.append(raw)
                restore.append(took)
            }
        }
        let value = Stat(restore), base = Stat(download)
        let mb = bytes / 1_048_576
        return Result(
            figure: "restore of \(events) events from \(objects.count) segments", value: value, unit: "s", baseline: base,
            baselineName: "curl: a raw download of the same segments", ratio: value.median / base.median, budget: "reported",
            met: nil,
            note: String(
                format: "%.0f MB of segments: restore %.1f MB/s (every event hashed twice: checked, then imported), download %.1f MB/s; shipping them took %.1f s (%d segments)",
                mb, mb / value.median, mb / base.median, shipSeconds, shipped.segments.count))
    }
}
