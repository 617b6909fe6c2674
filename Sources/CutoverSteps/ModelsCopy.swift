import CutoverCore
import CutoverCrypto
import CutoverProviders
import Foundation

/// Copies artifacts for `models.sync`, one object store into another.
struct Copier: Sendable {
    let src: any ObjectStore
    let dst: any ObjectStore
    let to: RegistryCheck
    let partSize: Int64
    let meter: CopyMeter
    /// What earlier attempts recorded (`PartsCheckpoint`s under `upload:<sha256>`).
    let recorded: [String: JSONValue]
    let latest = LatestProof()

    func copy(_ job: ModelsSync.Job, _ ctx: any StepContext) async throws {
        let a = job.artifact
        if job.source.size == 0 {
            guard a.sha256 == Hex.encode(SHA256.hash([UInt8]())) else {
                throw StepError(code: "copy-digest", message: "\(src.url(job.source.key)) is empty, which is not the digest \(a.sha256.prefix(12))… the manifest names", retryable: false)
            }
        }
        if let parts = dst.parts, job.source.size > partSize {
            // S3 takes at most 10,000 parts: a larger artifact goes in larger parts (whole MiB).
            let least = (job.source.size + 9_999) / 10_000
            let size = max(partSize, ((least + (1 << 20) - 1) >> 20) << 20)
            try await copyInParts(job, parts, partSize: size, ctx)
        } else {
            try await copyWhole(job, ctx)
        }
    }

    /// One request: the whole artifact streamed from source to destination.
    private func copyWhole(_ job: ModelsSync.Job, _ ctx: any StepContext) async throws {
        let a = job.artifact, key = to.address(a)
        let reports = dst.reports
        let hash = StreamHash(also: reports)
        let result = DigestBox()
        let latest = self.latest
        let channel = ByteChannel(atEnd: {
            let md5 = reports == .md5 ? hash.takeMD5() : nil
            let sha = hash.finish()
            result.set(md5: md5, crc32c: hash.crc32c)
            guard sha == a.sha256 else {
                return CopyError(reason: "the bytes read from \(src.url(job.source.key)) have SHA-256 \(sha.prefix(12))…, not \(a.sha256.prefix(12))… as the manifest says; nothing was written")
            }
            // The last byte makes the object: only under a proof still good.
            guard let proof = latest.current else { return StepError(code: "proof-expired", message: "no proof of holding the run was made for writing \(dst.url(key))", retryable: true) }
            do { try proof.check(doing: "writing \(dst.url(key))") } catch { return error }
            return nil
        })
        let proof = try await ctx.proof()
        let stored = try await pipe(job.source, range: nil, hash: hash, channel: channel) {
            try await dst.create(key, length: job.source.size, from: channel, checkedSHA256: a.sha256, proof)
        }
        guard let stored else { return try await judgeTheOneThere(job) }
        // What the store says it received, against what was sent.
        var damaged: String?
        if let theirs = stored.checksum, theirs.hasPrefix("md5:"), let md5 = result.md5, theirs != "md5:" + Hex.encode(md5) {
            damaged = "MD5 \(theirs.dropFirst(4))"
        }
        if let theirs = stored.crc32c, let mine = result.crc32c, theirs != mine {
            damaged = String(format: "CRC32C %08x", theirs)
        }
        if let damaged { try await removeDamaged(stored, what: damaged, ctx) }
        meter.finished()
    }

    /// A create-only write found an object there already (another run wrote it first): it
    /// counts only if it passes as ours would, judged as it stands now.
    private func judgeTheOneThere(_ job: ModelsSync.Job) async throws {
        let a = job.artifact, key = to.address(a)
        let now = try await calling("reading \(dst.url(key))") { try await dst.head(key) }
        let fresh = RegistryCheck(store: dst, blobs: to.blobs, listed: now.map { [key: $0] } ?? [:])
        guard try await fresh.judge(a, primary: job.source).present else {
            throw StepError(code: "blob-corrupt", message: "\(dst.url(key)) appeared while cutover copied it, and its bytes are not the digest it is named by; look at it, delete it, and run the step again", retryable: false)
        }
    }

    /// The store says it received other bytes than were sent: the object goes, or the step
    /// stops for a person, since its mark would vouch for it.
    private func removeDamaged(_ stored: StoredObject, what: String, _ ctx: any StepContext) async throws -> Never {
        let gone = (try? await dst.delete(stored.key, current: stored, try await ctx.proof())) ?? false
        guard gone else {
            throw StepError(
                code: "blob-corrupt",
                message: "\(dst.url(stored.key)) was stored with \(what), not that of the bytes sent, and could not be deleted; delete it by hand before anything trusts it, then run the step again",
                retryable: false)
        }
        throw StepError(code: "copy-damaged", message: "\(dst.url(stored.key)) was stored with \(what), not that of the bytes sent; it was deleted, run the step again", retryable: true)
    }

    /// Parts that outlive this process: each acknowledged part is recorded with the SHA-256
    /// state after it, so an attempt after a crash sends only the rest.
    private func copyInParts(_ job: ModelsSync.Job, _ parts: any PartedUploads, partSize: Int64, _ ctx: any StepContext) async throws {
        let a = job.artifact, key = to.address(a), size = job.source.size
        let progressKey = "upload:\(a.sha256)"
        var checkpoint: ModelsSync.PartsCheckpoint?
        var sent: [UploadedPart] = []
        var hasher = ResumableSHA256()
        if let saved = try? recorded[progressKey]?.decode(ModelsSync.PartsCheckpoint.self) {
            // The store's list of the upload's parts is the record of what arrived; the event
            // says how many of them were checked (their MD5 against what was sent) and holds
            // the SHA-256 state after them.
            let listed = try await calling("listing the parts of \(dst.url(key))") { try await parts.parts(key, upload: saved.upload) }
            let kept = listed.map { l in Array(l.prefix { $0.number <= saved.parts }) } ?? []
            let whole = kept.count == saved.parts && kept.enumerated().allSatisfy { $0.element.number == $0.offset + 1 && $0.element.size == saved.partSize }
            if listed != nil, whole, saved.partSize == partSize, let h = ResumableSHA256(state: saved.sha256), h.byteCount == Int64(saved.parts) * partSize {
                checkpoint = saved
                sent = kept
                hasher = h
            } else if listed != nil {
                let proof = try await ctx.proof()
                _ = try? await parts.abort(key, upload: saved.upload, proof)
            }
        }
        if checkpoint == nil {
            let proof = try await ctx.proof()
            let upload = try await calling("starting an upload to \(dst.url(key))") { try await parts.start(key, checkedSHA256: a.sha256, proof) }
            checkpoint = ModelsSync.PartsCheckpoint(upload: upload, partSize: partSize, parts: 0, sha256: hasher.state ?? "")
            try await ctx.progress("\(dst.url(key)): upload started", key: progressKey, data: try JSONValue.encode(checkpoint))
        }
        guard var cp = checkpoint else { return }
        var offset = sent.reduce(Int64(0)) { $0 + $1.size }
        if offset > 0 {
            meter.resumed(offset)
            try await ctx.note("\(dst.url(key)): taking up the upload at part \(sent.count + 1): \(ByteCount.text(offset)) already there")
        }
        let hash = StreamHash(resuming: hasher, also: .md5)
        let count = Int((size + partSize - 1) / partSize)
        while offset < size {
            let number = sent.count + 1
            let length = min(partSize, size - offset)
            let channel = ByteChannel()
            let proof = try await ctx.proof()
            let upload = cp.upload
            let part = try await pipe(job.source, range: offset..<offset + length, hash: hash, channel: channel) {
                try await parts.send(key, upload: upload, number: number, length: length, from: channel, proof)
            }
            let md5 = Hex.encode(hash.takeMD5())
            // An ETag that is no MD5 (a bucket encrypted with KMS keys) is not compared.
            if let theirs = part.md5, theirs != md5 {
                throw StepError(code: "copy-damaged", message: "part \(number) of \(dst.url(key)) was stored with MD5 \(theirs), not that of the bytes sent; run the step again", retryable: true)
            }
            sent.append(part)
            offset += length
            // Recorded only between 64-byte blocks (every part but a last short one): after a
            // crash there, the last part goes again.
            if let state = hash.state {
                cp.parts = sent.count
                cp.sha256 = state
                try await ctx.progress("\(dst.url(key)): part \(number) of \(count) sent", key: progressKey, data: try JSONValue.encode(cp))
            }
        }
        let sha = hash.finish()
        guard sha == a.sha256 else {
            let proof = try await ctx.proof()
            _ = try? await parts.abort(key, upload: cp.upload, proof)
            throw StepError(code: "copy-digest", message: "the bytes read from \(src.url(job.source.key)) have SHA-256 \(sha.prefix(12))…, not \(a.sha256.prefix(12))… as the manifest says; the upload was aborted, nothing was written", retryable: false)
        }
        let proof = try await ctx.proof()
        let stored = try await calling("completing \(dst.url(key))") { try await parts.complete(key, upload: cp.upload, parts: sent, proof) }
        guard let stored else { return try await judgeTheOneThere(job) }
        // S3's ETag of a completed upload: the MD5 of the parts' MD5s, then the number of parts.
        let tags = sent.compactMap { $0.md5.flatMap(Hex.decode) }
        if tags.count == sent.count, let got = stored.version?.trimmingCharacters(in: CharacterSet(charactersIn: "\"")) {
            let expected = Hex.encode(MD5Hasher.hash(tags.flatMap { $0 })) + "-\(sent.count)"
            if got != expected { try await removeDamaged(stored, what: "ETag \(got), not \(expected) from its parts", ctx) }
        }
        meter.finished()
    }

    /// Streams `range` of `source` into `channel` while `upload` reads it out; the upload's
    /// answer. Whichever side fails first stops the other.
    private func pipe<T: Sendable>(
        _ source: StoredObject, range: Range<Int64>?, hash: StreamHash, channel: ByteChannel, upload: @escaping @Sendable () async throws -> T
    ) async throws -> T {
        let src = self.src, meter = self.meter
        let download = Task {
            do {
                try await src.stream(source, range: range) { bytes in
                    hash.update(bytes)
                    meter.add(Int64(bytes.count))
                    return channel.write(bytes)
                }
                channel.finish()
            } catch {
                channel.fail(error)
                throw error
            }
        }
        do {
            let answer = try await withTaskCancellationHandler {
                try await upload()
            } onCancel: {
                channel.fail(CancellationError())
                download.cancel()
            }
            // An upload can end before it read everything (a 412 answered early, an object
            // already there): the download must not wait for a reader that is gone.
            if !channel.writerFinished {
                channel.fail(CopyError(reason: "the upload ended before the source did"))
                download.cancel()
            }
            _ = try? await download.value
            return answer
        } catch {
            channel.fail(error)
            download.cancel()
            let first = channel.failure
            _ = try? await download.value
            let cause = first ?? error
            if let c = cause as? CopyError {
                throw StepError(code: "copy-failed", message: "copying \(src.url(source.key)) to \(dst.target): \(c.reason)", retryable: true)
            }
            throw StepError.from(cause, doing: "copying \(src.url(source.key)) to \(dst.target)")
        }
    }
}

/// The proof the copy's keeper made last, for checks on transfer threads.
final class LatestProof: @unchecked Sendable {
    private let lock = NSLock()
    private var proof: RunProof?
    var current: RunProof? { lock.withLock { proof } }
    func set(_ p: RunProof) { lock.withLock { proof = p } }
}

/// What a whole-object copy's end check computed, for the comparison after the write.
final class DigestBox: @unchecked Sendable {
    private let lock = NSLock()
    private var _md5: [UInt8]?
    private var _crc32c: UInt32?
    func set(md5: [UInt8]?, crc32c: UInt32?) { lock.withLock { (_md5, _crc32c) = (md5, crc32c) } }
    var md5: [UInt8]? { lock.withLock { _md5 } }
    var crc32c: UInt32? { lock.withLock { _crc32c } }
}

/// Bytes moved by a copy: rate and time left, for people.
final class CopyMeter: @unchecked Sendable {
    private let lock = NSLock()
    let total: Int64
    let artifacts: Int
    let start: Date
    private var moved: Int64 = 0
    private var skipped: Int64 = 0
    private var done = 0
    private var movedAtLastLine: Int64 = -1

    init(total: Int64, artifacts: Int, start: Date) {
        self.total = total
        self.artifacts = artifacts
        self.start = start
    }

    func add(_ n: Int64) { lock.withLock { moved += n } }
    func resumed(_ n: Int64) { lock.withLock { skipped += n } }
    func finished() { lock.withLock { done += 1 } }
    var bytes: Int64 { lock.withLock { moved } }
    var resumed: Int64 { lock.withLock { skipped } }

    /// `copied 512.0 MiB of 1.0 GiB (50%), 2 of 4 artifacts, 180.2 MiB/s, about 3s left`;
    /// nil when nothing moved since the last line.
    func line(now: Date, final: Bool = false) -> String? {
        lock.withLock {
            guard total > 0, final || (moved + skipped > 0 && moved + skipped < total && moved != movedAtLastLine) else { return nil }
            movedAtLastLine = moved
            let seconds = max(0.001, now.timeIntervalSince(start))
            let rate = Double(moved) / seconds
            let have = moved + skipped
            let percent = Int(Double(have) * 100 / Double(total))
            var text = "copied \(ByteCount.text(have)) of \(ByteCount.text(total)) (\(percent)%), \(done) of \(ByteCount.plural(artifacts, "artifact")), \(ByteCount.text(Int64(rate)))/s"
            if final {
                text += " in \(DurationText.format(.milliseconds(Int64(seconds * 1_000))))"
            } else if rate > 0 {
                text += ", about \(DurationText.format(.seconds(Int64(Double(total - have) / rate) + 1))) left"
            }
            return text
        }
    }
}
