import Foundation
internal import COpenSSL

/// A failure of key handling or signing, naming the file when there is one.
public struct KeyError: Error, Sendable, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}

/// An Ed25519 key pair (or a public key alone) held by libcrypto.
public final class Ed25519Key: @unchecked Sendable {
    // @unchecked: the EVP_PKEY is never mutated after creation; libcrypto allows concurrent use.
    private let key: OpaquePointer
    public let hasPrivateKey: Bool

    private init(_ key: OpaquePointer, hasPrivateKey: Bool) {
        self.key = key
        self.hasPrivateKey = hasPrivateKey
    }

    deinit { EVP_PKEY_free(key) }

    /// A new random key pair.
    public static func generate() throws -> Ed25519Key {
        guard let ctx = cutover_ed25519_keygen_ctx() else { throw KeyError("libcrypto has no Ed25519") }
        defer { EVP_PKEY_CTX_free(ctx) }
        var key: OpaquePointer?
        guard EVP_PKEY_keygen_init(ctx) == 1, EVP_PKEY_keygen(ctx, &key) == 1, let key else {
            throw KeyError("Ed25519 key generation failed")
        }
        return Ed25519Key(key, hasPrivateKey: true)
    }

    /// Reads a PEM private key (PKCS#8) or public key (SubjectPublicKeyInfo).
    public static func read(pem: String, source: String) throws -> Ed25519Key {
        let bytes = Array(pem.utf8)
        return try bytes.withUnsafeBytes { raw -> Ed25519Key in
            guard let bio = BIO_new_mem_buf(raw.baseAddress, Int32(raw.count)) else { throw KeyError("\(source): out of memory") }
            defer { BIO_free(bio) }
            let isPrivate = pem.contains("PRIVATE KEY")
            let key = isPrivate ? cutover_read_private_key(bio) : PEM_read_bio_PUBKEY(bio, nil, nil, nil)
            guard let key else { throw KeyError("\(source): not a PEM \(isPrivate ? "private" : "public") key") }
            guard cutover_pkey_is_ed25519(key) == 1 else {
                EVP_PKEY_free(key)
                throw KeyError("\(source): not an Ed25519 key")
            }
            return Ed25519Key(key, hasPrivateKey: isPrivate)
        }
    }

    /// A public key from its 32 raw bytes (the form an OpenSSH public key carries).
    public static func publicKey(raw: [UInt8]) throws -> Ed25519Key {
        guard raw.count == 32, let key = cutover_ed25519_public_raw(raw) else { throw KeyError("an Ed25519 public key is 32 bytes") }
        return Ed25519Key(key, hasPrivateKey: false)
    }

    /// A key pair from its 32-byte seed (the first half of an OpenSSH Ed25519 private key).
    public static func privateKey(seed: [UInt8]) throws -> Ed25519Key {
        guard seed.count == 32, let key = cutover_ed25519_private_raw(seed) else { throw KeyError("an Ed25519 private key is a 32-byte seed") }
        return Ed25519Key(key, hasPrivateKey: true)
    }

    public static func read(file: String) throws -> Ed25519Key {
        guard let text = try? String(contentsOfFile: file, encoding: .utf8) else { throw KeyError("\(file): cannot be read") }
        return try read(pem: text, source: file)
    }

    private func pem(_ write: (OpaquePointer) -> Int32) throws -> String {
        guard let bio = BIO_new(BIO_s_mem()) else { throw KeyError("out of memory") }
        defer { BIO_free(bio) }
        guard write(bio) == 1 else { throw KeyError("could not encode the key as PEM") }
        var data: UnsafeMutablePointer<CChar>?
        let n = cutover_bio_mem_data(bio, &data)
        guard let data, n > 0 else { throw KeyError("could not encode the key as PEM") }
        return String(decoding: UnsafeRawBufferPointer(start: data, count: n), as: UTF8.self)
    }

    /// The private key as PKCS#8 PEM (unencrypted: protect the file).
    public func privatePEM() throws -> String {
        guard hasPrivateKey else { throw KeyError("this is a public key only") }
        return try pem { PEM_write_bio_PrivateKey($0, key, nil, nil, 0, nil, nil) }
    }

    public func publicPEM() throws -> String {
        try pem { PEM_write_bio_PUBKEY($0, key) }
    }

    /// The 32 raw bytes of the public key.
    public var publicKeyBytes: [UInt8] {
        var out = [UInt8](repeating: 0, count: 32)
        var len = 32
        _ = EVP_PKEY_get_raw_public_key(key, &out, &len)
        return Array(out.prefix(len))
    }

    /// `ed25519:` and the first 16 hex digits of SHA-256 over the raw public key.
    public var fingerprint: String { "ed25519:" + String(Hex.encode(SHA256.hash(publicKeyBytes)).prefix(16)) }

    public func sign(_ message: [UInt8]) throws -> [UInt8] {
        guard hasPrivateKey else { throw KeyError("signing needs the private key") }
        guard let ctx = EVP_MD_CTX_new() else { throw KeyError("out of memory") }
        defer { EVP_MD_CTX_free(ctx) }
        var sig = [UInt8](repeating: 0, count: 64)
        var len = 64
        guard EVP_DigestSignInit(ctx, nil, nil, nil, key) == 1,
            EVP_DigestSign(ctx, &sig, &len, message, message.count) == 1
        else { throw KeyError("Ed25519 signing failed") }
        return Array(sig.prefix(len))
    }

    public func verify(_ signature: [UInt8], of message: [UInt8]) -> Bool {
        guard let ctx = EVP_MD_CTX_new() else { return false }
        defer { EVP_MD_CTX_free(ctx) }
        guard EVP_DigestVerifyInit(ctx, nil, nil, nil, key) == 1 else { return false }
        return EVP_DigestVerify(ctx, signature, signature.count, message, message.count) == 1
    }
}
