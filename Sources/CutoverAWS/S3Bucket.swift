import CutoverCore
import CutoverCrypto
import CutoverNet
import CutoverProviders
import Foundation

/// An S3 bucket, path-style (`/bucket/key`), so moto_server and real S3 read the same requests.
struct S3Bucket: ObjectStore {
    let aws: AWSClient
    let bucket: String

    var target: String { "s3://\(bucket) at \(HTTPRequest.redacted(aws.endpoint))" }
    var endpoints: [String] { [aws.endpoint] }

    func url(_ key: String) -> String { "s3://\(bucket)/\(key)" }

    func path(_ key: String) -> String {
        "/" + AWSSigner.encode(bucket, keepSlash: false) + "/" + AWSSigner.encode(key, keepSlash: true)
    }

    func list(prefix: String) async throws -> [StoredObject] {
        var out: [StoredObject] = []
        var token: String?
        var seen: Set<String> = []
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
                out.append(StoredObject(key: key, size: size, checksum: Self.checksum(etag: c["ETag"]?.text), version: c["ETag"]?.text))
            }
            token = root["IsTruncated"]?.text == "true" ? root["NextContinuationToken"]?.text : nil
            // A server that hands a continuation token back again would be asked for ever.
            if let t = token, !seen.insert(t).inserted { throw StepError(code: "aws-garbage", message: "\(target): ListObjectsV2 \(url(prefix)) gave a continuation token twice", retryable: true) }
        } while token != nil
        return out
    }

    /// A single-part upload's ETag is the MD5 of its bytes; a multipart one (`...-N`) is not,
    /// nor is any ETag of an object encrypted with KMS or customer-provided keys.
    static func checksum(etag: String?, encrypted: Bool = false) -> String? {
        guard !encrypted, let e = etag?.trimmingCharacters(in: CharacterSet(charactersIn: "\"")), e.count == 32, e.allSatisfy(\.isHexDigit) else { return nil }
        return "md5:" + e.lowercased()
    }

    /// Whether an answer says the object is encrypted with KMS or customer keys (its ETag then
    /// is no MD5 of the bytes).
    static func opaqueETag(_ headers: [String: String]) -> Bool {
        (headers["x-amz-server-side-encryption"].map { $0.hasPrefix("aws:kms") } ?? false)
            || headers["x-amz-server-side-encryption-customer-algorithm"] != nil
    }

    func read(_ key: String, limit: Int) async throws -> [UInt8]? {
        do {
            return try await aws.rest(method: "GET", path: path(key), maxResponseBytes: limit, what: "GetObject \(url(key))").body
        } catch let e as AWSError where e.status == 404 {
            return nil
        }
    }

    func head(_ key: String) async throws -> StoredObject? {
        let r: HTTPResponse
        do {
            r = try await aws.rest(method: "HEAD", path: path(key), what: "HeadObject \(url(key))")
        } catch let e as AWSError where e.status == 404 {
            return nil
        }
        guard let size = r.headers["content-length"].flatMap({ Int64($0) }) else {
            throw StepError(code: "aws-garbage", message: "\(target): HeadObject \(url(key)) answered without Content-Length", retryable: true)
        }
        let etag = r.headers["etag"]
        return StoredObject(
            key: key, size: size, checksum: Self.checksum(etag: etag, encrypted: Self.opaqueETag(r.headers)), version: etag,
            checkedSHA256: r.headers["x-amz-meta-\(checkedDigestMetadata)"])
    }

    func stream(_ object: StoredObject, range: Range<Int64>?, into sink: @escaping @Sendable (UnsafeRawBufferPointer) -> Bool) async throws {
        var headers: [(String, String)] = []
        // The object as listed, not one written since: S3 answers 412 when the ETag moved on.
        if let etag = object.version { headers.append(("If-Match", etag)) }
        if let range { headers.append(("Range", "bytes=\(range.lowerBound)-\(range.upperBound - 1)")) }
        do {
            _ = try await aws.stream(method: "GET", path: path(object.key), headers: headers, download: HTTPDownload(write: sink), what: "GetObject \(url(object.key))")
        } catch let e as AWSError where e.status == 404 || e.status == 412 {
            throw StepError(code: "object-missing", message: "\(url(object.key)) is gone or was replaced while being read (\(e.code)); run the step again", retryable: true)
        }
    }

    func create(_ key: String, length: Int64, from body: ByteChannel, checkedSHA256: String, _ proof: RunProof) async throws -> StoredObject? {
        try proof.check(doing: "writing \(url(key))")
        do {
            let r = try await aws.stream(
                method: "PUT", path: path(key),
                headers: [("Content-Type", "application/octet-stream"), ("If-None-Match", "*"), ("x-amz-meta-\(checkedDigestMetadata)", checkedSHA256)],
                upload: HTTPUpload(length: length, read: { [b = ChannelBody(body, length: length)] in b.read(into: $0) }), what: "PutObject \(url(key))",
                gate: proof.gate(doing: "writing \(url(key))"))
            let etag = r.headers["etag"]
            return StoredObject(key: key, size: length, checksum: Self.checksum(etag: etag, encrypted: Self.opaqueETag(r.headers)), version: etag, checkedSHA256: checkedSHA256)
        } catch let e as AWSError where e.status == 412 || e.code == "PreconditionFailed" {
            return nil
        } catch {
            throw body.failure ?? error
        }
    }

    func replace(_ key: String, bytes: [UInt8], current: StoredObject?, _ proof: RunProof) async throws -> Bool {
        try proof.check(doing: "writing \(url(key))")
        // S3's conditional writes: `If-Match` the ETag read, or `If-None-Match: *` for a new key.
        let condition = current?.version.map { ("If-Match", $0) } ?? ("If-None-Match", "*")
        do {
            _ = try await aws.rest(
                method: "PUT", path: path(key), headers: [("Content-Type", "application/octet-stream"), condition],
                body: bytes, what: "PutObject \(url(key))", gate: proof.gate(doing: "writing \(url(key))"))
            return true
        } catch let e as AWSError where e.status == 412 || e.status == 409 || e.code == "PreconditionFailed" {
            return false
        }
    }

    func delete(_ key: String, current: StoredObject, _ proof: RunProof) async throws -> Bool {
        // S3 deletes unconditionally (its `If-Match` on DELETE is for directory buckets): read
        // again right before, and refuse when the object moved on.
        guard let now = try await head(key) else { return true }
        guard now.version == current.version else { return false }
        try proof.check(doing: "deleting \(url(key))")
        _ = try await aws.rest(method: "DELETE", path: path(key), what: "DeleteObject \(url(key))", gate: proof.gate(doing: "deleting \(url(key))"))
        return true
    }

    var parts: (any PartedUploads)? { self }

    func create(_ key: String, bytes: [UInt8], _ proof: RunProof) async throws -> Bool {
        try proof.check(doing: "writing \(url(key))")
        do {
            // `If-None-Match: *`: S3 refuses (412) when the key exists, atomically. The SHA-256
            // is checked by S3 on receipt (a changed byte is refused), and is what a bucket under
            // Object Lock requires of every write.
            let digest = Data(SHA256.hash(bytes)).base64EncodedString()
            _ = try await aws.rest(
                method: "PUT", path: path(key),
                headers: [("Content-Type", "application/octet-stream"), ("If-None-Match", "*"), ("x-amz-checksum-sha256", digest),
                    ("x-amz-sdk-checksum-algorithm", "SHA256")],
                body: bytes, what: "PutObject \(url(key))", gate: proof.gate(doing: "writing \(url(key))"))
            return true
        } catch let e as AWSError where e.status == 412 || e.code == "PreconditionFailed" {
            return false
        }
    }
}

extension S3Bucket: PartedUploads {
    var minimumPartSize: Int64 { 5 << 20 }

    func start(_ key: String, checkedSHA256: String, _ proof: RunProof) async throws -> String {
        try proof.check(doing: "starting an upload to \(url(key))")
        let r = try await aws.rest(
            method: "POST", path: path(key), query: "uploads=",
            headers: [("Content-Type", "application/octet-stream"), ("x-amz-meta-\(checkedDigestMetadata)", checkedSHA256)],
            what: "CreateMultipartUpload \(url(key))", gate: proof.gate(doing: "starting an upload to \(url(key))"))
        guard let id = try aws.xml(r, what: "CreateMultipartUpload")["UploadId"]?.text, !id.isEmpty else {
            throw StepError(code: "aws-garbage", message: "\(target): CreateMultipartUpload \(url(key)) answered without an UploadId", retryable: true)
        }
        return id
    }

    func parts(_ key: String, upload: String) async throws -> [UploadedPart]? {
        var out: [UploadedPart] = []
        var marker: String?
        var seen: Set<String> = []
        repeat {
            var query = "uploadId=\(AWSSigner.encode(upload, keepSlash: false))"
            if let m = marker { query = "part-number-marker=\(m)&" + query }
            let r: HTTPResponse
            do {
                r = try await aws.rest(method: "GET", path: path(key), query: query, what: "ListParts \(url(key))")
            } catch let e as AWSError where e.status == 404 || e.code == "NoSuchUpload" {
                return nil
            }
            let root = try aws.xml(r, what: "ListParts")
            for p in root.all("Part") {
                guard let n = p["PartNumber"].flatMap({ Int($0.text) }), let etag = p["ETag"]?.text, let size = p["Size"].flatMap({ Int64($0.text) }) else {
                    throw StepError(code: "aws-garbage", message: "\(target): ListParts \(url(key)) listed a part without PartNumber, ETag or Size", retryable: true)
                }
                out.append(UploadedPart(number: n, etag: etag, size: size, md5: Self.checksum(etag: etag).map { String($0.dropFirst(4)) }))
            }
            let next = root["IsTruncated"]?.text == "true" ? root["NextPartNumberMarker"]?.text : nil
            // A server that hands a page marker back again would be asked for ever.
            if let next, !seen.insert(next).inserted { throw StepError(code: "aws-garbage", message: "\(target): ListParts \(url(key)) gave a page marker twice", retryable: true) }
            marker = next
        } while marker != nil
        return out.sorted { $0.number < $1.number }
    }

    func send(_ key: String, upload: String, number: Int, length: Int64, from body: ByteChannel, _ proof: RunProof) async throws -> UploadedPart {
        try proof.check(doing: "writing part \(number) of \(url(key))")
        do {
            let r = try await aws.stream(
                method: "PUT", path: path(key), query: "partNumber=\(number)&uploadId=\(AWSSigner.encode(upload, keepSlash: false))",
                headers: [("Content-Type", "application/octet-stream")],
                upload: HTTPUpload(length: length, read: { [b = ChannelBody(body, length: length)] in b.read(into: $0) }), what: "UploadPart \(number) \(url(key))",
                gate: proof.gate(doing: "writing part \(number) of \(url(key))"))
            guard let etag = r.headers["etag"] else {
                throw StepError(code: "aws-garbage", message: "\(target): UploadPart \(number) \(url(key)) answered without an ETag", retryable: true)
            }
            let md5 = Self.checksum(etag: etag, encrypted: Self.opaqueETag(r.headers)).map { String($0.dropFirst(4)) }
            return UploadedPart(number: number, etag: etag, size: length, md5: md5)
        } catch {
            throw body.failure ?? error
        }
    }

    func complete(_ key: String, upload: String, parts: [UploadedPart], _ proof: RunProof) async throws -> StoredObject? {
        try proof.check(doing: "completing \(url(key))")
        let list = parts.map { "<Part><PartNumber>\($0.number)</PartNumber><ETag>\(XMLTree.escape($0.etag))</ETag></Part>" }.joined()
        do {
            // `If-None-Match: *` on completion: the object appears only where none was.
            let r = try await aws.rest(
                method: "POST", path: path(key), query: "uploadId=\(AWSSigner.encode(upload, keepSlash: false))",
                headers: [("Content-Type", "application/xml"), ("If-None-Match", "*")],
                body: Array("<CompleteMultipartUpload>\(list)</CompleteMultipartUpload>".utf8), what: "CompleteMultipartUpload \(url(key))",
                gate: proof.gate(doing: "completing \(url(key))"))
            let root = try aws.xml(r, what: "CompleteMultipartUpload")
            if root.name == "Error" || root.find("Error") != nil {
                // S3 may answer 200 and then fail the completion in the body; an internal error
                // there passes by trying again, as it would with a 500.
                var e = aws.error(from: r, what: "CompleteMultipartUpload \(url(key))")
                if ["InternalError", "ServiceUnavailable", "SlowDown"].contains(e.code) { e.retryable = true }
                throw e
            }
            let etag = root["ETag"]?.text
            return StoredObject(key: key, size: parts.reduce(0) { $0 + $1.size }, checksum: nil, version: etag)
        } catch let e as AWSError where e.status == 412 || e.code == "PreconditionFailed" {
            try await abort(key, upload: upload, proof)
            return nil
        }
    }

    func abort(_ key: String, upload: String, _ proof: RunProof) async throws {
        try proof.check(doing: "aborting the upload to \(url(key))")
        do {
            _ = try await aws.rest(
                method: "DELETE", path: path(key), query: "uploadId=\(AWSSigner.encode(upload, keepSlash: false))",
                what: "AbortMultipartUpload \(url(key))", gate: proof.gate(doing: "aborting the upload to \(url(key))"))
        } catch let e as AWSError where e.status == 404 || e.code == "NoSuchUpload" {
            return
        }
    }
}

extension S3Bucket: ObjectVersions {
    var versions: (any ObjectVersions)? { self }

    func versions(prefix: String) async throws -> [ObjectVersion] {
        var out: [ObjectVersion] = []
        var marker: (key: String, version: String)?
        var seen: Set<String> = []
        repeat {
            // Query parameters in the order SigV4 canonicalises them.
            var query = "prefix=\(AWSSigner.encode(prefix, keepSlash: false))"
            if let m = marker {
                query = "key-marker=\(AWSSigner.encode(m.key, keepSlash: false))&" + query + "&version-id-marker=\(AWSSigner.encode(m.version, keepSlash: false))"
            }
            query += "&versions="
            let r = try await aws.rest(method: "GET", path: "/" + AWSSigner.encode(bucket, keepSlash: false), query: query, what: "ListObjectVersions \(url(prefix))")
            let root = try aws.xml(r, what: "ListObjectVersions")
            for (name, deleted) in [("Version", false), ("DeleteMarker", true)] {
                for v in root.all(name) {
                    guard let key = v["Key"]?.text, let id = v["VersionId"]?.text else {
                        throw StepError(code: "aws-garbage", message: "\(target): ListObjectVersions listed a version without Key or VersionId", retryable: true)
                    }
                    out.append(ObjectVersion(key: key, version: id, deleted: deleted))
                }
            }
            if root["IsTruncated"]?.text == "true", let k = root["NextKeyMarker"]?.text, let v = root["NextVersionIdMarker"]?.text {
                guard seen.insert(k + "\u{0}" + v).inserted else {
                    throw StepError(code: "aws-garbage", message: "\(target): ListObjectVersions \(url(prefix)) gave the same marker twice", retryable: true)
                }
                marker = (k, v)
            } else {
                marker = nil
            }
        } while marker != nil
        return out
    }

    func read(_ key: String, version: String, limit: Int) async throws -> [UInt8]? {
        do {
            return try await aws.rest(
                method: "GET", path: path(key), query: "versionId=\(AWSSigner.encode(version, keepSlash: false))", maxResponseBytes: limit,
                what: "GetObject \(url(key)) version \(version)"
            ).body
        } catch let e as AWSError where e.status == 404 {
            return nil
        }
    }
}
