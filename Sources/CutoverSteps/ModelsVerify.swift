import CutoverCore
import CutoverCrypto
import CutoverProviders
import Foundation

/// `models.verify`: the DR model registry (S3 or Cloud Storage, either side) holds every
/// artifact of the primary's current manifest, with the SHA-256 the manifest names. Reads
/// gigabytes only when the stores' own records cannot settle it:
/// - an object at its content address (`<blobs><sha256>`) that cutover marked when it wrote
///   it (`cutover-sha256`), of the right size, is taken as checked: `models.sync` writes that
///   mark only on objects that exist solely if their bytes had that digest;
/// - an object with the same size and MD5 as the primary's single-part object at the
///   artifact's path is the same bytes (an S3 multipart ETag and a composite Cloud Storage
///   object carry no MD5 of the bytes, so they never take this path);
/// - anything else is read (streamed) and hashed.
public struct ModelsVerify: StepType {
    public struct Output: Codable, Sendable, Equatable {
        public var model: String
        /// The manifest's `version`, what DR must serve (`inference.check`'s `modelVersion`).
        public var version: String?
        public var artifacts: Int
        public var bytes: Int64
        /// How many were settled by cutover's mark, by MD5, and by reading them.
        public var checkedByName: Int
        public var sameMD5: Int
        public var hashed: Int
        public var bytesRead: Int64
    }

    public static let name = "models.verify"
    public static let summary = "Checks that the DR model registry holds every artifact of the primary's current manifest, digest for digest, without reading what the stores' own checksums settle. Changes nothing."
    public static let kind = StepKind.check
    static let primary = Param<ProviderTarget>.target("primary", .objectStore, "the primary's model registry, like \"${runbook.primary.models}\"")
    static let dr = Param<ProviderTarget>.target("dr", .objectStore, "the DR model registry, like \"${runbook.dr.models}\"")
    static let manifest = Param<String>.string("manifest", "the key of the current model manifest in the primary's registry, like recsys/current.json")
    static let blobs = Param<String>.string("blobs", default: "blobs/sha256/", "where a registry keeps artifacts by digest (models.sync writes them there)")
    public static let schema = StepSchema(primary, dr, manifest, blobs)

    let providers: ProviderCatalog
    public init(providers: ProviderCatalog) { self.providers = providers }

    public func execute(_ p: StepParameters, _ ctx: any StepContext) async throws -> Output {
        let primary = try providers.objectStore(try p[Self.primary], ctx)
        let dr = try providers.objectStore(try p[Self.dr], ctx)
        let manifestKey = try p[Self.manifest]
        let manifest = try await ModelManifest.read(primary, manifestKey)
        // The primary's artifacts as sync finds them too: at their paths, or by digest (a
        // registry that was itself a sync's destination, after a failback).
        let reference = try await RegistryCheck.open(primary, blobs: try p[Self.blobs])
        let check = try await RegistryCheck.open(dr, blobs: try p[Self.blobs])
        var missing: [String] = []
        var different: [String] = []
        var out = Output(model: manifest.name(or: manifestKey), version: manifest.version, artifacts: manifest.artifacts.count, bytes: 0, checkedByName: 0, sameMD5: 0, hashed: 0, bytesRead: 0)
        for a in manifest.artifacts {
            let theirs = try await reference.locate(a)
            switch try await check.judge(a, primary: theirs) {
            case .checkedByName: out.checkedByName += 1
            case .sameMD5: out.sameMD5 += 1
            case .hashed(_, let n):
                out.hashed += 1
                out.bytesRead += n
            case .differs(let key, let why): different.append("\(dr.url(key)) (\(why))")
            case .missing: missing.append(a.path)
            }
            out.bytes += a.bytes ?? theirs?.size ?? 0
        }
        if !missing.isEmpty || !different.isEmpty {
            var parts: [String] = []
            if !missing.isEmpty { parts.append("missing \(missing.joined(separator: ", "))") }
            if !different.isEmpty { parts.append("digest differs for \(different.joined(separator: ", "))") }
            throw StepError(
                code: "models-differ",
                message: "DR registry \(dr.target) does not hold the primary's model \(out.model): \(parts.joined(separator: "; ")). Run models.sync (workflows/models-sync.json) before failing over",
                retryable: false)
        }
        try await ctx.note(
            "\(dr.target) holds \(out.model): \(ByteCount.plural(out.artifacts, "artifact")), \(ByteCount.text(out.bytes)); \(out.checkedByName) by cutover's checked digest, \(out.sameMD5) by MD5, \(out.hashed) read and hashed (\(ByteCount.text(out.bytesRead)))")
        return out
    }
}

/// Sizes for people: `1.5 GiB`.
enum ByteCount {
    /// `1 artifact`, `3 artifacts`.
    static func plural(_ n: Int, _ noun: String) -> String { "\(n) \(noun)\(n == 1 ? "" : "s")" }

    static func text(_ n: Int64) -> String {
        let units = ["bytes", "KiB", "MiB", "GiB", "TiB"]
        var v = Double(n)
        var u = 0
        while v >= 1_024, u < units.count - 1 {
            v /= 1_024
            u += 1
        }
        return u == 0 ? "\(n) bytes" : String(format: "%.1f %@", v, units[u])
    }
}
