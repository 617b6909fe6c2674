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
            try await copyInParts(job, parts, ctx)
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
            result.set(sha: sha, md5: md5, crc32c: hash.crc32c)
            guard sha == a.sha256 else {
                return CopyError(reason: "the bytes read from \(src.url(job.source.key)) have SHA-256 \(sha.prefix(12))…, not \(a.sha256.prefix(12))… as the manifest says; nothing was written")
            }
            // The last byte makes the object: only under a proof still good.
            do { try latest.current?.check(doing: "writing \(dst.url(key))") } catch { return error }
            return nil
        })
        let proof = try await ctx.proof()
        let stored = try await pipe(job.source, range: nil, hash: hash, channel: channel) {
            try await dst.create(key, length: job.source.size, from: channel, checkedSHA256: a.sha256, proof)
        }
        guard let stored else {
            // Someone wrote it first (another run): it counts only if it passes as ours would.
            guard try await to.judge(a, primary: job.source).present else {
                throw StepError(code: "blob-corrupt", message: "\(dst.url(key)) appeared while cutover copied it, and its bytes are not the digest it is named by; look at it, delete it, and run the step again", retryable: false)
            }
            return
        }
        // What the store says it received, against what was sent.
        var damaged: String?
        if let theirs = stored.checksum, theirs.hasPrefix("md5:"), let md5 = result.md5, theirs != "md5:" + Hex.encode(md5) {
            damaged = "MD5 \(theirs.dropFirst(4))"
        }
        if let theirs = stored.crc32c, let mine = result.crc32c, theirs != mine {
            damaged = String(format: "CRC32C %08x", theirs)
        }
        if let damaged {
            _ = try? await dst.delete(key, current: stored, try await ctx.proof())
            throw StepError(code: "copy-damaged", message: "\(dst.url(key)) was stored with \(damaged), not that of the bytes sent; it was deleted, run the step again", retryable: true)
        }
        meter.finished()
    }

    /// Parts that outlive this process: each acknowledged part is recorded with the SHA-256
    /// state after it, so an attempt after a crash sends only the rest.
    private func copyInParts(_ job: ModelsSync.Job, _ parts: any PartedUploads, _ ctx: any StepContext) async throws {
        let a = job.artifact, key = to.address(a), size = job.source.size
        let progressKey = "upload:\(a.sha256)"
        var checkpoint: ModelsSync.PartsCheckpoint?
        var hasher = ResumableSHA256()
        if let saved = try? recorded[progressKey]?.decode(ModelsSync.PartsCheckpoint.self) {
            let listed = try await calling("listing the parts of \(dst.url(key))") { try await parts.parts(key, upload: saved.upload) }
            let kept = listed.map { l in saved.parts.allSatisfy { s in l.contains { $0.number == s.number && $0.etag == s.etag && $0.size == s.size } } } ?? false
            if kept, saved.partSize == partSize, let h = ResumableSHA256(state: saved.sha256) {
                checkpoint = saved
                hasher = h
            } else if listed != nil {
                _ = try? await parts.abort(key, upload: saved.upload, try await ctx.proof())
            }
        }
        if checkpoint == nil {
            let proof = try await ctx.proof()
            let upload = try await calling("starting an upload to \(dst.url(key))") { try await parts.start(key, checkedSHA256: a.sha256, proof) }
            checkpoint = ModelsSync.PartsCheckpoint(upload: upload, partSize: partSize, parts: [], sha256: hasher.state ?? "")
            try await ctx.progress("\(dst.url(key)): upload started", key: progressKey, data: try JSONValue.encode(checkpoint))
        }
        guard var cp = checkpoint else { return }
        var offset = cp.parts.reduce(Int64(0)) { $0 + $1.size }
        if offset > 0 {
            meter.resumed(offset)
            try await ctx.note("\(dst.url(key)): taking up the upload at part \(cp.parts.count + 1): \(ByteCount.text(offset)) already there")
        }
        let hash = StreamHash(resuming: hasher, at: offset, also: .md5)
        let count = Int((size + partSize - 1) / partSize)
        while offset < size {
            let number = cp.parts.count + 1
            let length = min(partSize, size - offset)
            let channel = ByteChannel()
            let proof = try await ctx.proof()
            let upload = cp.upload
            let etag = try await pipe(job.source, range: offset..<offset + length, hash: hash, channel: channel) {
                try await parts.send(key, upload: upload, number: number, length: length, from: channel, proof)
            }
            let md5 = Hex.encode(hash.takeMD5())
            let bare = etag.trimmingCharacters(in: CharacterSet(charactersIn: "\""))
            if bare.count == 32, bare.lowercased() != md5 {
                throw StepError(code: "copy-damaged", message: "part \(number) of \(dst.url(key)) was stored with MD5 \(bare), not that of the bytes sent; run the step again", retryable: true)
            }
            cp.parts.append(UploadedPart(number: number, etag: etag, size: length))
            offset += length
            cp.sha256 = hash.state ?? ""
            try await ctx.progress("\(dst.url(key)): part \(number) of \(count) sent", key: progressKey, data: try JSONValue.encode(cp))
        }
        let sha = hash.finish()
        guard sha == a.sha256 else {
            _ = try? await parts.abort(key, upload: cp.upload, try await ctx.proof())
            throw StepError(code: "copy-digest", message: "the bytes read from \(src.url(job.source.key)) have SHA-256 \(sha.prefix(12))…, not \(a.sha256.prefix(12))… as the manifest says; the upload was aborted, nothing was written", retryable: false)
        }
        let proof = try await ctx.proof()
        let stored = try await calling("completing \(dst.url(key))") { try await parts.complete(key, upload: cp.upload, parts: cp.parts, proof) }
        guard let stored else {
            guard try await to.judge(a, primary: job.source).present else {
                throw StepError(code: "blob-corrupt", message: "\(dst.url(key)) appeared while cutover copied it, and its bytes are not the digest it is named by; look at it, delete it, and run the step again", retryable: false)
            }
            return
        }
        // S3's ETag of a completed upload: the MD5 of the parts' MD5s, then the number of parts.
        let tags = cp.parts.compactMap { Hex.decode($0.etag.trimmingCharacters(in: CharacterSet(charactersIn: "\""))) }
        if tags.count == cp.parts.count, tags.allSatisfy({ $0.count == 16 }), let got = stored.version?.trimmingCharacters(in: CharacterSet(charactersIn: "\"")) {
            let expected = Hex.encode(MD5Hasher.hash(tags.flatMap { $0 })) + "-\(cp.parts.count)"
            if got != expected {
                _ = try? await dst.delete(key, current: stored, try await ctx.proof())
                throw StepError(code: "copy-damaged", message: "\(dst.url(key)) was completed with ETag \(got), not \(expected) from its parts; it was deleted, run the step again", retryable: true)
            }
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
            }
            try await download.value
            return answer
        } catch {
            channel.fail(error)
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
    func set(_ p: RunProof) async { lock.withLock { proof = p } }
}

/// What a whole-object copy's end check computed, for the comparison after the write.
final class DigestBox: @unchecked Sendable {
    private let lock = NSLock()
    private var _md5: [UInt8]?
    private var _crc32c: UInt32?
    func set(sha: String, md5: [UInt8]?, crc32c: UInt32?) { lock.withLock { (_md5, _crc32c) = (md5, crc32c) } }
    var md5: [UInt8]? { lock.withLock { _md5 } }
    var crc32c: UInt32? { lock.withLock { _crc32c } }
}

final class DoneFlag: @unchecked Sendable {
    private let lock = NSLock()
    private var done = false
    var value: Bool { lock.withLock { done } }
    func set() { lock.withLock { done = true } }
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
    private var lastLine: Date?

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
            guard total > 0, final || (moved + skipped > 0 && moved + skipped < total) else { return nil }
            lastLine = now
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
