import CutoverCore
import CutoverCrypto
import CutoverNet
import Foundation

/// `models.verify`: the DR model registry (an S3 bucket) holds every artifact of the primary's
/// current model manifest, each with the SHA-256 digest the manifest names.
public struct ModelsVerify: StepType {
    public struct Parameters: Codable, Sendable {
        public var endpoint: String
        public var region: String
        public var accessKey: String
        public var secretKey: String
        public var sessionToken: String?
        public var primaryBucket: String
        public var drBucket: String
        public var manifest: String
        public var maxArtifactBytes: Int?
    }

    public struct Output: Codable, Sendable, Equatable {
        public var model: String
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
    public static let parameters = AWSAccess.fields + [
        ParameterField("primaryBucket", .string, required: true, "the primary's model registry bucket"),
        ParameterField("drBucket", .string, required: true, "the DR model registry bucket"),
        ParameterField("manifest", .string, required: true, "the key of the current model manifest, like recsys/current.json"),
        ParameterField("maxArtifactBytes", .integer(min: 1), "the largest artifact read (default 1 GiB)"),
    ]

    let http: HTTPClient
    public init(http: HTTPClient) { self.http = http }

    public func execute(_ p: Parameters, _ ctx: any StepContext) async throws -> Output {
        let aws = try AWSAccess.client(
            service: "s3", endpoint: p.endpoint, region: p.region, accessKey: p.accessKey, secretKey: p.secretKey,
            sessionToken: p.sessionToken, ctx: ctx, http: http)
        let manifestBytes = try await get(aws, p.primaryBucket, p.manifest, limit: 8 << 20)
        guard let manifestBytes else {
            throw StepError(code: "no-manifest", message: "s3://\(p.primaryBucket)/\(p.manifest) does not exist; check the runbook's manifest key", retryable: false)
        }
        let manifest: Manifest
        do { manifest = try JSONDecoder().decode(Manifest.self, from: Data(manifestBytes)) } catch {
            throw StepError(code: "bad-manifest", message: "s3://\(p.primaryBucket)/\(p.manifest) is not a model manifest ({\"artifacts\": [{\"path\", \"sha256\"}]}): \(String(describing: error).prefix(160))", retryable: true)
        }
        var missing: [String] = []
        var different: [String] = []
        var total: Int64 = 0
        for artifact in manifest.artifacts {
            guard let bytes = try await get(aws, p.drBucket, artifact.path, limit: p.maxArtifactBytes ?? 1 << 30) else {
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
                message: "DR registry s3://\(p.drBucket) does not hold the primary's model \(model.isEmpty ? p.manifest : model): \(parts.joined(separator: "; ")). Sync the artifacts before failing over",
                retryable: false)
        }
        try await ctx.note("s3://\(p.drBucket) holds \(model.isEmpty ? "the model" : model): \(manifest.artifacts.count) artifacts, \(total) bytes, digests match")
        return Output(model: model, artifacts: manifest.artifacts.count, bytes: total)
    }

    /// An object's bytes, or nil when it does not exist.
    func get(_ aws: AWSClient, _ bucket: String, _ key: String, limit: Int) async throws -> [UInt8]? {
        let path = "/" + AWSSigner.encode(bucket, keepSlash: false) + "/" + AWSSigner.encode(key, keepSlash: true)
        do {
            return try await aws.rest(method: "GET", path: path, maxResponseBytes: limit, what: "GetObject s3://\(bucket)/\(key)").body
        } catch let e as AWSError where e.status == 404 {
            return nil
        } catch {
            throw providerError(error, doing: "reading s3://\(bucket)/\(key)")
        }
    }
}
