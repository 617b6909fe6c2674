import CutoverCore
import CutoverCrypto
import CutoverProviders
import Foundation

/// A model registry as cutover reads it: a manifest naming each artifact's path, SHA-256 and
/// size, and the artifacts, each either at its path (as the training pipeline wrote it) or at
/// its content address `<blobs><sha256>` (as `models.sync` writes it: once per digest,
/// create-only).
struct ModelManifest: Sendable {
    struct Artifact: Sendable {
        var path: String
        var sha256: String
        var bytes: Int64?
    }

    var model: String?
    var version: String?
    var artifacts: [Artifact]
    /// The manifest's own bytes, as read.
    var raw: [UInt8]

    /// `model version`, or the key when the manifest names neither.
    func name(or key: String) -> String {
        let n = [model, version].compactMap { $0 }.joined(separator: " ")
        return n.isEmpty ? key : n
    }

    /// Reads and checks the manifest at `key` of `store`.
    /// - Throws: `no-manifest` when there is none, `bad-manifest` when it is not one (a digest
    ///   that is not 64 hex digits could name any key, so it is refused here).
    static func read(_ store: any ObjectStore, _ key: String) async throws -> ModelManifest {
        guard let raw = try await calling("reading \(store.url(key))", { try await store.read(key, limit: 8 << 20) }) else {
            throw StepError(code: "no-manifest", message: "\(store.url(key)) does not exist; check the runbook's manifest key", retryable: false)
        }
        func bad(_ why: String) -> StepError {
            StepError(code: "bad-manifest", message: "\(store.url(key)) is not a model manifest ({\"artifacts\": [{\"path\", \"sha256\", \"bytes\"}]}): \(why)", retryable: false)
        }
        guard let json = try? JSONValue.parse(Data(raw)), json.objectValue != nil else { throw bad("not a JSON object") }
        guard let list = json["artifacts"]?.arrayValue else { throw bad("no artifacts list") }
        var artifacts: [Artifact] = []
        for (i, a) in list.enumerated() {
            guard let path = a["path"]?.stringValue, !path.isEmpty, !path.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7f }) else {
                throw bad("artifacts[\(i)].path is missing or holds control characters")
            }
            guard let sha = a["sha256"]?.stringValue?.lowercased(), sha.utf8.count == 64, sha.utf8.allSatisfy({ ($0 >= 48 && $0 <= 57) || ($0 >= 97 && $0 <= 102) }) else {
                throw bad("artifacts[\(i)].sha256 is not 64 hex digits")
            }
            let bytes = a["bytes"]?.intValue
            if let bytes, bytes < 0 { throw bad("artifacts[\(i)].bytes is negative") }
            artifacts.append(Artifact(path: path, sha256: sha, bytes: bytes))
        }
        for field in ["model", "version"] {
            if let v = json[field]?.stringValue, v.unicodeScalars.contains(where: { $0.value < 0x20 || (0x7f...0x9f).contains($0.value) }) {
                throw bad("\(field) holds control characters")
            }
        }
        return ModelManifest(model: json["model"]?.stringValue, version: json["version"]?.stringValue, artifacts: artifacts, raw: raw)
    }
}

/// How one artifact was found on a registry, and on what grounds it was judged.
enum ArtifactFinding: Sendable, Equatable {
    /// At its content address, marked by cutover as checked when written, with the right size.
    case checkedByName(key: String)
    /// With the same size and MD5 as the primary's single-part object at the artifact's path.
    case sameMD5(key: String)
    /// Read and hashed: the digest matched.
    case hashed(key: String, bytes: Int64)
    /// Read and hashed (or its size was wrong): the digest did not match.
    case differs(key: String, why: String)
    case missing

    var present: Bool {
        switch self {
        case .checkedByName, .sameMD5, .hashed: true
        case .differs, .missing: false
        }
    }
}

/// Judging artifacts on a registry without reading them when the stores' own records settle
/// it, and only then.
struct RegistryCheck: Sendable {
    let store: any ObjectStore
    /// Where content-addressed artifacts live, like `blobs/sha256/`.
    let blobs: String
    /// The registry's content-addressed objects by key, listed once.
    let listed: [String: StoredObject]

    static func open(_ store: any ObjectStore, blobs: String) async throws -> RegistryCheck {
        let all = try await calling("listing \(store.url(blobs))") { try await store.list(prefix: blobs) }
        return RegistryCheck(store: store, blobs: blobs, listed: Dictionary(all.map { ($0.key, $0) }, uniquingKeysWith: { a, _ in a }))
    }

    func address(_ a: ModelManifest.Artifact) -> String { blobs + a.sha256 }

    /// The object holding `a` here, content address first, and where it was.
    func locate(_ a: ModelManifest.Artifact) async throws -> StoredObject? {
        if var o = listed[address(a)] {
            // S3's listing carries no metadata: the mark is read with the object's head.
            if o.checkedSHA256 == nil, let h = try await calling("reading \(store.url(o.key))", { try await store.head(o.key) }) { o = h }
            return o
        }
        return try await calling("reading \(store.url(a.path))") { try await store.head(a.path) }
    }

    /// Judges `a`: by name and mark, by MD5 against `primary` (the primary's object at the same
    /// path, when it is single-part), or by reading and hashing.
    func judge(_ a: ModelManifest.Artifact, primary: StoredObject?, progress: @escaping @Sendable (Int64) -> Void = { _ in }) async throws -> ArtifactFinding {
        guard let o = try await locate(a) else { return .missing }
        if let expected = a.bytes ?? primary?.size, o.size != expected {
            return .differs(key: o.key, why: "\(o.size) bytes, not \(expected)")
        }
        if o.key == address(a), o.checkedSHA256?.lowercased() == a.sha256 { return .checkedByName(key: o.key) }
        if let mine = o.checksum, mine.hasPrefix("md5:"), let theirs = primary?.checksum, theirs == mine, primary?.size == o.size {
            return .sameMD5(key: o.key)
        }
        let digest = try await Self.hash(store, o, progress: progress)
        return digest == a.sha256 ? .hashed(key: o.key, bytes: o.size) : .differs(key: o.key, why: "its SHA-256 is \(digest.prefix(12))…, not \(a.sha256.prefix(12))…")
    }

    /// The SHA-256 of an object, streamed: memory stays flat whatever its size.
    static func hash(_ store: any ObjectStore, _ o: StoredObject, progress: @escaping @Sendable (Int64) -> Void = { _ in }) async throws -> String {
        let hasher = StreamHash()
        try await calling("reading \(store.url(o.key))") {
            try await store.stream(o, range: nil) { bytes in
                hasher.update(bytes)
                progress(Int64(bytes.count))
                return true
            }
        }
        return hasher.finish()
    }
}

/// SHA-256 of the bytes a download hands over, and the checksum the destination reports
/// (MD5 or CRC32C; none for a read that only hashes), on the download's thread; read after the
/// transfer returns. The lock orders the two.
final class StreamHash: @unchecked Sendable {
    private let lock = NSLock()
    private let sha: ResumableSHA256
    private let md5: MD5Hasher?
    private var crc: CRC32C?

    init(resuming sha: ResumableSHA256 = ResumableSHA256(), also: ReceivedChecksum? = nil) {
        self.sha = sha
        md5 = also == .md5 ? MD5Hasher() : nil
        crc = also == .crc32c ? CRC32C() : nil
    }

    func update(_ bytes: UnsafeRawBufferPointer) {
        lock.withLock {
            sha.update(bytes)
            md5?.update(bytes)
            crc?.update(bytes)
        }
    }

    var crc32c: UInt32? { lock.withLock { crc?.value } }

    /// The SHA-256 state between blocks, for a resumed copy.
    var state: String? { lock.withLock { sha.state } }
    /// The MD5 of the bytes since the last call, and it starts over (a part's).
    func takeMD5() -> [UInt8] { lock.withLock { md5?.finish() ?? [] } }
    func finish() -> String { lock.withLock { sha.finish() } }
}
