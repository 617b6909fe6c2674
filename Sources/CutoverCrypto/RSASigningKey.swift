import Foundation
internal import COpenSSL

/// An RSA private key that signs RS256 (RSASSA-PKCS1-v1_5 over SHA-256), as JWTs for Google's
/// token endpoint need. Read from PEM; the PEM text is never kept or shown.
public final class RSASigningKey: @unchecked Sendable {
    // @unchecked: the EVP_PKEY is never mutated after creation; libcrypto allows concurrent use.
    private let key: OpaquePointer

    /// The smallest modulus accepted: Google issues 2048-bit keys; anything shorter is forgeable.
    public static let minimumBits: Int32 = 2048

    private init(_ key: OpaquePointer) { self.key = key }

    deinit { EVP_PKEY_free(key) }

    /// Reads a PEM private key (PKCS#8 `PRIVATE KEY` or PKCS#1 `RSA PRIVATE KEY`). An encrypted
    /// key is refused, never prompted for.
    /// - Throws: `KeyError` naming `source` and what is wrong, never the key's text.
    public static func read(pem: String, source: String) throws -> RSASigningKey {
        defer { ERR_clear_error() }
        let bytes = Array(pem.utf8)
        return try bytes.withUnsafeBytes { raw -> RSASigningKey in
            guard let bio = BIO_new_mem_buf(raw.baseAddress, Int32(raw.count)) else { throw KeyError("\(source): out of memory") }
            defer { BIO_free(bio) }
            guard let key = cutover_read_private_key(bio) else {
                throw KeyError("\(source): not a PEM private key (or an encrypted one, which cutover cannot use)")
            }
            guard cutover_pkey_is_rsa(key) == 1 else {
                EVP_PKEY_free(key)
                throw KeyError("\(source): not an RSA key")
            }
            let bits = EVP_PKEY_get_bits(key)
            guard bits >= minimumBits else {
                EVP_PKEY_free(key)
                throw KeyError("\(source): an RSA key of \(bits) bits; at least \(minimumBits) are needed")
            }
            return RSASigningKey(key)
        }
    }

    /// The RS256 signature of `message`.
    public func signRS256(_ message: [UInt8]) throws -> [UInt8] {
        defer { ERR_clear_error() }
        guard let ctx = EVP_MD_CTX_new() else { throw KeyError("out of memory") }
        defer { EVP_MD_CTX_free(ctx) }
        var len = Int(EVP_PKEY_get_size(key))
        var sig = [UInt8](repeating: 0, count: len)
        guard EVP_DigestSignInit(ctx, nil, EVP_sha256(), nil, key) == 1,
            EVP_DigestSign(ctx, &sig, &len, message, message.count) == 1
        else { throw KeyError("RS256 signing failed") }
        return Array(sig.prefix(len))
    }
}

/// Base64url without padding (RFC 4648 §5), as JWTs use it.
public enum Base64URL {
    public static func encode(_ bytes: some Collection<UInt8>) -> String {
        var s = Data(bytes).base64EncodedString()
        while s.hasSuffix("=") { s.removeLast() }
        return String(s.map { $0 == "+" ? "-" : $0 == "/" ? "_" : $0 })
    }
}
