import CutoverCore
import CutoverCrypto
import CutoverEngine
import CutoverNet
import CutoverProviders
import CutoverShipping
import CutoverStore
import Foundation

/// `log ship` and `log restore`: the log off this machine, into buckets in both clouds, and
/// back onto any machine from them.
enum LogCommands {
    /// A bucket URL as each cloud's own tools take it: `s3://BUCKET/PREFIX` (endpoint from
    /// `AWS_ENDPOINT_URL`, region from `AWS_REGION`, credentials from `AWS_ACCESS_KEY_ID` /
    /// `AWS_SECRET_ACCESS_KEY`), `gs://BUCKET/PREFIX` (endpoint from `STORAGE_EMULATOR_HOST`,
    /// credentials from `GOOGLE_APPLICATION_CREDENTIALS`).
    static func destination(_ url: String, _ ctx: Context) throws -> ShipDestination {
        let env = ctx.environment
        if url.hasSuffix(".json"), !url.contains("://") { return try destination(file: url, ctx) }
        let scheme: String
        if url.hasPrefix("s3://") { scheme = "s3" } else if url.hasPrefix("gs://") { scheme = "gs" } else {
            throw UsageError("\(TerminalText.escaped(url)): expected s3://BUCKET/PREFIX or gs://BUCKET/PREFIX")
        }
        let rest = url.dropFirst(5)
        let bucket = String(rest.prefix { $0 != "/" })
        let prefix = String(rest.dropFirst(bucket.count).drop { $0 == "/" })
        guard !bucket.isEmpty else { throw UsageError("\(TerminalText.escaped(url)): no bucket named") }
        var fields: [String: JSONValue] = ["bucket": .string(bucket)]
        let provider: String
        if scheme == "s3" {
            provider = "s3"
            fields["region"] = .string(env["AWS_REGION"] ?? env["AWS_DEFAULT_REGION"] ?? "us-east-1")
            if let endpoint = env["AWS_ENDPOINT_URL_S3"] ?? env["AWS_ENDPOINT_URL"] { fields["endpoint"] = .string(endpoint) }
        } else {
            provider = "gcs"
            if let host = env["STORAGE_EMULATOR_HOST"] { fields["endpoint"] = .string(host.hasPrefix("http") ? host : "http://\(host)") }
        }
        return ShipDestination(url: url, store: try objectStore(provider, fields, named: TerminalText.escaped(url), ctx), prefix: prefix)
    }

    /// The buckets `CUTOVER_SHIP_TO` names (URLs or target files, separated by commas or spaces).
    static func shipURLs(_ ctx: Context) -> [String] {
        (ctx.environment["CUTOVER_SHIP_TO"] ?? "").split(whereSeparator: { $0 == "," || $0 == " " }).map(String.init)
    }

    /// The object store a provider's target names, checked by the provider's schema; secrets
    /// as references, read from this process's environment and secret managers.
    static func objectStore(_ provider: String, _ fields: [String: JSONValue], named name: String, _ ctx: Context) throws -> any ObjectStore {
        let context = PreflightContext(
            stepID: "log", mode: .live, startedBy: ctx.actor, vault: SecretVault(sources: Composition.secretSources(environment: ctx.environment)),
            secrets: Preflight.Collector())
        do {
            return try Composition.providers(http: HTTPClient()).objectStore(ProviderTarget(provider: provider, fields: fields), context)
        } catch let e as StepError {
            throw CommandFailure("\(name): \(e.message)")
        }
    }

    /// A runbook-style target file: `{"provider": "s3" | "gcs", "bucket", "prefix"?, ...}` with
    /// the provider's fields (endpoint, region, credentials as references), checked as a
    /// runbook's targets are.
    static func destination(file: String, _ ctx: Context) throws -> ShipDestination {
        guard let data = FileManager.default.contents(atPath: file) else { throw CommandFailure("\(file): cannot be read") }
        guard var fields = (try? JSONValue.parse(data))?.objectValue else {
            throw CommandFailure("\(file): expected a target object like {\"provider\": \"s3\", \"bucket\": \"recsys-logs\", \"region\": \"us-east-1\", \"prefix\": \"recs\"}")
        }
        guard let provider = fields.removeValue(forKey: "provider")?.stringValue, ["s3", "gcs"].contains(provider) else {
            throw CommandFailure("\(file): provider: expected \"s3\" or \"gcs\", the object stores the log can be shipped to")
        }
        let prefix = fields.removeValue(forKey: "prefix")?.stringValue ?? ""
        let bucket = fields["bucket"]?.stringValue ?? ""
        let store = try objectStore(provider, fields, named: file, ctx)
        return ShipDestination(url: "\(provider == "s3" ? "s3" : "gs")://\(bucket)/\(prefix)", store: store, prefix: prefix)
    }

    static func ship(_ args: Arguments, _ ctx: Context) async throws -> Int32 {
        let urls = args.values("--to")
        guard !urls.isEmpty else { throw UsageError("missing --to URL (s3://BUCKET/PREFIX or gs://BUCKET/PREFIX; give it once per bucket)") }
        let destinations = try urls.map { try destination($0, ctx) }
        let store = try ctx.openStore(creating: false)
        // One shipper at a time: the segments it writes are made with a proof that it holds
        // the shipping lease, as a step's changes are made with a proof that it holds its run.
        let engine = ctx.engine(store, detach: true, observer: nil)
        let proof: RunProof
        do {
            proof = try engine.shippingProof()
        } catch let e as StoreError where e.code == .leaseHeld {
            throw CommandFailure("another process ships this log now (\(e.holder ?? "unknown")); nothing shipped", code: ExitCode.busy)
        }
        defer { engine.releaseShipping() }
        var failed = false
        for d in destinations {
            do {
                let r = try await LogShipping.ship(store, to: d, proof: proof)
                if r.segments.isEmpty {
                    ctx.console.out("\(d.url): up to date (through event \(r.through))")
                } else {
                    ctx.console.out("\(d.url): shipped \(r.events) events in \(r.segments.count) segment\(r.segments.count == 1 ? "" : "s"), through event \(r.through)")
                }
            } catch let e as ShippingError {
                ctx.console.err("\(d.url): \(e.message)")
                failed = true
            } catch {
                ctx.console.err("\(d.url): could not ship: \(error)")
                failed = true
            }
        }
        return failed ? ExitCode.failure : ExitCode.ok
    }

    static func restore(_ args: Arguments, _ ctx: Context) async throws -> Int32 {
        guard let url = args["--from"] else { throw UsageError("missing --from URL") }
        let source = try destination(url, ctx)
        let store = try ctx.openStore(creating: true)
        guard let log = store as? ChainedStore else { throw CommandFailure("this log cannot be restored into (not a chained store)") }
        do {
            let r = try await LogShipping.restore(from: source, into: log)
            let head = r.head.map { "event \($0.seq), hash \(Hex.encode($0.hash).prefix(16))" } ?? "nothing"
            ctx.console.out("restored \(r.events) events from \(r.segments) segments of \(url) (\(r.checkpoints) checkpoints); the log ends at \(head). `cutover list` shows its runs; `cutover resume RUN` carries one on")
            return ExitCode.ok
        } catch let e as ShippingError {
            throw CommandFailure("\(e.message); nothing was restored")
        }
    }
}

/// The buckets `CUTOVER_SHIP_TO` names, shipped to by the drivers of this process before each
/// change, and every few seconds by workers and the scheduler.
struct BucketShipper: LogShipper {
    let log: any EventStore
    let destinations: [ShipDestination]

    init(log: any EventStore, destinations: [ShipDestination]) {
        self.log = log
        self.destinations = destinations
    }

    /// The shipper `CUTOVER_SHIP_TO` asks for, or nil when it is not set.
    static func configured(_ log: any EventStore, _ ctx: Context) throws -> BucketShipper? {
        let urls = LogCommands.shipURLs(ctx)
        guard !urls.isEmpty else { return nil }
        return BucketShipper(log: log, destinations: try urls.map { try LogCommands.destination($0, ctx) })
    }

    /// The configured shipper; when `CUTOVER_SHIP_TO` does not make sense, one that refuses
    /// every shipment with why, so that no change is made as if the log were shipped.
    static func orBroken(_ log: any EventStore, _ ctx: Context) -> (any LogShipper)? {
        do {
            return try configured(log, ctx)
        } catch {
            return MisconfiguredShipper(problem: "CUTOVER_SHIP_TO: \(error)")
        }
    }

    func ship(through seq: Int64, _ proof: RunProof) async throws {
        // Every time, even with nothing new: the bucket must still hold this log's own
        // continuation (another copy may have taken over since).
        for d in destinations { _ = try await LogShipping.ship(log, to: d, proof: proof) }
    }
}

extension LogCommands {
    /// Ships the log every `interval` while `stop` is not requested, holding the shipping
    /// lease while it writes; failures are said once until the next success.
    static func shipEvery(_ interval: Duration, _ shipper: BucketShipper, _ engine: Engine, stop: StopRequest, say: @escaping @Sendable (String) -> Void) async {
        var failing: String?
        while !stop.isRequested, !Task.isCancelled {
            do {
                if let head = try engine.store.head()?.seq {
                    try await shipper.ship(through: head, try engine.shippingProof())
                    if failing != nil { say("the log ships again") }
                    failing = nil
                }
            } catch let e as StoreError where e.code == .leaseHeld {
                // Another process of this log ships now.
            } catch {
                let text = "\(error)"
                if failing != text { say("the log cannot be shipped: \(text)") }
                failing = text
            }
            try? await Task.sleep(for: interval)
        }
        engine.releaseShipping()
    }
}

/// How far behind the log here one destination holds it: the log's RPO, were this machine lost now.
struct ShippingLag {
    var url: String
    var through: Int64 = 0
    var behindEvents: Int64 = 0
    var behindMillis: Int64 = 0
    var problem: String?

    var text: String {
        if let problem { return "log shipped to \(url): \(problem)" }
        if behindEvents == 0 { return "log shipped to \(url): up to date (event \(through))" }
        return "log shipped to \(url): through event \(through), \(behindEvents) event\(behindEvents == 1 ? "" : "s") (\(DurationText.format(.milliseconds(behindMillis)))) behind"
    }

    var json: JSONValue {
        var o: [String: JSONValue] = ["url": .string(url), "through": .int(through), "behindEvents": .int(behindEvents), "behindMillis": .int(behindMillis)]
        if let problem { o["problem"] = .string(problem) }
        return .object(o)
    }
}

extension LogCommands {
    /// For each bucket `CUTOVER_SHIP_TO` names: how far the shipped log is behind the log here.
    static func lag(_ store: any EventStore, _ ctx: Context) async -> [ShippingLag] {
        var out: [ShippingLag] = []
        for url in shipURLs(ctx) {
            var lag = ShippingLag(url: url)
            do {
                let d = try destination(url, ctx)
                let head = try store.head()?.seq ?? 0
                let shipped = try await LogShipping.shippedHead(d)
                lag.through = shipped?.last ?? 0
                if let shipped, shipped.last > head {
                    lag.problem = "it holds events up to \(shipped.last), beyond this log's \(head): another copy continues this log"
                } else if let shipped, try store.link(at: shipped.last)?.hash != shipped.hash {
                    lag.problem = "its event \(shipped.last) is not this log's: the two have parted"
                }
                lag.behindEvents = max(0, head - lag.through)
                if lag.behindEvents > 0 {
                    var times: [Int64] = []
                    try store.forEachRow(from: head, through: head) { times.append($0.atMillis) }
                    if lag.through > 0 { try store.forEachRow(from: lag.through, through: lag.through) { times.append($0.atMillis) } }
                    lag.behindMillis = times.count == 2 ? max(0, times[0] - times[1]) : 0
                }
            } catch {
                lag.problem = "\(error)"
            }
            out.append(lag)
        }
        return out
    }
}

/// What a driver ships with when `CUTOVER_SHIP_TO` names no usable bucket: it says why.
struct MisconfiguredShipper: LogShipper {
    let problem: String
    func ship(through seq: Int64, _ proof: RunProof) async throws { throw ShippingError(problem) }
}
