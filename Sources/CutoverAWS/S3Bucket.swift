import CutoverCore
import CutoverNet
import CutoverProviders
import Foundation

/// An S3 bucket, path-style (`/bucket/key`), so moto_server and real S3 read the same requests.
struct S3Bucket: ObjectStore {
    let aws: AWSClient
    let bucket: String

    var target: String { "s3://\(bucket) at \(HTTPRequest.redacted(aws.endpoint))" }

    func url(_ key: String) -> String { "s3://\(bucket)/\(key)" }

    private func path(_ key: String) -> String {
        "/" + AWSSigner.encode(bucket, keepSlash: false) + "/" + AWSSigner.encode(key, keepSlash: true)
    }

    func list(prefix: String) async throws -> [StoredObject] {
        var out: [StoredObject] = []
        var token: String?
        repeat {
            // Query parameters in the order SigV4 canonicalises them.
            var query = "list-type=2&prefix=\(AWSSigner.encode(prefix, keepSlash: false))"
            if let t = token { query = "continuation-token=\(AWSSigner.encode(t, keepSlash: false))&" + query }
            let r = try await aws.rest(method: "GET", path: "/" + AWSSigner.encode(bucket, keepSlash: false), query: query, what: "ListObjectsV2 \(url(prefix))")
            let root = try aws.xml(r, what: "ListObjectsV2")
            for c in root.all("Contents") {
                guard let key = c["Key"]?.text, let size = c["Size"].flatMap({ Int64($0.text) }) else {
                    throw StepError(code: "aws-garbage", message: "\(target): ListObjectsV2 listed an object without Key or Size", retryable: true)
                }
                out.append(StoredObject(key: key, size: size, checksum: Self.checksum(etag: c["ETag"]?.text)))
            }
            token = root["IsTruncated"]?.text == "true" ? root["NextContinuationToken"]?.text : nil
        } while token != nil
        return out
    }

    /// A single-part upload's ETag is the MD5 of its bytes; a multipart one (`...-N`) is not.
    static func checksum(etag: String?) -> String? {
        guard let e = etag?.trimmingCharacters(in: CharacterSet(charactersIn: "\"")), e.count == 32, e.allSatisfy(\.isHexDigit) else { return nil }
        return "md5:" + e.lowercased()
    }

    func read(_ key: String, limit: Int) async throws -> [UInt8]? {
        do {
            return try await aws.rest(method: "GET", path: path(key), maxResponseBytes: limit, what: "GetObject \(url(key))").body
        } catch let e as AWSError where e.status == 404 {
            return nil
        }
    }

    func create(_ key: String, bytes: [UInt8], _ proof: RunProof) async throws -> Bool {
        try proof.check(doing: "writing \(url(key))")
        do {
            // `If-None-Match: *`: S3 refuses (412) when the key exists, atomically.
            _ = try await aws.rest(
                method: "PUT", path: path(key), headers: [("Content-Type", "application/octet-stream"), ("If-None-Match", "*")],
                body: bytes, what: "PutObject \(url(key))", gate: proof.gate(doing: "writing \(url(key))"))
            return true
        } catch let e as AWSError where e.status == 412 || e.code == "PreconditionFailed" {
            return false
        }
    }
}
