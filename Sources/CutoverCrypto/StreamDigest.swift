internal import COpenSSL

/// SHA-256 over a stream whose state can be written down between 64-byte blocks and taken up
/// again, by this process or another: a copy resumed after a crash hashes only what it has not.
/// Not `Sendable`: one task feeds it.
public final class ResumableSHA256 {
    private var ctx = SHA256_CTX()

    public init() { cutover_sha256_init(&ctx) }

    /// Takes up a state `state` gave; nil when it is not one.
    public init?(state: String) {
        let parts = state.split(separator: ":")
        guard parts.count == 2, let bytes = UInt64(parts[1]), let raw = Hex.decode(String(parts[0])), raw.count == 32 else { return nil }
        var h = [UInt32](repeating: 0, count: 8)
        for i in 0..<8 { h[i] = raw[i * 4..<i * 4 + 4].reduce(0) { $0 << 8 | UInt32($1) } }
        h.withUnsafeBufferPointer { cutover_sha256_import(&ctx, $0.baseAddress, bytes) }
    }

    public func update(_ bytes: UnsafeRawBufferPointer) {
        guard let base = bytes.baseAddress, bytes.count > 0 else { return }
        cutover_sha256_update(&ctx, base, bytes.count)
    }

    public func update(_ bytes: [UInt8]) { bytes.withUnsafeBytes { update($0) } }

    /// `words:bytes`, what `init(state:)` takes; nil in the middle of a block (after a number
    /// of bytes that is not a multiple of 64).
    public var state: String? {
        var h = [UInt32](repeating: 0, count: 8)
        var bytes: UInt64 = 0
        let ok = h.withUnsafeMutableBufferPointer { cutover_sha256_export(&ctx, $0.baseAddress, &bytes) }
        guard ok == 1 else { return nil }
        var raw: [UInt8] = []
        for w in h { raw += [UInt8(w >> 24), UInt8(w >> 16 & 0xff), UInt8(w >> 8 & 0xff), UInt8(w & 0xff)] }
        return "\(Hex.encode(raw)):\(bytes)"
    }

    /// The bytes hashed so far.
    public var byteCount: Int64 {
        var h = [UInt32](repeating: 0, count: 8)
        var bytes: UInt64 = 0
        let ok = h.withUnsafeMutableBufferPointer { cutover_sha256_export(&ctx, $0.baseAddress, &bytes) }
        return ok == 1 ? Int64(bytes) : -1
    }

    /// The digest as lowercase hex. The hasher is spent afterwards.
    public func finish() -> String {
        var out = [UInt8](repeating: 0, count: 32)
        out.withUnsafeMutableBufferPointer { cutover_sha256_final(&ctx, $0.baseAddress) }
        return Hex.encode(out)
    }
}

/// MD5 over a stream, only to compare with the checksums object stores give (an S3 ETag, a
/// Cloud Storage `md5Hash`), never to identify content on its own.
public final class MD5Hasher {
    private let ctx: OpaquePointer

    public init() {
        ctx = EVP_MD_CTX_new()
        EVP_DigestInit_ex(ctx, cutover_md5(), nil)
    }

    deinit { EVP_MD_CTX_free(ctx) }

    public func update(_ bytes: UnsafeRawBufferPointer) {
        guard bytes.count > 0 else { return }
        _ = EVP_DigestUpdate(ctx, bytes.baseAddress, bytes.count)
    }

    public func update(_ bytes: [UInt8]) { bytes.withUnsafeBytes { update($0) } }

    /// The 16 bytes of the digest; the hasher starts over.
    public func finish() -> [UInt8] {
        var out = [UInt8](repeating: 0, count: 16)
        var length: UInt32 = 0
        out.withUnsafeMutableBufferPointer { _ = EVP_DigestFinal_ex(ctx, $0.baseAddress, &length) }
        EVP_DigestInit_ex(ctx, cutover_md5(), nil)
        return out
    }

    public static func hash(_ bytes: [UInt8]) -> [UInt8] {
        let h = MD5Hasher()
        h.update(bytes)
        return h.finish()
    }
}

/// CRC32C (Castagnoli) over a stream, to compare with what Cloud Storage reports for an
/// object (`crc32c`), never to identify content on its own.
public struct CRC32C {
    public private(set) var value: UInt32 = 0

    public init() {}

    public mutating func update(_ bytes: UnsafeRawBufferPointer) {
        guard let base = bytes.baseAddress, bytes.count > 0 else { return }
        value = cutover_crc32c(value, base, bytes.count)
    }

    public static func checksum(_ bytes: [UInt8]) -> UInt32 {
        var c = CRC32C()
        bytes.withUnsafeBytes { c.update($0) }
        return c.value
    }
}
