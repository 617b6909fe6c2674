import Foundation
internal import COpenSSL

/// The SSH wire encoding (RFC 4251 §5): big-endian `uint32`, and `string` as a length
/// followed by its bytes.
struct SSHWireReader {
    private let bytes: [UInt8]
    private var at = 0
    init(_ bytes: [UInt8]) { self.bytes = bytes }

    var isAtEnd: Bool { at == bytes.count }

    mutating func take(_ n: Int) throws -> [UInt8] {
        guard n >= 0, bytes.count - at >= n else { throw KeyError("truncated SSH data") }
        defer { at += n }
        return Array(bytes[at..<(at + n)])
    }

    mutating func uint32() throws -> UInt32 {
        try take(4).reduce(0) { $0 << 8 | UInt32($1) }
    }

    mutating func string() throws -> [UInt8] {
        try take(Int(try uint32()))
    }

    mutating func text() throws -> String {
        String(decoding: try string(), as: UTF8.self)
    }
}

struct SSHWireWriter {
    private(set) var bytes: [UInt8] = []

    mutating func raw(_ b: some Collection<UInt8>) { bytes += b }

    mutating func uint32(_ v: UInt32) { bytes += [UInt8(v >> 24 & 0xff), UInt8(v >> 16 & 0xff), UInt8(v >> 8 & 0xff), UInt8(v & 0xff)] }

    mutating func string(_ b: some Collection<UInt8>) {
        uint32(UInt32(b.count))
        bytes += b
    }

    mutating func string(_ s: String) { string(Array(s.utf8)) }
}

/// An OpenSSH public key, as a runbook lists it: `ssh-ed25519 AAAA… [comment]`. Only Ed25519
/// is accepted (see `refusal(forType:)` for why the others are not).
public struct SSHPublicKey: Sendable, Equatable {
    public static let ed25519 = "ssh-ed25519"
    /// The key in its wire form (`string "ssh-ed25519", string key`).
    public let blob: [UInt8]
    /// The 32 raw bytes of the Ed25519 key.
    public let raw: [UInt8]

    /// Parses `TYPE BASE64 [comment]`.
    /// - Throws: `KeyError` saying what is wrong, or why the key type is refused.
    public init(_ text: String) throws {
        let parts = text.split(whereSeparator: { $0 == " " || $0 == "\t" })
        guard parts.count >= 2 else { throw KeyError("not an OpenSSH public key (expected \"ssh-ed25519 AAAA…\")") }
        let type = String(parts[0])
        if type != Self.ed25519 { throw KeyError(Self.refusal(forType: type)) }
        guard let blob = Data(base64Encoded: String(parts[1])).map({ [UInt8]($0) }) else {
            throw KeyError("the key's base64 does not decode")
        }
        try self.init(blob: blob)
    }

    /// A key from its wire form.
    public init(blob: [UInt8]) throws {
        var r = SSHWireReader(blob)
        let type = try r.text()
        if type != Self.ed25519 { throw KeyError(Self.refusal(forType: type)) }
        let raw = try r.string()
        guard raw.count == 32, r.isAtEnd else { throw KeyError("an ssh-ed25519 key holds 32 bytes") }
        self.blob = blob
        self.raw = raw
    }

    /// `ssh-ed25519 BASE64`, without a comment.
    public var text: String { "\(Self.ed25519) \(Data(blob).base64EncodedString())" }

    /// `SHA256:…`, as `ssh-keygen -l` prints it.
    public var fingerprint: String {
        "SHA256:" + Data(SHA256.hash(blob)).base64EncodedString().replacingOccurrences(of: "=", with: "")
    }

    /// Why a key type other than Ed25519 is refused.
    public static func refusal(forType type: String) -> String {
        let why: String
        switch type {
        case "ssh-rsa", "rsa-sha2-256", "rsa-sha2-512":
            why = "RSA signatures in the SSH formats may use SHA-1 (older agents still do) and a short RSA key is weak, which an auditor cannot tell from the approval"
        case let t where t.hasPrefix("ecdsa-sha2-"):
            why = "ECDSA reveals its private key if a signing nonce ever repeats, and cutover verifies one algorithm well rather than several"
        case "ssh-dss":
            why = "DSA keys are 1024 bits and OpenSSH itself has removed them"
        case let t where t.hasPrefix("sk-"):
            why = "security-key (FIDO) signatures carry flags and a counter that cutover does not check yet"
        default:
            why = "it is not a key type cutover knows"
        }
        return "\(type) keys are refused: \(why); use an Ed25519 key (ssh-keygen -t ed25519)"
    }

    func verifier() throws -> Ed25519Key { try Ed25519Key.publicKey(raw: raw) }
}

/// OpenSSH signatures of data (`ssh-keygen -Y sign`, the `SSHSIG` format of OpenSSH's
/// PROTOCOL.sshsig): a namespace keeps a signature made for one purpose from being used for
/// another, and the message is hashed (SHA-512) before it is signed.
public enum SSHSignature {
    static let magic = Array("SSHSIG".utf8)
    static let begin = "-----BEGIN SSH SIGNATURE-----"
    static let end = "-----END SSH SIGNATURE-----"

    /// What the key actually signs: the magic, the namespace, the hash algorithm and the
    /// message's hash.
    public static func signedData(_ message: [UInt8], namespace: String, hashAlgorithm: String = "sha512") throws -> [UInt8] {
        var w = SSHWireWriter()
        w.raw(magic)
        w.string(namespace)
        w.string([UInt8]())
        w.string(hashAlgorithm)
        w.string(try hash(message, hashAlgorithm))
        return w.bytes
    }

    private static func hash(_ message: [UInt8], _ algorithm: String) throws -> [UInt8] {
        switch algorithm {
        case "sha256": return SHA256.hash(message)
        case "sha512":
            var out = [UInt8](repeating: 0, count: 64)
            var len: UInt32 = 64
            guard EVP_Digest(message, message.count, &out, &len, EVP_sha512(), nil) == 1 else { throw KeyError("SHA-512 failed") }
            return out
        default: throw KeyError("the signature's hash algorithm \(algorithm) is not sha256 or sha512")
        }
    }

    /// Signs with a key held here.
    public static func sign(_ message: [UInt8], namespace: String, key: Ed25519Key) throws -> String {
        let publicKey = try SSHPublicKey(blob: Self.publicBlob(key.publicKeyBytes))
        return try sign(message, namespace: namespace, publicKey: publicKey) { data in
            var w = SSHWireWriter()
            w.string(SSHPublicKey.ed25519)
            w.string(try key.sign(data))
            return w.bytes
        }
    }

    /// Signs through something that holds the key (an agent): `signer` gets the data to sign
    /// and answers the SSH signature blob (`string "ssh-ed25519", string signature`).
    public static func sign(_ message: [UInt8], namespace: String, publicKey: SSHPublicKey, signer: ([UInt8]) throws -> [UInt8]) throws -> String {
        let signature = try signer(try signedData(message, namespace: namespace))
        var w = SSHWireWriter()
        w.raw(magic)
        w.uint32(1)
        w.string(publicKey.blob)
        w.string(namespace)
        w.string([UInt8]())
        w.string("sha512")
        w.string(signature)
        return armor(w.bytes)
    }

    static func publicBlob(_ raw: [UInt8]) -> [UInt8] {
        var w = SSHWireWriter()
        w.string(SSHPublicKey.ed25519)
        w.string(raw)
        return w.bytes
    }

    static func armor(_ bytes: [UInt8]) -> String {
        let b64 = Data(bytes).base64EncodedString()
        var lines = [begin]
        var i = b64.startIndex
        while i < b64.endIndex {
            let j = b64.index(i, offsetBy: 70, limitedBy: b64.endIndex) ?? b64.endIndex
            lines.append(String(b64[i..<j]))
            i = j
        }
        lines.append(end)
        return lines.joined(separator: "\n") + "\n"
    }

    /// A parsed signature: who signed, for what namespace.
    public struct Parsed: Sendable {
        public let publicKey: SSHPublicKey
        public let namespace: String
        let hashAlgorithm: String
        let signature: [UInt8]
    }

    /// Reads an armored signature.
    /// - Throws: `KeyError` naming what is malformed.
    public static func parse(_ armored: String) throws -> Parsed {
        let lines = armored.split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        guard let b = lines.firstIndex(of: begin), let e = lines.firstIndex(of: end), b < e else {
            throw KeyError("not an SSH signature (no \(begin) … \(end) block)")
        }
        guard let bytes = Data(base64Encoded: lines[(b + 1)..<e].joined()).map({ [UInt8]($0) }) else {
            throw KeyError("the SSH signature's base64 does not decode")
        }
        var r = SSHWireReader(bytes)
        guard try r.take(6) == magic else { throw KeyError("not an SSHSIG signature") }
        guard try r.uint32() == 1 else { throw KeyError("an SSHSIG signature of a version other than 1") }
        let key = try SSHPublicKey(blob: try r.string())
        let namespace = try r.text()
        _ = try r.string()
        let algorithm = try r.text()
        let signature = try r.string()
        guard r.isAtEnd else { throw KeyError("bytes after the SSH signature") }
        return Parsed(publicKey: key, namespace: namespace, hashAlgorithm: algorithm, signature: signature)
    }

    /// Whether `armored` is a valid signature of `message` by `key` in `namespace`.
    /// - Throws: `KeyError` saying why not.
    public static func verify(_ armored: String, of message: [UInt8], namespace: String, key: SSHPublicKey) throws {
        let p = try parse(armored)
        guard p.publicKey == key else { throw KeyError("signed by \(p.publicKey.fingerprint), not by the listed key \(key.fingerprint)") }
        guard p.namespace == namespace else { throw KeyError("signed for namespace \"\(p.namespace)\", not \"\(namespace)\"") }
        var r = SSHWireReader(p.signature)
        let type = try r.text()
        guard type == SSHPublicKey.ed25519 else { throw KeyError(SSHPublicKey.refusal(forType: type)) }
        let raw = try r.string()
        guard raw.count == 64, r.isAtEnd else { throw KeyError("an Ed25519 signature is 64 bytes") }
        let data = try signedData(message, namespace: namespace, hashAlgorithm: p.hashAlgorithm)
        guard try key.verifier().verify(raw, of: data) else { throw KeyError("the signature does not match what was signed") }
    }
}

/// An unencrypted OpenSSH private key file (`-----BEGIN OPENSSH PRIVATE KEY-----`, OpenSSH's
/// PROTOCOL.key), Ed25519 only.
public enum OpenSSHPrivateKey {
    /// - Throws: `KeyError` naming the file and what to do.
    public static func read(file: String) throws -> (key: Ed25519Key, publicKey: SSHPublicKey) {
        guard let text = try? String(contentsOfFile: file, encoding: .utf8) else { throw KeyError("\(file): cannot be read") }
        do {
            return try parse(text)
        } catch let e as KeyError {
            throw KeyError("\(file): \(e.description)")
        }
    }

    static func parse(_ text: String) throws -> (key: Ed25519Key, publicKey: SSHPublicKey) {
        let lines = text.split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }
        guard let b = lines.firstIndex(of: "-----BEGIN OPENSSH PRIVATE KEY-----"),
            let e = lines.firstIndex(of: "-----END OPENSSH PRIVATE KEY-----"), b < e,
            let bytes = Data(base64Encoded: lines[(b + 1)..<e].joined()).map({ [UInt8]($0) })
        else { throw KeyError("not an OpenSSH private key (ssh-keygen -t ed25519 writes one)") }
        var r = SSHWireReader(bytes)
        guard try r.take(15) == Array("openssh-key-v1\0".utf8) else { throw KeyError("not an openssh-key-v1 private key") }
        let cipher = try r.text()
        _ = try r.text()
        _ = try r.string()
        guard cipher == "none" else {
            throw KeyError("the key is protected by a passphrase, which cutover does not decrypt (its bcrypt KDF is not in libcrypto); load it into ssh-agent with `ssh-add` and approve without --key")
        }
        guard try r.uint32() == 1 else { throw KeyError("the file holds more than one key") }
        let publicKey = try SSHPublicKey(blob: try r.string())
        var s = SSHWireReader(try r.string())
        guard try s.uint32() == (try s.uint32()) else { throw KeyError("the key's check words differ (corrupt file)") }
        let type = try s.text()
        guard type == SSHPublicKey.ed25519 else { throw KeyError(SSHPublicKey.refusal(forType: type)) }
        let pub = try s.string()
        let secret = try s.string()
        guard pub == publicKey.raw, secret.count == 64, Array(secret[32...]) == pub else { throw KeyError("the private key does not match its public key") }
        let key = try Ed25519Key.privateKey(seed: Array(secret[..<32]))
        guard key.publicKeyBytes == pub else { throw KeyError("the private key does not match its public key") }
        return (key, publicKey)
    }
}
