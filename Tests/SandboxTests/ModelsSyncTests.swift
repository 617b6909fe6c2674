import CutoverCore
import CutoverCrypto
import CutoverProviders
import CutoverSteps
import Foundation
import Testing
import TestSupport

/// models.sync and models.verify across clouds, against moto (S3, through the counting proxy)
/// and fake-gcs-server (Cloud Storage). Each test works under its own prefix and deletes what
/// it wrote.
extension SandboxTests {
    static let gcsTarget = #"{"provider": "gcs", "endpoint": "http://127.0.0.1:14443", "credentials": "none", "bucket": "recsys-models-gcp-dr"}"#
    static let s3Primary = aws("s3", #""bucket": "recsys-models-primary""#)
    static let s3DR = aws("s3", #""bucket": "recsys-models-dr""#)

    func store(_ json: String) throws -> any ObjectStore { try catalog.objectStore(try target(json), ctx) }

    /// `count` bytes that do not compress and differ by `seed`.
    static func noise(_ count: Int, seed: UInt64) -> [UInt8] {
        var x = seed &* 0x9E37_79B9_7F4A_7C15 | 1
        var out = [UInt8](repeating: 0, count: count)
        out.withUnsafeMutableBytes { raw in
            let words = raw.bindMemory(to: UInt64.self)
            for i in 0..<words.count {
                x ^= x << 13
                x ^= x >> 7
                x ^= x << 17
                words[i] = x
            }
        }
        return out
    }

    /// Writes artifacts and their manifest under `prefix` of `store`; the manifest's key.
    @discardableResult
    func publish(_ store: any ObjectStore, prefix: String, _ artifacts: [(String, [UInt8])], version: String = "v1") async throws -> String {
        var list: [JSONValue] = []
        for (name, bytes) in artifacts {
            let key = prefix + name
            if try await store.head(key) == nil { #expect(try await store.create(key, bytes: bytes, StepTestContext.freshProof())) }
            list.append(.object(["path": .string(key), "sha256": .string(Hex.encode(SHA256.hash(bytes))), "bytes": .int(Int64(bytes.count))]))
        }
        let manifest = JSONValue.object(["model": .string("recsys"), "version": .string(version), "artifacts": .array(list)])
        let key = prefix + "current.json"
        #expect(try await store.create(key, bytes: Array(manifest.canonicalString.utf8), StepTestContext.freshProof()))
        return key
    }

    func removeAll(_ store: any ObjectStore, prefix: String) async throws {
        for o in try await store.list(prefix: prefix) { _ = try await store.delete(o.key, current: o, StepTestContext.freshProof()) }
    }

    func syncParams(primary: String, dr: String, manifest: String, blobs: String, parallel: Int = 2) throws -> StepParameters {
        try params(ModelsSync.self, #"{"primary": \#(primary), "dr": \#(dr), "manifest": "\#(manifest)", "blobs": "\#(blobs)", "parallel": \#(parallel), "partSizeMiB": 5}"#)
    }

    func verifyParams(primary: String, dr: String, manifest: String, blobs: String) throws -> StepParameters {
        try params(ModelsVerify.self, #"{"primary": \#(primary), "dr": \#(dr), "manifest": "\#(manifest)", "blobs": "\#(blobs)"}"#)
    }

    @Test func modelsSyncCopiesS3ToCloudStorageAndBack() async throws {
        let prefix = "sync-\(UUID().uuidString.prefix(8).lowercased())/"
        let blobs = prefix + "blobs/sha256/"
        let (s3, gcs, s3dr) = (try store(Self.s3Primary), try store(Self.gcsTarget), try store(Self.s3DR))
        // The sandbox's reset (each test's start) deletes what a failed test left.
        let written: [any ObjectStore] = [s3, gcs, s3dr]
        let big = Self.noise(12 << 20 + 123, seed: 1)  // three parts of 5 MiB on the way back to S3
        let small = Self.noise(200_000, seed: 2)
        let manifest = try await publish(s3, prefix: prefix, [
            ("v1/model.onnx", big), ("v1/embeddings.bin", small), ("v1/tokenizer.json", Array(#"{"vocab": {}}"#.utf8)),
            ("v1/embeddings-copy.bin", small),  // the same bytes: stored once
        ])
        let step = ModelsSync(providers: providers)
        let ctx = StepTestContext(environment: env)
        let there = try syncParams(primary: Self.s3Primary, dr: Self.gcsTarget, manifest: manifest, blobs: blobs)
        let out = try await step.execute(there, ctx)
        #expect(out.artifacts == 3 && out.copied == 3 && out.present == 0, "\(out)")
        #expect(out.bytesCopied == Int64(big.count + small.count + 13))
        #expect(out.manifestWritten == Hex.encode(SHA256.hash(try #require(try await s3.read(manifest, limit: 1 << 20)))))
        #expect(ctx.notes.contains { $0.hasPrefix("copied ") && $0.contains("3 of 3 artifacts") }, "a progress line with bytes and rate: \(ctx.notes)")
        let stored = try await gcs.list(prefix: blobs)
        #expect(stored.count == 3 && stored.allSatisfy { $0.checkedSHA256 == String($0.key.dropFirst(blobs.count)) }, "each under its digest, marked checked")
        #expect(try await gcs.read(manifest, limit: 1 << 20) == (try await s3.read(manifest, limit: 1 << 20)), "DR's manifest, written last")

        // Verify settles every artifact by cutover's checked digest, without reading a byte.
        let verified = try await ModelsVerify(providers: providers).execute(try verifyParams(primary: Self.s3Primary, dr: Self.gcsTarget, manifest: manifest, blobs: blobs), ctx)
        #expect(verified.checkedByName == 4 && verified.hashed == 0 && verified.bytesRead == 0, "\(verified)")

        // Again: nothing to copy, nothing written.
        let generations = stored.map(\.version)
        let again = try await step.execute(there, StepTestContext(environment: env))
        #expect(again.copied == 0 && again.present == 3 && again.manifestWritten == nil, "\(again)")
        #expect(try await gcs.list(prefix: blobs).map(\.version) == generations, "no artifact was written again")

        // And back, Cloud Storage to S3: the large artifact in parts.
        let back = try syncParams(primary: Self.gcsTarget, dr: Self.s3DR, manifest: manifest, blobs: blobs)
        let home = try await step.execute(back, StepTestContext(environment: env))
        #expect(home.copied == 3 && home.manifestWritten != nil, "\(home)")
        let bigKey = blobs + Hex.encode(SHA256.hash(big))
        let bigHome = try #require(try await s3dr.head(bigKey))
        #expect(bigHome.size == Int64(big.count) && bigHome.checkedSHA256 == String(bigKey.dropFirst(blobs.count)))
        #expect(bigHome.version?.hasSuffix("-3\"") == true, "a multipart object of three parts: \(bigHome.version ?? "")")
        let homeVerified = try await ModelsVerify(providers: providers).execute(try verifyParams(primary: Self.gcsTarget, dr: Self.s3DR, manifest: manifest, blobs: blobs), ctx)
        #expect(homeVerified.checkedByName == 4, "\(homeVerified)")

        // Rolling the first sync back deletes the manifest it wrote (there was none); the
        // artifacts stay, stored once by digest.
        try await step.compensate(there, out, ctx)
        #expect(try await gcs.head(manifest) == nil)
        #expect(try await gcs.list(prefix: blobs).count == 3)
        for s in written { try await removeAll(s, prefix: prefix) }
    }

    @Test func aCopyWhoseBytesAreNotTheManifestsDigestStoresNothing() async throws {
        let prefix = "sync-\(UUID().uuidString.prefix(8).lowercased())/"
        let blobs = prefix + "blobs/sha256/"
        let (s3, gcs) = (try store(Self.s3Primary), try store(Self.gcsTarget))
        // The sandbox's reset (each test's start) deletes what a failed test left.
        let written: [any ObjectStore] = [s3, gcs]
        let good = Self.noise(300_000, seed: 3)
        // The manifest names the good bytes; the primary holds other bytes of the same size.
        let manifest = try await publish(s3, prefix: prefix, [("v1/model.onnx", Self.noise(300_000, seed: 4))])
        let raw = try #require(try await s3.read(manifest, limit: 1 << 20))
        let lying = String(decoding: raw, as: UTF8.self).replacingOccurrences(of: Hex.encode(SHA256.hash(Self.noise(300_000, seed: 4))), with: Hex.encode(SHA256.hash(good)))
        let current = try #require(try await s3.head(manifest))
        #expect(try await s3.replace(manifest, bytes: Array(lying.utf8), current: current, StepTestContext.freshProof()))
        let error = await #expect(throws: StepError.self) {
            try await ModelsSync(providers: providers).execute(try syncParams(primary: Self.s3Primary, dr: Self.gcsTarget, manifest: manifest, blobs: blobs), StepTestContext(environment: env))
        }
        #expect(error?.code == "copy-failed" && error?.message.contains("not \(Hex.encode(SHA256.hash(good)).prefix(12))") == true, "\(error?.message ?? "")")
        #expect(try await gcs.list(prefix: prefix).isEmpty, "no object stands under a digest its bytes do not have, and no manifest was written")
        for s in written { try await removeAll(s, prefix: prefix) }
    }

    @Test func aMultipartS3ObjectIsCheckedAgainstACloudStorageCopyAndCorruptionIsFound() async throws {
        let prefix = "verify-\(UUID().uuidString.prefix(8).lowercased())/"
        let blobs = prefix + "blobs/sha256/"
        let (s3, gcs) = (try store(Self.s3Primary), try store(Self.gcsTarget))
        // The sandbox's reset (each test's start) deletes what a failed test left.
        let written: [any ObjectStore] = [s3, gcs]
        let weights = Self.noise(11 << 20, seed: 5)
        let vocab = Self.noise(50_000, seed: 6)
        // The primary's weights as a multipart upload (its ETag is no MD5 of the bytes).
        let parts = try #require(s3.parts)
        let key = prefix + "v1/model.onnx"
        let upload = try await parts.start(key, checkedSHA256: "", StepTestContext.freshProof())
        var sent: [UploadedPart] = []
        for (i, range) in [0..<(6 << 20), (6 << 20)..<weights.count].enumerated() {
            let c = ByteChannel(capacity: weights.count)
            weights[range].withUnsafeBytes { _ = c.write($0) }
            c.finish()
            let part = try await parts.send(key, upload: upload, number: i + 1, length: Int64(range.count), from: c, StepTestContext.freshProof())
            #expect(part.md5 == Hex.encode(MD5Hasher.hash(Array(weights[range]))), "a part's ETag is its MD5 where nothing encrypts it")
            sent.append(part)
        }
        _ = try #require(try await parts.complete(key, upload: upload, parts: sent, StepTestContext.freshProof()))
        #expect(try await s3.head(key)?.checksum == nil, "a multipart ETag is not taken for an MD5")
        let manifest = try await publish(s3, prefix: prefix, [("v1/model.onnx", weights), ("v1/vocab.bin", vocab)])
        // DR holds copies at the same paths, written by someone else (no mark).
        #expect(try await gcs.create(key, bytes: weights, StepTestContext.freshProof()))
        #expect(try await gcs.create(prefix + "v1/vocab.bin", bytes: vocab, StepTestContext.freshProof()))

        let verify = ModelsVerify(providers: providers)
        let p = try verifyParams(primary: Self.s3Primary, dr: Self.gcsTarget, manifest: manifest, blobs: blobs)
        let out = try await verify.execute(p, StepTestContext(environment: env))
        #expect(out.hashed == 1 && out.bytesRead == Int64(weights.count), "the multipart one is read and hashed: \(out)")
        #expect(out.sameMD5 == 1, "the single-part one is settled by MD5: \(out)")

        // A DR artifact corrupted in place, same size: its MD5 differs, it is read, it is named.
        var bad = vocab
        bad[1_000] ^= 0xff
        let v = try #require(try await gcs.head(prefix + "v1/vocab.bin"))
        #expect(try await gcs.replace(prefix + "v1/vocab.bin", bytes: bad, current: v, StepTestContext.freshProof()))
        let error = await #expect(throws: StepError.self) { try await verify.execute(p, StepTestContext(environment: env)) }
        #expect(error?.code == "models-differ", "\(error.map { "\($0)" } ?? "")")
        #expect(error?.message.contains("gs://recsys-models-gcp-dr/\(prefix)v1/vocab.bin (its SHA-256 is") == true, "\(error?.message ?? "")")

        // A content-addressed artifact overwritten by someone else (its mark gone): read, named.
        let digest = Hex.encode(SHA256.hash(vocab))
        #expect(try await gcs.create(blobs + digest, bytes: bad, StepTestContext.freshProof()))
        let again = await #expect(throws: StepError.self) { try await verify.execute(p, StepTestContext(environment: env)) }
        #expect(again?.message.contains("\(blobs)\(digest) (its SHA-256 is") == true, "\(again?.message ?? "")")
        // And models.sync refuses to copy over it.
        let sync = await #expect(throws: StepError.self) {
            try await ModelsSync(providers: providers).execute(try syncParams(primary: Self.s3Primary, dr: Self.gcsTarget, manifest: manifest, blobs: blobs), StepTestContext(environment: env))
        }
        #expect(sync?.code == "blob-corrupt", "\(sync.map { "\($0)" } ?? "")")
        for s in written { try await removeAll(s, prefix: prefix) }
    }
}

/// SIGKILL in the middle of a models.sync run, through the real binary, then `cutover resume`.
extension SandboxTests {
    /// The sandbox runbook with its manifest under `prefix`, two copies at a time, the model
    /// registries swapped when `back` (Cloud Storage to S3); its path.
    func modelsRunbook(prefix: String, back: Bool) throws -> String {
        let data = try Data(contentsOf: repositoryRoot.appendingPathComponent("runbooks/sandbox.json"))
        var book = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        book["models"] = ["manifest": prefix + "current.json", "parallel": 2, "partSizeMiB": 5]
        if back, var primary = book["primary"] as? [String: Any], var dr = book["dr"] as? [String: Any] {
            (primary["models"], dr["models"]) = (dr["models"], primary["models"])
            (book["primary"], book["dr"]) = (primary, dr)
        }
        let path = dir.path("runbook-\(back ? "back" : "there").json")
        try JSONSerialization.data(withJSONObject: book).write(to: URL(fileURLWithPath: path))
        return path
    }

    /// Starts `models-sync` with `runbook` and SIGKILLs it once `when` holds; the run's id.
    func startSyncAndKill(runbook: String, when: () async throws -> Bool) async throws -> String {
        let p = sandbox.cutoverProcess(["start", "models-sync", "--runbook", runbook], db: db)
        try p.run()
        var fired = false
        for _ in 0..<1_200 where p.isRunning {
            if try await when() {
                kill(p.processIdentifier, SIGKILL)
                fired = true
                break
            }
            try await Task.sleep(for: .milliseconds(25))
        }
        p.waitWithoutRunLoop()
        #expect(fired, "the kill point was reached while the sync ran")
        #expect(p.terminationReason == .uncaughtSignal)
        let list = try sandbox.cutover(["list"], db: db).stdout
        return try #require(list.split(separator: "\n").compactMap { $0.split(separator: " ").first.map(String.init) }.first { $0.hasPrefix("run-") })
    }

    @Test func sigkillDuringASyncToCloudStorageThenResumeCopiesOnlyWhatWasUnfinished() async throws {
        let prefix = "kill-\(UUID().uuidString.prefix(8).lowercased())/"
        let (s3, gcs) = (try store(Self.s3Primary), try store(Self.gcsTarget))
        let artifacts = (1...6).map { ("v1/shard-\($0).bin", Self.noise($0 << 20, seed: UInt64(10 + $0))) }
        try await publish(s3, prefix: prefix, artifacts)
        let ours = Set(artifacts.map { "blobs/sha256/" + Hex.encode(SHA256.hash($0.1)) })
        func copied() async throws -> [String: String] {
            Dictionary(uniqueKeysWithValues: try await gcs.list(prefix: "blobs/sha256/").filter { ours.contains($0.key) }.map { ($0.key, $0.version ?? "") })
        }
        // Each read from S3 waits a little, so the six copies finish over seconds, not at once.
        try sandbox.control("http://127.0.0.1:15001/_proxy/control", #"{"delayNext": 100, "delayMs": 400, "service": "s3", "action": "GetObject"}"#)
        let run = try await startSyncAndKill(runbook: try modelsRunbook(prefix: prefix, back: false)) {
            (1...4).contains(try await copied().count)
        }
        let before = try await copied()
        #expect((1...5).contains(before.count), "killed with some artifacts copied: \(before.count)")

        let resumed = try sandbox.cutover(["resume", run], db: db)
        #expect(resumed.status == 0, "\(resumed.stdout)\(resumed.stderr)")
        let after = try await copied()
        #expect(after.count == 6, "every artifact is there after the resume")
        for (key, generation) in before {
            #expect(after[key] == generation, "\(key) was finished before the kill and not written again")
        }
        let history = try sandbox.cutover(["history", run], db: db).stdout
        #expect(history.contains("\(before.count) artifact\(before.count == 1 ? "" : "s") there already, \(6 - before.count) copied"), "\(history)")
        #expect(try chainIntact())
        for key in ours { if let o = try await gcs.head(key) { _ = try await gcs.delete(key, current: o, StepTestContext.freshProof()) } }
        for s in [s3, gcs] { try await removeAll(s, prefix: prefix) }
    }

    @Test func sigkillDuringAnUploadInPartsThenResumeSendsOnlyTheMissingParts() async throws {
        let prefix = "kill-\(UUID().uuidString.prefix(8).lowercased())/"
        // Back: the runbook's registries swapped, Cloud Storage to the S3 bucket that was primary.
        let (gcs, s3dr) = (try store(Self.gcsTarget), try store(Self.s3Primary))
        let weights = Self.noise(26 << 20, seed: 21)  // six parts of 5 MiB, the last 1 MiB
        try await publish(gcs, prefix: prefix, [("v1/model.onnx", weights), ("v1/vocab.bin", Self.noise(40_000, seed: 22))])
        let key = "blobs/sha256/" + Hex.encode(SHA256.hash(weights))
        func parts() throws -> [Int] {
            (try sandbox.state(calls: true)["awsCalls"] as? [[String: Any]] ?? [])
                .filter { ($0["action"] as? String) == "UploadPart" && ($0["outcome"] as? String) == "forwarded" && (($0["path"] as? String) ?? "").hasSuffix(key) }
                .compactMap { $0["partNumber"] as? Int }
        }
        try sandbox.control("http://127.0.0.1:15001/_proxy/control", #"{"delayNext": 100, "delayMs": 300, "service": "s3", "action": "UploadPart"}"#)
        let run = try await startSyncAndKill(runbook: try modelsRunbook(prefix: prefix, back: true)) { try parts().count >= 3 }
        let sentBefore = try parts()
        #expect(try await s3dr.head(key) == nil, "not complete when killed")

        let resumed = try sandbox.cutover(["resume", run], db: db)
        #expect(resumed.status == 0, "\(resumed.stdout)\(resumed.stderr)")
        #expect(try sandbox.cutover(["history", run], db: db).stdout.contains("taking up the upload at part"))
        let all = try parts()
        let counts = Dictionary(all.map { ($0, 1) }, uniquingKeysWith: +)
        #expect(Set(all) == Set(1...6), "\(all)")
        // Only a part in flight at the kill (sent, its event not yet written) may go twice.
        #expect(counts.values.filter { $0 > 1 }.count <= 1 && counts.values.allSatisfy { $0 <= 2 }, "parts sent: \(all) (before the kill: \(sentBefore))")
        #expect(all.count - sentBefore.count <= 6 - sentBefore.count + 1, "after the resume only the missing parts went: \(all)")
        let object = try #require(try await s3dr.head(key))
        #expect(object.size == Int64(weights.count) && object.version?.hasSuffix("-6\"") == true, "\(object)")
        #expect(try chainIntact())
        try await removeAll(s3dr, prefix: "blobs/sha256/")
        for s in [gcs, s3dr] { try await removeAll(s, prefix: prefix) }
    }
}
