import CutoverCore
import CutoverCrypto
import CutoverProviders
import Foundation

/// `models.sync`: copies to the DR registry the artifacts of the primary's current manifest
/// that DR lacks, then DR's manifest. Each artifact goes once, under its digest
/// (`<blobs><sha256>`), create-only, streamed from one store into the other (memory stays flat
/// whatever the size), several at a time. The digest is checked as the bytes pass: a copy
/// whose SHA-256 is not the manifest's never sends its last byte (or is never completed), so
/// no object ever stands under a digest its bytes do not have; what the store says it got
/// (Cloud Storage's CRC32C, an S3 ETag that is an MD5) is then compared with what was sent.
///
/// Resumable: into a store with uploads in parts (S3) the copy records each part as it is
/// acknowledged, with the SHA-256 state so far, and an attempt after a crash sends only the
/// parts not yet there; into Cloud Storage an unfinished artifact is sent again whole.
/// Compensation puts DR's manifest back as it was; the artifacts copied stay (stored once by
/// digest, nothing serves them until a manifest names them).
public struct ModelsSync: StepType {
    public struct Output: Codable, Sendable, Equatable {
        public var model: String
        public var version: String?
        public var artifacts: Int
        /// Artifacts DR already held, and those copied now.
        public var present: Int
        public var copied: Int
        public var bytesCopied: Int64
        /// Bytes of parts an earlier attempt had sent, not sent again.
        public var bytesResumed: Int64
        /// The SHA-256 of the manifest written to DR, nil when DR's was already the same.
        public var manifestWritten: String?
    }

    /// DR's manifest before the step wrote it (base64; nil when there was none).
    public struct Before: Codable, Sendable, Equatable {
        public var manifest: String?
    }

    /// What an upload in parts recorded after each part, to be taken up after a crash: the
    /// store's own list of parts says what arrived; this says how many were checked.
    struct PartsCheckpoint: Codable, Sendable {
        var upload: String
        var partSize: Int64
        /// Parts 1 through this one were sent and their MD5s checked.
        var parts: Int
        /// The SHA-256 state after them (`ResumableSHA256.state`).
        var sha256: String
    }

    public static let name = "models.sync"

    public static func change(_ o: Output) -> String? {
        "\(o.model)\(o.version.map { " \($0)" } ?? ""): \(o.copied) of \(o.artifacts) artifacts copied (\(o.bytesCopied) bytes), \(o.present) already there"
            + (o.manifestWritten.map { "; manifest written (sha256 \($0.prefix(12)))" } ?? "; manifest unchanged")
    }
    public static let summary = "Copies to the DR model registry, content-addressed and create-only, the artifacts of the primary's current manifest that DR lacks, checking each digest as the bytes pass, then writes the manifest; resumable by artifact and by part."
    public static let kind = StepKind.compensable
    public static let compensation: String? = "puts DR's manifest back as it was (the artifacts copied stay, stored once by digest)"
    static let primary = Param<ProviderTarget>.target("primary", .objectStore, "the registry to copy from, like \"${runbook.primary.models}\"")
    static let dr = Param<ProviderTarget>.target("dr", .objectStore, "the registry to copy to, like \"${runbook.dr.models}\"")
    static let manifest = Param<String>.string("manifest", "the key of the current model manifest, like recsys/current.json (read from primary, written to dr last)")
    static let blobs = Param<String>.string("blobs", default: "blobs/sha256/", "where artifacts are kept by digest on dr")
    static let parallel = Param<Int>.integer("parallel", 1...16, default: 4, "how many artifacts are copied at once")
    static let partSize = Param<Int>.integer("partSizeMiB", 5...5_120, default: 64, "the part size, in MiB, of uploads in parts (S3); larger artifacts go in parts")
    public static let schema = StepSchema(primary, dr, manifest, blobs, parallel, partSize)

    let providers: ProviderCatalog
    public init(providers: ProviderCatalog) { self.providers = providers }

    struct Job: Sendable {
        var artifact: ModelManifest.Artifact
        var source: StoredObject
    }

    /// The manifest the step copies from, and both registries' listings.
    public func preflight(_ p: StepParameters, _ ctx: any StepContext) async throws -> String? {
        let src = try providers.objectStore(try p[Self.primary], ctx)
        let dst = try providers.objectStore(try p[Self.dr], ctx)
        let manifestKey = try p[Self.manifest]
        let manifest = try await ModelManifest.read(src, manifestKey)
        _ = try await RegistryCheck.open(src, blobs: try p[Self.blobs])
        let to = try await RegistryCheck.open(dst, blobs: try p[Self.blobs])
        let bytes = manifest.artifacts.compactMap(\.bytes).reduce(0, +)
        let there = manifest.artifacts.filter { to.listed[to.address($0)] != nil }.count
        return "\(src.url(manifestKey)) names \(manifest.artifacts.count) artifacts (\(bytes) bytes\(manifest.version.map { ", version \($0)" } ?? "")); \(there) already stand under their digest at \(dst.target)"
    }

    public func execute(_ p: StepParameters, _ ctx: any StepContext) async throws -> Output {
        let src = try providers.objectStore(try p[Self.primary], ctx)
        let dst = try providers.objectStore(try p[Self.dr], ctx)
        let manifestKey = try p[Self.manifest]
        let blobs = try p[Self.blobs]
        let manifest = try await ModelManifest.read(src, manifestKey)
        let from = try await RegistryCheck.open(src, blobs: blobs)
        let to = try await RegistryCheck.open(dst, blobs: blobs)

        var jobs: [Job] = []
        var seen: Set<String> = []
        var present = 0
        for a in manifest.artifacts where seen.insert(a.sha256).inserted {
            guard let source = try await from.locate(a) else {
                throw StepError(code: "models-missing-at-source", message: "\(src.target) lacks \(a.path) (nor holds \(src.url(from.address(a)))), which \(src.url(manifestKey)) names; fix the primary's registry first", retryable: false)
            }
            if let bytes = a.bytes, bytes != source.size {
                throw StepError(code: "models-differ-at-source", message: "\(src.url(source.key)) has \(source.size) bytes, but \(src.url(manifestKey)) says \(bytes); fix the primary's registry first", retryable: false)
            }
            switch try await to.judge(a, primary: source) {
            case .checkedByName, .sameMD5, .hashed:
                present += 1
            case .differs(let key, let why) where key == to.address(a):
                throw StepError(
                    code: "blob-corrupt",
                    message: "\(dst.url(key)) stands under the digest \(a.sha256.prefix(12))… but \(why); cutover never overwrites an artifact: look at it, delete it, and run the step again",
                    retryable: false)
            case .differs, .missing:
                jobs.append(Job(artifact: a, source: source))
            }
        }
        let total = jobs.reduce(Int64(0)) { $0 + $1.source.size }
        let meter = CopyMeter(total: total, artifacts: jobs.count, start: ctx.now())
        if !jobs.isEmpty {
            try await ctx.note("copying \(jobs.count) of \(ByteCount.plural(seen.count, "artifact")) (\(ByteCount.text(total))) from \(src.target) to \(dst.target), \(try p[Self.parallel]) at a time")
        }
        let copier = Copier(src: src, dst: dst, to: to, partSize: Int64(try p[Self.partSize]) << 20, meter: meter, recorded: await ctx.recordedProgress())
        let width = try p[Self.parallel]
        copier.latest.set(try await ctx.proof())
        let work = jobs
        let copies = Task {
            try await withThrowingTaskGroup(of: Void.self) { group in
                var next = 0
                var running = 0
                while next < work.count || running > 0 {
                    while running < width, next < work.count {
                        let job = work[next]
                        group.addTask { try await copier.copy(job, ctx) }
                        next += 1
                        running += 1
                    }
                    try await group.next()
                    running -= 1
                }
            }
        }
        // The lease is proved again every two seconds while bytes move: a copy's last byte (what
        // makes the object) is sent only under a proof still good, and a lease lost stops the
        // copies at once instead of at their ends.
        let keeper = Task {
            while !Task.isCancelled {
                try await Task.sleep(for: .seconds(2))
                do {
                    copier.latest.set(try await ctx.proof())
                } catch {
                    copies.cancel()
                    throw error
                }
                if let line = meter.line(now: ctx.now()) {
                    try await ctx.progress(line, key: "copy", data: .object(["bytes": .int(meter.bytes), "total": .int(total)]))
                }
            }
        }
        do {
            try await withTaskCancellationHandler {
                try await copies.value
            } onCancel: {
                copies.cancel()
            }
        } catch {
            keeper.cancel()
            // The lease lost, when that is what stopped the copies, is what the step says.
            if case .failure(let lost) = await keeper.result, !(lost is CancellationError) { throw lost }
            throw error
        }
        keeper.cancel()
        _ = await keeper.result
        if !jobs.isEmpty {
            try await ctx.progress(meter.line(now: ctx.now(), final: true) ?? "copied", key: "copy", data: .object(["bytes": .int(meter.bytes), "total": .int(total)]))
        }

        // The manifest last: DR names the model only once every artifact is there.
        var written: String?
        let current = try await calling("reading \(dst.url(manifestKey))") { try await dst.head(manifestKey) }
        let currentBytes = current == nil ? nil : try await calling("reading \(dst.url(manifestKey))") { try await dst.read(manifestKey, limit: 8 << 20) }
        if currentBytes != manifest.raw {
            _ = try await ctx.recordBefore(Before.self) { Before(manifest: currentBytes.map { Data($0).base64EncodedString() }) }
            let proof = try await ctx.proof()
            guard try await calling("writing \(dst.url(manifestKey))", { try await dst.replace(manifestKey, bytes: manifest.raw, current: current, proof) }) else {
                throw StepError(code: "manifest-changed-underneath", message: "\(dst.url(manifestKey)) changed while cutover was writing it; someone else is syncing models: look, then run the step again", retryable: true)
            }
            written = Hex.encode(SHA256.hash(manifest.raw))
        }
        let out = Output(
            model: manifest.name(or: manifestKey), version: manifest.version, artifacts: seen.count, present: present, copied: jobs.count,
            bytesCopied: meter.bytes, bytesResumed: meter.resumed, manifestWritten: written)
        try await ctx.note("\(dst.target) holds \(out.model): \(ByteCount.plural(present, "artifact")) there already, \(jobs.count) copied (\(ByteCount.text(out.bytesCopied))\(out.bytesResumed > 0 ? ", \(ByteCount.text(out.bytesResumed)) already sent before a restart" : "")); manifest \(written == nil ? "unchanged" : "written")")
        return out
    }

    public func compensate(_ p: StepParameters, _ output: Output, _ ctx: any StepContext) async throws {
        guard let written = output.manifestWritten else { return }
        let dst = try providers.objectStore(try p[Self.dr], ctx)
        let key = try p[Self.manifest]
        guard let before = await ctx.recordedBefore(Before.self) else { return }
        guard let current = try await calling("reading \(dst.url(key))", { try await dst.head(key) }) else {
            try await ctx.note("\(dst.url(key)) is gone already; nothing to put back")
            return
        }
        let bytes = try await calling("reading \(dst.url(key))") { try await dst.read(key, limit: 8 << 20) } ?? []
        guard Hex.encode(SHA256.hash(bytes)) == written else {
            try await ctx.note("\(dst.url(key)) changed since this run wrote it; left as it is")
            return
        }
        let proof = try await ctx.proof()
        if let old = before.manifest.flatMap({ Data(base64Encoded: $0) }) {
            guard try await calling("writing \(dst.url(key))", { try await dst.replace(key, bytes: Array(old), current: current, proof) }) else {
                throw StepError(code: "manifest-changed-underneath", message: "\(dst.url(key)) changed while cutover was putting it back; look, then roll back again", retryable: true)
            }
            try await ctx.note("\(dst.url(key)) put back as it was")
        } else {
            guard try await calling("deleting \(dst.url(key))", { try await dst.delete(key, current: current, proof) }) else {
                throw StepError(code: "manifest-changed-underneath", message: "\(dst.url(key)) changed while cutover was deleting it; look, then roll back again", retryable: true)
            }
            try await ctx.note("\(dst.url(key)) deleted: there was none before")
        }
    }
}
