@_spi(RunProof) import CutoverCore
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
    /// The lease stream a shipper holds while it writes: one shipper at a time per log.
    static let shipStream = "log:ship"

    /// A bucket URL as each cloud's own tools take it: `s3://BUCKET/PREFIX` (endpoint from
    /// `AWS_ENDPOINT_URL`, region from `AWS_REGION`, credentials from `AWS_ACCESS_KEY_ID` /
    /// `AWS_SECRET_ACCESS_KEY`), `gs://BUCKET/PREFIX` (endpoint from `STORAGE_EMULATOR_HOST`,
    /// credentials from `GOOGLE_APPLICATION_CREDENTIALS`).
    static func destination(_ url: String, _ ctx: Context) throws -> ShipDestination {
        let env = ctx.environment
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
        let http = HTTPClient()
        let context = PreflightContext(
            stepID: "log", mode: .live, startedBy: ctx.actor, vault: SecretVault(sources: Composition.secretSources(environment: env)),
            secrets: Preflight.Collector())
        do {
            let store = try Composition.providers(http: http).objectStore(ProviderTarget(provider: provider, fields: fields), context)
            return ShipDestination(url: url, store: store, prefix: prefix)
        } catch let e as StepError {
            throw CommandFailure("\(TerminalText.escaped(url)): \(e.message)")
        }
    }

    static func ship(_ args: Arguments, _ ctx: Context) async throws -> Int32 {
        let urls = args.values("--to")
        guard !urls.isEmpty else { throw UsageError("missing --to URL (s3://BUCKET/PREFIX or gs://BUCKET/PREFIX; give it once per bucket)") }
        let destinations = try urls.map { try destination($0, ctx) }
        let store = try ctx.openStore(creating: false)
        // One shipper at a time: the segments it writes are made with a proof that it holds
        // the shipping lease, as a step's changes are made with a proof that it holds its run.
        let ttl = Duration.seconds(60)
        let clock = SystemClock()
        let before = clock.uptime()
        do {
            try store.acquireLease(run: shipStream, owner: ctx.owner, now: Date(), ttl: ttl, isGone: { ProcessIdentity.isGone($0) })
        } catch let e as StoreError where e.code == .leaseHeld {
            throw CommandFailure("another process ships this log now (\(e.holder ?? "unknown")); nothing shipped", code: ExitCode.busy)
        }
        defer { try? store.releaseLease(run: shipStream, owner: ctx.owner) }
        let proof = RunProof(
            runID: shipStream, holder: ctx.owner, epoch: Int64(Date().timeIntervalSince1970 * 1_000) + ttl.milliseconds,
            validUntil: before + ttl - .seconds(10), uptime: { clock.uptime() })
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
