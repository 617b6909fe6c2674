import CutoverAWS
import CutoverCore
import CutoverCrypto
import CutoverEngine
import CutoverGoogle
import CutoverNet
import CutoverProviders
import CutoverSQLite
import CutoverSteps
import Foundation

/// Figure 7: `models.sync` of about a gigabyte in several artifacts from moto (S3) to
/// fake-gcs-server (Cloud Storage), the sandbox's, against `curl` streaming each GET into a
/// POST between the same two servers, as many at a time; the copy's peak memory; and a copy
/// killed half way and run again. Works in buckets of its own, so the sandbox's tests and
/// resets never touch it.
enum ModelsFigure {
    static let moto = "http://127.0.0.1:15000"
    static let gcs = "http://127.0.0.1:14443"
    static let bucket = "cutover-bench-models"
    static let parallel = 4

    struct Setup: Codable {
        var manifest: String
        var blobs: String
        /// The database the child's engine records the run in.
        var database: String = ""
        /// Copies at once.
        var parallel: Int = ModelsFigure.parallel

        var artifacts: Int
        var bytes: Int64
    }

    static var providers: ProviderCatalog {
        let http = HTTPClient()
        return ProviderCatalog(AWSProviders.adapters(http: http) + GoogleProviders.adapters(http: http))
    }

    static func sourceTarget() -> ProviderTarget {
        ProviderTarget(provider: "s3", fields: ["endpoint": .string(moto), "region": .string("us-east-1"), "bucket": .string(bucket)])
    }

    static func destinationTarget() -> ProviderTarget {
        ProviderTarget(provider: "gcs", fields: ["endpoint": .string(gcs), "credentials": .string("none"), "bucket": .string(bucket)])
    }

    /// Whether the sandbox's moto and fake-gcs-server answer.
    static func available() -> Bool {
        curl(["-sf", "-o", "/dev/null", moto + "/moto-api/"]) == 0 && curl(["-sf", "-o", "/dev/null", gcs + "/storage/v1/b"]) == 0
    }

    @discardableResult
    static func curl(_ args: [String], stdin: String? = nil) -> Int32 {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["curl", "--noproxy", "*"] + args
        p.standardOutput = FileHandle.nullDevice
        p.standardError = FileHandle.nullDevice
        guard (try? p.run()) != nil else { return -1 }
        p.waitUntilExit()
        return p.terminationStatus
    }

    static func sh(_ script: String) throws {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/bin/bash")
        p.arguments = ["-c", "set -euo pipefail; " + script]
        try p.run()
        p.waitUntilExit()
        guard p.terminationStatus == 0 else { throw BenchError("models figure: `\(script.prefix(120))` failed") }
    }

    /// The buckets, `count` artifacts of `size` incompressible bytes on moto and their manifest.
    static func prepare(dir: URL, count: Int, size: Int) throws -> Setup {
        // Readable without a signature, so the baseline's curl can GET what cutover GETs signed.
        curl(["-sf", "-X", "PUT", "-H", "x-amz-acl: public-read", moto + "/" + bucket])
        curl(["-sf", "-X", "POST", "-H", "Content-Type: application/json", "--data", #"{"name": "\#(bucket)"}"#, gcs + "/storage/v1/b?project=bench"])
        let prefix = "bench-\(UUID().uuidString.prefix(8).lowercased())/"
        var list: [JSONValue] = []
        for i in 0..<count {
            let file = dir.appendingPathComponent("artifact-\(i).bin")
            try sh("head -c \(size) /dev/urandom > '\(file.path)'")
            let digest = try digestOf(file)
            let key = "\(prefix)v1/shard-\(i).bin"
            try sh("curl --noproxy '*' -sf -X PUT -H 'Content-Type: application/octet-stream' -H 'x-amz-acl: public-read' -H 'Expect:' --data-binary @'\(file.path)' '\(moto)/\(bucket)/\(key)' -o /dev/null")
            try FileManager.default.removeItem(at: file)
            list.append(.object(["path": .string(key), "sha256": .string(digest), "bytes": .int(Int64(size))]))
        }
        let manifest = JSONValue.object(["model": .string("bench"), "version": .string("v1"), "artifacts": .array(list)]).canonicalString
        let mfile = dir.appendingPathComponent("manifest.json")
        try Data(manifest.utf8).write(to: mfile)
        try sh("curl --noproxy '*' -sf -X PUT -H 'Content-Type: application/json' --data-binary @'\(mfile.path)' '\(moto)/\(bucket)/\(prefix)current.json' -o /dev/null")
        return Setup(manifest: prefix + "current.json", blobs: prefix + "blobs/sha256/", artifacts: count, bytes: Int64(count) * Int64(size))
    }

    static func digestOf(_ file: URL) throws -> String {
        let handle = try FileHandle(forReadingFrom: file)
        defer { try? handle.close() }
        let h = ResumableSHA256()
        while let chunk = try handle.read(upToCount: 4 << 20), !chunk.isEmpty { h.update([UInt8](chunk)) }
        return h.finish()
    }

    /// The baseline: each artifact piped by curl from moto into fake-gcs-server, `parallel` at a
    /// time. `multipart`: the GET streamed inside a multipart upload's body, the request
    /// cutover itself must send (metadata and bytes in one create-only request); else a media
    /// upload, the fastest the emulator takes.
    static func curlCopy(_ s: Setup, into prefix: String, multipart: Bool) throws -> Duration {
        let clock = ContinuousClock()
        let start = clock.now
        let keys = (0..<s.artifacts).map { "'\(s.manifest.dropLast("current.json".count))v1/shard-\($0).bin'" }.joined(separator: " ")
        let get = "curl --noproxy '*' -sf '\(moto)/\(bucket)/{}'"
        let post = "curl --noproxy '*' -sf -X POST -T - -H 'Expect:' -o /dev/null"
        let pipe = multipart
            ? #"{ printf -- '--B\r\nContent-Type: application/json\r\n\r\n{\"name\": \"\#(prefix){}\"}\r\n--B\r\nContent-Type: application/octet-stream\r\n\r\n'; \#(get); printf -- '\r\n--B--\r\n'; } | \#(post) -H 'Content-Type: multipart/related; boundary=B' '\#(gcs)/upload/storage/v1/b/\#(bucket)/o?uploadType=multipart&ifGenerationMatch=0'"#
            : "\(get) | \(post) -H 'Content-Type: application/octet-stream' '\(gcs)/upload/storage/v1/b/\(bucket)/o?uploadType=media&name=\(prefix){}'"
        let script = "set -o pipefail; " + pipe
        try sh("printf '%s\\n' \(keys) | xargs -P \(parallel) -I{} bash -c \(shellQuoted(script))")
        return clock.now - start
    }

    static func shellQuoted(_ s: String) -> String { "'" + s.replacingOccurrences(of: "'", with: #"'\''"#) + "'" }

    /// Deletes everything under `prefix` of the Cloud Storage bucket (fake-gcs-server holds it
    /// in memory), through its JSON API: the benchmark's own housekeeping, not a step's.
    static func clear(_ prefix: String) async throws {
        let store = try providers.objectStore(destinationTarget(), ListingContext())
        for o in try await store.list(prefix: prefix) {
            curl(["-sf", "-X", "DELETE", "\(gcs)/storage/v1/b/\(bucket)/o/\(URLText.percentEncoded(o.key))"])
        }
    }

    /// In the child: one run of a one-step `models.sync` workflow, driven by the engine on its
    /// own SQLite log (proofs, progress events and all); prints {"ms", "rss", "bytes"}.
    static func child(_ setupFile: String) async throws -> [String: JSONValue] {
        let s = try JSONDecoder().decode(Setup.self, from: Data(contentsOf: URL(fileURLWithPath: setupFile)))
        // moto takes any key; the S3 target reads the default references.
        for name in ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"] where ProcessInfo.processInfo.environment[name] == nil { setenv(name, "bench", 1) }
        let catalog = providers
        let registry = StepRegistry([AnyStepType(ModelsSync(providers: catalog))])
        let source = #"{"provider": "s3", "endpoint": "\#(moto)", "region": "us-east-1", "bucket": "\#(bucket)"}"#
        let destination = #"{"provider": "gcs", "endpoint": "\#(gcs)", "credentials": "none", "bucket": "\#(bucket)"}"#
        let runbook = try Runbook.load(
            file: "bench-models-runbook.json",
            data: Data(#"{"service": "bench-models-\#(UUID().uuidString.prefix(8))", "primary": {"models": \#(source)}, "dr": {"models": \#(destination)}}"#.utf8),
            providers: catalog.schemas)
        let workflow = try Workflow.load(
            file: "bench-models-sync.json",
            data: Data(#"""
                {"name": "models-sync", "steps": [{"id": "sync", "type": "models.sync", "with": {"primary": "${runbook.primary.models}", "dr": "${runbook.dr.models}",
                 "manifest": "\#(s.manifest)", "blobs": "\#(s.blobs)", "parallel": \#(s.parallel)}}]}
                """#.utf8),
            registry: registry)
        let store = try SQLiteStore.open(path: s.database)
        let engine = Engine(
            store: store, registry: registry, clock: SystemClock(), ids: RandomIDs(),
            configuration: EngineConfiguration(owner: "bench:\(ProcessInfo.processInfo.processIdentifier)", actor: "cutover@bench"))
        let id = try engine.start(Engine.StartRequest(workflow: workflow, runbook: runbook, mode: .live, startedBy: "bench", workflowDigest: "-", runbookDigest: "-"))
        let clock = ContinuousClock()
        resetPeakRSS()
        let start = clock.now
        let state = try await engine.drive(id)
        let took = clock.now - start
        guard state.status == .succeeded, let out = state.steps["sync"]?.output else {
            throw BenchError("the models.sync run ended \(state.status.rawValue): \(state.steps["sync"]?.lastError?.message ?? "")")
        }
        return ["ms": .double(took.seconds * 1_000), "rss": .double(peakSinceResetMB() ?? peakRSSMB()), "bytes": .double(out["bytesCopied"]?.doubleValue ?? 0)]
    }

    static func results(_ options: Options, dir: URL, child: ([String], (() -> Bool)?) throws -> [String: JSONValue]?) async throws -> [Result] {
        let count = 8
        let size = options.smoke ? 4 << 20 : 128 << 20
        guard available() else {
            if options.smoke {
                return [Result(figure: "models.sync", value: Stat([0]), unit: "MB/s", budget: "skipped", met: nil, note: "the sandbox is not up (scripts/sandbox up)")]
            }
            throw BenchError("the models.sync figure copies between the sandbox's moto and fake-gcs-server: run scripts/sandbox up first (scripts/bench does)")
        }
        let s = try prepare(dir: dir, count: count, size: size)
        let setupFile = dir.appendingPathComponent("models-setup.json").path
        var syncRates: [Double] = [], curlRates: [Double] = [], mediaRates: [Double] = [], peaks: [Double] = []
        let mb = Double(s.bytes) / 1_048_576
        for i in 0..<max(3, options.reps - 1) {
            // In turns, each against fresh destinations, so all see the same servers.
            var took: [Duration] = []
            for multipart in [true, false] {
                let basePrefix = "curl-\(i)-\(multipart)/"
                took.append(try curlCopy(s, into: basePrefix, multipart: multipart))
                // A baseline counts only if it copied every byte.
                let copied = try await providers.objectStore(destinationTarget(), ListingContext()).list(prefix: basePrefix)
                guard copied.count == s.artifacts, copied.reduce(0, { $0 + $1.size }) == s.bytes else {
                    throw BenchError("the curl baseline copied \(copied.count) objects, \(copied.reduce(0) { $0 + $1.size }) bytes, not \(s.artifacts) and \(s.bytes)")
                }
                try await clear(basePrefix)
            }
            var run = s
            run.blobs = "sync-\(i)/blobs/sha256/"
            run.database = dir.appendingPathComponent("models-\(i).sqlite").path
            try JSONEncoder().encode(run).write(to: URL(fileURLWithPath: setupFile))
            guard let c = try child([setupFile], nil), let ms = c["ms"]?.doubleValue else { throw BenchError("the models.sync child failed") }
            try await clear("sync-\(i)/")
            try await clear(s.manifest)
            if i > 0 {
                curlRates.append(mb / took[0].seconds)
                mediaRates.append(mb / took[1].seconds)
                syncRates.append(mb / (ms / 1_000))
                peaks.append(c["rss"]?.doubleValue ?? 0)
            }
        }
        let ratio = Stat(zip(syncRates, curlRates).map { $0 / $1 }).median
        var out = [Result(
            figure: "models.sync of \(Int(mb)) MiB in \(count) artifacts, moto to fake-gcs-server, \(parallel) at a time", value: Stat(syncRates), unit: "MiB/s",
            baseline: Stat(curlRates), baselineName: "curl GET streamed into a multipart POST (the same request), same servers", ratio: ratio, budget: ">= 0.8 of curl",
            met: ratio >= 0.8, peakMB: peaks.max(),
            note: String(
                format: "peak memory of the copying process, whatever the artifact size (%d MiB each); curl into a media upload (no metadata, and the emulator ignores its create-only precondition): %.0f MiB/s, ratio %.2f",
                size >> 20, Stat(mediaRates).median, Stat(zip(syncRates, mediaRates).map { $0 / $1 }).median))]

        // Killed half way (SIGKILL once half the artifacts stand), then run again. One copy at a
        // time, so that the kill lands while one is in flight whatever the sizes.
        var run = s
        run.parallel = 1
        run.blobs = "resume/blobs/sha256/"
        run.database = dir.appendingPathComponent("models-killed.sqlite").path
        try JSONEncoder().encode(run).write(to: URL(fileURLWithPath: setupFile))
        let store = try providers.objectStore(destinationTarget(), ListingContext())
        nonisolated(unsafe) var finishedAtKill = 0
        _ = try child([setupFile]) {
            let n = (try? blockingList(store, "resume/blobs/sha256/").count) ?? 0
            finishedAtKill = n
            return n >= count / 2
        }
        let standing = try blockingList(store, "resume/blobs/sha256/").count
        run.database = dir.appendingPathComponent("models-again.sqlite").path
        run.parallel = parallel
        try JSONEncoder().encode(run).write(to: URL(fileURLWithPath: setupFile))
        guard let again = try child([setupFile], nil), let copied = again["bytes"]?.doubleValue else { throw BenchError("the resumed models.sync child failed") }
        try await clear("resume/")
        try await clear(s.manifest)
        let unfinished = Double(count - standing) * Double(size)
        out.append(Result(
            figure: "models.sync killed half way (SIGKILL), then run again", value: Stat([copied / 1_048_576]), unit: "MiB copied again",
            baseline: Stat([unfinished / 1_048_576]), baselineName: "the unfinished artifacts' bytes", ratio: copied / max(1, unfinished),
            budget: "only the unfinished artifacts", met: copied <= unfinished, peakMB: nil,
            note: "\(standing) of \(count) artifacts stood when killed (\(finishedAtKill) seen by the watcher)"))
        return out
    }

    /// A listing from synchronous code (the watcher of a child process).
    static func blockingList(_ store: any ObjectStore, _ prefix: String) throws -> [StoredObject] {
        let box = ListBox()
        let done = DispatchSemaphore(value: 0)
        Task {
            do { box.result = .success(try await store.list(prefix: prefix)) } catch { box.result = .failure(error) }
            done.signal()
        }
        done.wait()
        return try box.result?.get() ?? []
    }
}

private final class ListBox: @unchecked Sendable {
    var result: Swift.Result<[StoredObject], Error>?
}

/// What making an adapter needs from a step context (its secrets), for the benchmark's own
/// listings. It cannot prove anything: only the engine makes proofs.
struct ListingContext: StepContext {
    let runID = "bench-listing"
    let stepID = "listing"
    let attempt = 1
    let mode = RunMode.live
    let startedBy = "bench"
    var idempotencyKey: String { "\(runID)/\(stepID)" }

    func now() -> Date { Date() }
    func sleep(until deadline: Date) async throws {}
    func durableTimer(_ name: String, duration: Duration) async throws {}
    func awaitApprovals(required: Int, approvers: [Approver]) async throws -> [String] { [] }
    func currentApprovals() async -> [String] { [] }
    func secret(_ reference: String) throws -> String { throw StepError(code: "no-secrets", message: "the benchmark's listings take no secrets", retryable: false) }
    func recordBefore(_ read: @Sendable () async throws -> JSONValue) async throws -> JSONValue { try await read() }
    func recordedBefore() async -> JSONValue? { nil }
    func note(_ message: String) async throws {}
    func progress(_ message: String, key: String, data: JSONValue, inPlace: JSONValue?) async throws {}
    func recordedProgress() async -> [String: JSONValue] { [:] }
    func proof() async throws -> RunProof { throw StepError(code: "no-proof", message: "the benchmark's listings change nothing", retryable: false) }
}
