/// Someone a runbook lets approve: a name (an operating-system account on SQLite, a database
/// role on PostgreSQL) and, optionally, the OpenSSH public key whose signature an approval in
/// that name must carry: `"alice"` or `{"name": "alice", "key": "ssh-ed25519 AAAA…"}`.
public struct Approver: Sendable, Equatable, Codable {
    public var name: String
    public var key: String?

    public init(name: String, key: String? = nil) {
        self.name = name
        self.key = key
    }

    /// Reads one entry of an approvers list; nil when it is neither form.
    public static func parse(_ value: JSONValue) -> Approver? {
        if let name = value.stringValue { return Approver(name: name) }
        guard let o = value.objectValue, Set(o.keys).isSubset(of: ["name", "key"]), let name = o["name"]?.stringValue else { return nil }
        if let k = o["key"], k.stringValue == nil { return nil }
        return Approver(name: name, key: o["key"]?.stringValue)
    }

    public static func list(_ value: JSONValue) -> [Approver]? {
        guard let items = value.arrayValue else { return nil }
        let parsed = items.compactMap(parse)
        return parsed.count == items.count ? parsed : nil
    }

    /// What is wrong with an approvers list, or nil: every entry a plain name or a name with
    /// an Ed25519 key, no name twice. `path` is relative to the list (`[2].key`).
    public static func problem(_ value: JSONValue) -> (path: String, problem: String)? {
        guard let items = value.arrayValue else { return ("", "expected an array of names or {\"name\", \"key\"} objects, got \(value.shortDescription)") }
        var names: Set<String> = []
        for (i, item) in items.enumerated() {
            guard let a = parse(item) else {
                return ("[\(i)]", "expected a name or {\"name\": \"alice\", \"key\": \"ssh-ed25519 AAAA…\"}, got \(item.shortDescription)")
            }
            if a.name.isEmpty || TerminalText.hasControlCharacters(a.name) || a.name.contains(" ") {
                return ("[\(i)].name", "expected a plain name (an account or a database role), got \"\(TerminalText.escaped(a.name))\"")
            }
            if !names.insert(a.name).inserted { return ("[\(i)]", "\(a.name) is listed twice") }
            if let key = a.key, let p = ApproverKey.problem(key) { return ("[\(i)].key", p) }
        }
        return nil
    }
}

/// The form of an approver's key, checked without cryptography (the signature itself is
/// checked where libcrypto is).
public enum ApproverKey {
    /// Nil for `ssh-ed25519 BASE64 [comment]`; otherwise what is wrong or why the type is refused.
    public static func problem(_ key: String) -> String? {
        let parts = key.split(separator: " ")
        guard let type = parts.first, parts.count >= 2 else { return "expected an OpenSSH public key \"ssh-ed25519 AAAA…\" (the line of a .pub file)" }
        guard type == "ssh-ed25519" else {
            return "\(TerminalText.escaped(String(type))) keys are refused: approvals are signed with Ed25519 only (README, \"Who did what\", says why); make one with ssh-keygen -t ed25519"
        }
        let b64 = parts[1]
        guard b64.count == 68, b64.hasPrefix("AAAAC3NzaC1lZDI1NTE5AAAAI"), b64.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "+" || $0 == "/" || $0 == "=" }) else {
            return "the ssh-ed25519 key's base64 is not an Ed25519 key (copy the whole line of the .pub file)"
        }
        return nil
    }
}

/// What an approver signs: the run, the step, and the hash of the `ApprovalRequested` event
/// that asked, so a signature cannot be replayed on another run, another step or another
/// request of the same step. Signed in the OpenSSH `SSHSIG` format with this namespace.
public enum ApprovalStatement {
    public static let namespace = "cutover-approval"

    public static func text(runID: String, step: String, requestHash: String) -> String {
        "cutover approval\nrun: \(runID)\nstep: \(step)\nrequest: \(requestHash)\n"
    }

    /// An event hash as the statement writes it: lowercase hex.
    public static func hex(_ hash: [UInt8]) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var out: [UInt8] = []
        out.reserveCapacity(hash.count * 2)
        for b in hash { out += [digits[Int(b >> 4)], digits[Int(b & 15)]] }
        return String(decoding: out, as: UTF8.self)
    }
}

/// Checks an OpenSSH signature (implemented where libcrypto is: `SSHApprovalSignatures`).
public protocol ApprovalSignatureChecking: Sendable {
    /// Nil when `signature` is a valid `cutover-approval` signature of `statement` by `key`;
    /// otherwise why not.
    func problem(signature: String, key: String, statement: String) -> String?
}

/// One approval as the log holds it.
public struct ApprovalGrant: Sendable, Equatable {
    /// Whose approval it is: the actor, or the listed approver whose key signed it.
    public var by: String
    /// Who appended it (the proven account or role).
    public var actor: String
    public var signature: String?
    /// The schedule whose standing approval this is (appended by the scheduler for a drill).
    public var standing: String?
    public var seq: Int64
    /// The global sequence of the `ApprovalRequested` it answers.
    public var requestSeq: Int64
}

/// What proves signed approvals: the hash of the request (read from the log by its global
/// sequence) and a signature checker.
public struct ApprovalProof {
    public let requestHash: (Int64) -> String?
    public let signatures: any ApprovalSignatureChecking

    public init(requestHash: @escaping (Int64) -> String?, signatures: any ApprovalSignatureChecking) {
        self.requestHash = requestHash
        self.signatures = signatures
    }

    /// Reads each request's hash from `log`.
    public init(log: any EventLog, signatures: any ApprovalSignatureChecking) {
        self.init(requestHash: { seq in (try? log.link(at: seq)).flatMap { $0 }.map { ApprovalStatement.hex($0.hash) } }, signatures: signatures)
    }

    /// Nil when the grant carries a valid signature by the key listed for its approver.
    public func problem(runID: String, step: String, requestSeq: Int64, keys: [String: String], grant: ApprovalGrant) -> String? {
        guard let signature = grant.signature else { return "it is not signed" }
        guard let key = keys[grant.by] else { return "\(grant.by) has no key in the runbook" }
        guard let hash = requestHash(requestSeq) else { return "the request it answers cannot be read" }
        return signatures.problem(signature: signature, key: key, statement: ApprovalStatement.text(runID: runID, step: step, requestHash: hash))
    }
}
