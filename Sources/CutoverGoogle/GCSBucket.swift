import CutoverCore
import CutoverCrypto
import CutoverNet
import CutoverProviders
import Foundation

/// A Cloud Storage bucket over the JSON API (`storage/v1`). Every write is a multipart upload
/// (`uploadType=multipart`: the object's metadata and its bytes in one request) with an
/// `ifGenerationMatch` precondition: `0` to create only, the generation read to replace. The
/// media and resumable upload types are not used: the sandbox's emulator ignores their
/// preconditions, and its resumable status query is wrong, so a copy cut short is sent again
/// whole.
struct GCSBucket: ObjectStore {
    let api: GoogleAPI
    let bucket: String

    var target: String { "gs://\(bucket) at \(URLText.redacted(api.root))" }
    var endpoints: [String] { api.endpoints }

    var reports: ReceivedChecksum { .crc32c }

    func url(_ key: String) -> String { "gs://\(bucket)/\(key)" }

    private var objects: String { "b/\(URLText.percentEncoded(bucket))/o" }
    private func object(_ key: String) -> String { objects + "/" + URLText.percentEncoded(key) }

    func list(prefix: String) async throws -> [StoredObject] {
        var out: [StoredObject] = []
        var token: String?
        var seen: Set<String> = []
        repeat {
            var query = [("prefix", prefix)]
            if let token { query.append(("pageToken", token)) }
            let page = try await call { try await api.call("GET", objects, query: query, what: "objects.list \(url(prefix))") }
            for item in page["items"]?.arrayValue ?? [] { out.append(try stored(item)) }
            let next = page["nextPageToken"]?.stringValue
            // A server that hands a page token back again would be asked for ever.
            if let next, !seen.insert(next).inserted { throw StepError(code: "gcp-garbage", message: "\(target): objects.list \(url(prefix)) gave a page token twice", retryable: true) }
            token = next
        } while token != nil
        return out.sorted { $0.key.utf8.lexicographicallyPrecedes($1.key.utf8) }
    }

    func head(_ key: String) async throws -> StoredObject? {
        do {
            return try stored(try await api.call("GET", object(key), what: "objects.get \(url(key))"))
        } catch let e as GoogleError where e.status == 404 {
            return nil
        } catch let e as GoogleError {
            throw e.stepError(doing: "reading \(url(key))")
        }
    }

    func read(_ key: String, limit: Int) async throws -> [UInt8]? {
        do {
            return try await api.bytes("GET", "storage/v1/" + object(key), query: [("alt", "media")], maxResponseBytes: limit, what: "objects.get \(url(key))").body
        } catch let e as GoogleError where e.status == 404 {
            return nil
        } catch let e as GoogleError {
            throw e.stepError(doing: "reading \(url(key))")
        }
    }

    func stream(_ object: StoredObject, range: Range<Int64>?, into sink: @escaping @Sendable (UnsafeRawBufferPointer) -> Bool) async throws {
        var query = [("alt", "media")]
        // The generation as listed, not one written since (Google answers 412 when it moved on).
        if let generation = object.version { query.append(("ifGenerationMatch", generation)) }
        let headers = range.map { [("Range", "bytes=\($0.lowerBound)-\($0.upperBound - 1)")] } ?? []
        do {
            _ = try await api.bytes(
                "GET", "storage/v1/" + self.object(object.key), query: query, headers: headers, download: HTTPDownload(write: sink),
                what: "objects.get \(url(object.key))")
        } catch let e as GoogleError where e.status == 404 || e.status == 412 {
            throw StepError(code: "object-missing", message: "\(url(object.key)) is gone or was replaced while being read (\(e.code)); run the step again", retryable: true)
        } catch let e as GoogleError {
            throw e.stepError(doing: "reading \(url(object.key))")
        }
    }

    func create(_ key: String, bytes: [UInt8], _ proof: RunProof) async throws -> Bool {
        try await write(key, bytes: bytes, generation: "0", proof) != nil
    }

    func create(_ key: String, length: Int64, from body: ByteChannel, checkedSHA256: String, _ proof: RunProof) async throws -> StoredObject? {
        try proof.check(doing: "writing \(url(key))")
        let parts = MultipartBody(key: key, metadata: [checkedDigestMetadata: checkedSHA256], length: length, body: body)
        do {
            let r = try await api.bytes(
                "POST", "upload/storage/v1/" + objects, query: [("uploadType", "multipart"), ("ifGenerationMatch", "0")],
                headers: [("Content-Type", "multipart/related; boundary=\(parts.frame.boundary)")],
                upload: HTTPUpload(length: parts.total, read: { parts.read(into: $0) }), what: "objects.insert \(url(key))",
                gate: proof.gate(doing: "writing \(url(key))"))
            return try stored(try answer(r, key))
        } catch let e as GoogleError where e.status == 412 {
            return nil
        } catch let e as GoogleError {
            throw body.failure ?? e.stepError(doing: "writing \(url(key))")
        } catch {
            throw body.failure ?? error
        }
    }

    func replace(_ key: String, bytes: [UInt8], current: StoredObject?, _ proof: RunProof) async throws -> Bool {
        try await write(key, bytes: bytes, generation: current?.version ?? "0", proof) != nil
    }

    func delete(_ key: String, current: StoredObject, _ proof: RunProof) async throws -> Bool {
        // Read again first as well: the sandbox's emulator ignores a delete's precondition.
        guard let now = try await head(key) else { return true }
        guard now.version == current.version, let generation = current.version else { return false }
        try proof.check(doing: "deleting \(url(key))")
        do {
            _ = try await api.bytes(
                "DELETE", "storage/v1/" + object(key), query: [("ifGenerationMatch", generation)], body: [], what: "objects.delete \(url(key))",
                gate: proof.gate(doing: "deleting \(url(key))"))
            return true
        } catch let e as GoogleError where e.status == 404 {
            return true
        } catch let e as GoogleError where e.status == 412 {
            return false
        } catch let e as GoogleError {
            throw e.stepError(doing: "deleting \(url(key))")
        }
    }

    /// A multipart upload of bytes in memory under a generation precondition; nil when it failed.
    private func write(_ key: String, bytes: [UInt8], generation: String, _ proof: RunProof) async throws -> StoredObject? {
        try proof.check(doing: "writing \(url(key))")
        let frame = MultipartFrame(key: key, metadata: [:])
        do {
            let r = try await api.bytes(
                "POST", "upload/storage/v1/" + objects, query: [("uploadType", "multipart"), ("ifGenerationMatch", generation)],
                headers: [("Content-Type", "multipart/related; boundary=\(frame.boundary)")], body: frame.head + bytes + frame.tail,
                what: "objects.insert \(url(key))",
                gate: proof.gate(doing: "writing \(url(key))"))
            return try stored(try answer(r, key))
        } catch let e as GoogleError where e.status == 412 {
            return nil
        } catch let e as GoogleError {
            throw e.stepError(doing: "writing \(url(key))")
        }
    }

    private func answer(_ r: HTTPResponse, _ key: String) throws -> JSONValue {
        guard let json = try? JSONValue.parse(Data(r.body)), json.objectValue != nil else {
            throw StepError(code: "gcp-garbage", message: "\(target): writing \(url(key)) answered HTTP \(r.status) with something that is not an object resource: \(HTTPResponse.snippet(r.body))", retryable: true)
        }
        return json
    }

    private func call(_ body: () async throws -> JSONValue) async throws -> JSONValue {
        do { return try await body() } catch let e as GoogleError { throw e.stepError(doing: "listing \(target)") }
    }

    /// An object resource as a `StoredObject`.
    func stored(_ item: JSONValue) throws -> StoredObject {
        guard let name = item["name"]?.stringValue, let size = item["size"]?.stringValue.flatMap({ Int64($0) }) else {
            throw StepError(code: "gcp-garbage", message: "\(target): an object resource without name or size", retryable: true)
        }
        return StoredObject(
            key: name, size: size, checksum: Self.checksum(md5Hash: item["md5Hash"]?.stringValue), version: item["generation"]?.stringValue,
            checkedSHA256: item["metadata"]?[checkedDigestMetadata]?.stringValue, crc32c: Self.crc32c(item["crc32c"]?.stringValue))
    }

    /// Google's base64 of the big-endian CRC32C.
    static func crc32c(_ text: String?) -> UInt32? {
        guard let t = text, let raw = Data(base64Encoded: t), raw.count == 4 else { return nil }
        return raw.reduce(0) { $0 << 8 | UInt32($1) }
    }

    /// `md5:hex` from Google's base64 `md5Hash`; a composite object has none.
    static func checksum(md5Hash: String?) -> String? {
        guard let m = md5Hash, let raw = Data(base64Encoded: m), raw.count == 16 else { return nil }
        return "md5:" + Hex.encode(Array(raw))
    }
}

/// The body of a multipart upload, produced as curl reads it: the metadata part, then exactly
/// `length` bytes from the channel (`ChannelBody`: the source's end checked before its last
/// byte goes), then the closing boundary. Read on one thread only.
private final class MultipartBody: @unchecked Sendable {
    let frame: MultipartFrame
    let body: ChannelBody
    private var headSent = 0
    private var tailSent = 0
    private var head: [UInt8] { frame.head }
    private var tail: [UInt8] { frame.tail }

    init(key: String, metadata: [String: String], length: Int64, body: ByteChannel) {
        frame = MultipartFrame(key: key, metadata: metadata)
        self.body = ChannelBody(body, length: length)
    }

    var total: Int64 { Int64(head.count) + body.length + Int64(tail.count) }

    func read(into buffer: UnsafeMutableRawBufferPointer) -> Int? {
        if headSent < head.count {
            let n = min(buffer.count, head.count - headSent)
            head.withUnsafeBytes { buffer.copyMemory(from: UnsafeRawBufferPointer(rebasing: $0[headSent..<headSent + n])) }
            headSent += n
            return n
        }
        guard let n = body.read(into: buffer) else { return nil }
        if n > 0 { return n }
        guard tailSent < tail.count else { return 0 }
        let t = min(buffer.count, tail.count - tailSent)
        tail.withUnsafeBytes { buffer.copyMemory(from: UnsafeRawBufferPointer(rebasing: $0[tailSent..<tailSent + t])) }
        tailSent += t
        return t
    }
}

/// What a multipart upload's bytes go between: the object's resource (name, content type,
/// metadata) as the first part, and the closing boundary.
private struct MultipartFrame {
    let boundary = "cutover-" + UUID().uuidString
    let head: [UInt8]
    let tail: [UInt8]

    init(key: String, metadata: [String: String]) {
        var resource: [String: JSONValue] = ["name": .string(key), "contentType": .string("application/octet-stream")]
        if !metadata.isEmpty { resource["metadata"] = .object(metadata.mapValues { .string($0) }) }
        head = Array("--\(boundary)\r\nContent-Type: application/json; charset=UTF-8\r\n\r\n\(JSONValue.object(resource).canonicalString)\r\n--\(boundary)\r\nContent-Type: application/octet-stream\r\n\r\n".utf8)
        tail = Array("\r\n--\(boundary)--\r\n".utf8)
    }
}
