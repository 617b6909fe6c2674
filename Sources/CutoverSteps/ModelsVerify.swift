import CutoverCore
import CutoverCrypto
import CutoverProviders
import Foundation

/// `models.verify`: the DR model registry (an object store: S3, Cloud Storage) holds every
/// artifact of the primary's current model manifest, each with the SHA-256 digest the manifest
/// names. The primary and DR stores may be on different clouds.
public struct ModelsVerify: StepType {
    public struct Output: Codable, Sendable, Equatable {
        public var model: String
        /// The manifest's `version`, what DR must serve (`inference.check`'s `modelVersion`).
        public var version: String?
        public var artifacts: Int
        public var bytes: Int64
    }

    struct Manifest: Decodable {
        struct Artifact: Decodable {
            var path: String
            var sha256: String
        }
        var model: String?
        var version: String?
        var artifacts: [Artifact]
    }

    public static let name = "models.verify"
    public static let kind = StepKind.check
    static let primary = Param<ProviderTarget>.target("primary", .objectStore, "the primary's model registry, like \"${runbook.primary.models}\"")
    static let dr = Param<ProviderTarget>.target("dr", .objectStore, "the DR model registry, like \"${runbook.dr.models}\"")
    static let manifest = Param<String>.string("manifest", "the key of the current model manifest in the primary's registry, like recsys/current.json")
    static let maxArtifactBytes = Param<Int>.integer("maxArtifactBytes", 1...(1 << 40), default: 1 << 30, "the largest artifact read")
    public static let schema = StepSchema(primary, dr, manifest, maxArtifactBytes)

    let providers: ProviderCatalog
    public init(providers: ProviderCatalog) { self.providers = providers }

    public func execute(_ p: StepParameters, _ ctx: any StepContext) async throws -> Output {
        let primary = try providers.objectStore(try p[Self.primary], ctx)
        let dr = try providers.objectStore(try p[Self.dr], ctx)
        let manifestKey = try p[Self.manifest]
        let limit = try p[Self.maxArtifactBytes]
        let manifestBytes = try await get(primary, manifestKey, limit: 8 << 20)
        guard let manifestBytes else {
            throw StepError(code: "no-manifest", message: "\(primary.url(manifestKey)) does not exist; check the runbook's manifest key", retryable: false)
        }
        let manifest: Manifest
        do { manifest = try JSONDecoder().decode(Manifest.self, from: Data(manifestBytes)) } catch {
            throw StepError(code: "bad-manifest", message: "\(primary.url(manifestKey)) is not a model manifest ({\"artifacts\": [{\"path\", \"sha256\"}]}): \(String(describing: error).prefix(160))", retryable: true)
        }
        var missing: [String] = []
        var different: [String] = []
        var total: Int64 = 0
        for artifact in manifest.artifacts {
            guard let bytes = try await get(dr, artifact.path, limit: limit) else {
                missing.append(artifact.path)
                continue
            }
            total += Int64(bytes.count)
            if Hex.encode(SHA256.hash(bytes)) != artifact.sha256.lowercased() { different.append(artifact.path) }
        }
        let model = [manifest.model, manifest.version].compactMap { $0 }.joined(separator: " ")
        if !missing.isEmpty || !different.isEmpty {
            var parts: [String] = []
            if !missing.isEmpty { parts.append("missing \(missing.joined(separator: ", "))") }
            if !different.isEmpty { parts.append("digest differs for \(different.joined(separator: ", "))") }
            throw StepError(
                code: "models-differ",
                message: "DR registry \(dr.target) does not hold the primary's model \(model.isEmpty ? manifestKey : model): \(parts.joined(separator: "; ")). Sync the artifacts before failing over",
                retryable: false)
        }
        try await ctx.note("\(dr.target) holds \(model.isEmpty ? "the model" : model): \(manifest.artifacts.count) artifacts, \(total) bytes, digests match")
        return Output(model: model, version: manifest.version, artifacts: manifest.artifacts.count, bytes: total)
    }

    /// An object's bytes, or nil when it does not exist.
    func get(_ store: any ObjectStore, _ key: String, limit: Int) async throws -> [UInt8]? {
        try await calling("reading \(store.url(key))") { try await store.read(key, limit: limit) }
    }
}
