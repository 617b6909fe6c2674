import Foundation

/// OpenSSH's own tools (`ssh-keygen`, `ssh-agent`, `ssh-add`, from openssh-client), held
/// against cutover's signatures: keys made by `ssh-keygen`, signatures made and verified by
/// `ssh-keygen -Y`, an agent of the test's own.
public enum SSHTools {
    public struct Output: Sendable {
        public var status: Int32
        public var out: String
        public var err: String
    }

    /// Runs `tool ARGS` (from /usr/bin), feeding `input` to its standard input.
    @discardableResult
    public static func run(_ tool: String, _ args: [String], input: String? = nil, environment: [String: String] = [:]) throws -> Output {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/" + tool)
        p.arguments = args
        var env = ProcessInfo.processInfo.environment
        env.removeValue(forKey: "SSH_AUTH_SOCK")
        for (k, v) in environment { env[k] = v }
        p.environment = env
        let out = Pipe(), err = Pipe(), inPipe = Pipe()
        p.standardOutput = out
        p.standardError = err
        p.standardInput = inPipe
        try p.run()
        if let input { inPipe.fileHandleForWriting.write(Data(input.utf8)) }
        try inPipe.fileHandleForWriting.close()
        let (o, e) = CutoverBinary.collect(p)
        return Output(status: p.terminationStatus, out: o, err: e)
    }

    /// A new key pair at `path` (and `path.pub`), no passphrase unless one is given; the
    /// public key's line without its comment.
    @discardableResult
    public static func keygen(_ path: String, type: String = "ed25519", passphrase: String = "", comment: String = "test") throws -> String {
        try? FileManager.default.removeItem(atPath: path)
        try? FileManager.default.removeItem(atPath: path + ".pub")
        let r = try run("ssh-keygen", ["-q", "-t", type, "-N", passphrase, "-C", comment, "-f", path])
        guard r.status == 0 else { throw FixtureError("ssh-keygen -t \(type) failed: \(r.err)") }
        let line = try String(contentsOfFile: path + ".pub", encoding: .utf8).split(separator: " ")
        return line.prefix(2).joined(separator: " ")
    }

    /// `ssh-keygen -Y sign` of `message` with the key at `key`: the armored signature.
    public static func sign(_ message: String, key: String, namespace: String = "cutover-approval") throws -> String {
        let r = try run("ssh-keygen", ["-Y", "sign", "-q", "-f", key, "-n", namespace], input: message)
        guard r.status == 0 else { throw FixtureError("ssh-keygen -Y sign failed: \(r.err)") }
        return r.out
    }

    /// Whether `ssh-keygen -Y verify` accepts `signature` of `message` by `publicKey` as `name`.
    public static func verify(_ message: String, signature: String, name: String, publicKey: String, in dir: URL, namespace: String = "cutover-approval") throws -> Bool {
        let signers = dir.appendingPathComponent("allowed_signers-\(UUID().uuidString)").path
        let sigFile = dir.appendingPathComponent("sig-\(UUID().uuidString)").path
        try "\(name) \(publicKey)\n".write(toFile: signers, atomically: true, encoding: .utf8)
        try signature.write(toFile: sigFile, atomically: true, encoding: .utf8)
        return try run("ssh-keygen", ["-Y", "verify", "-f", signers, "-I", name, "-n", namespace, "-s", sigFile], input: message).status == 0
    }
}

/// An `ssh-agent` of a test's own, on a socket in the test's folder; killed when dropped.
public final class SSHAgentProcess: @unchecked Sendable {
    // @unchecked: set up once, then only read.
    public let socket: String
    private let process: Process

    public init(in dir: URL) throws {
        socket = dir.appendingPathComponent("agent-\(UUID().uuidString.prefix(8)).sock").path
        process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/ssh-agent")
        process.arguments = ["-D", "-a", socket]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        for _ in 0..<100 where !FileManager.default.fileExists(atPath: socket) { usleep(20_000) }
        guard FileManager.default.fileExists(atPath: socket) else { throw FixtureError("ssh-agent made no socket at \(socket)") }
    }

    /// `ssh-add KEY`.
    public func add(_ key: String) throws {
        let r = try SSHTools.run("ssh-add", ["-q", key], environment: ["SSH_AUTH_SOCK": socket])
        guard r.status == 0 else { throw FixtureError("ssh-add \(key) failed: \(r.err)") }
    }

    deinit {
        kill(process.processIdentifier, SIGKILL)
        process.waitWithoutRunLoop()
    }
}

/// The operating-system account the tests run as: what cutover records on SQLite.
public enum Account {
    public static var current: String {
        guard let entry = getpwuid(geteuid()), let name = entry.pointee.pw_name else { return "uid:\(geteuid())" }
        return String(cString: name)
    }
}

/// Approvers with keys of their own, made once per test process by `ssh-keygen`: a runbook
/// listing them (`{"name", "key"}`) takes only approvals signed by one of these keys.
public final class Approvers: @unchecked Sendable {
    // @unchecked: made once, then only read.
    public static let shared = try! Approvers(["alice", "bob", "carol", "demo-approver"])

    private let dir = TemporaryDirectory()
    public let publicKeys: [String: String]

    public init(_ names: [String]) throws {
        var keys: [String: String] = [:]
        for name in names { keys[name] = try SSHTools.keygen(dir.path(name), comment: name) }
        publicKeys = keys
    }

    /// The private key file of `name`.
    public func key(_ name: String) -> String { dir.path(name) }

    /// `names` as a runbook's approvers list, each with their key.
    public func list(_ names: [String]) -> String {
        "[" + names.map { #"{"name": "\#($0)", "key": "\#(publicKeys[$0] ?? "")"}"# }.joined(separator: ", ") + "]"
    }
}

extension Sandbox {
    /// runbooks/sandbox.json with its approvers given keys (`Approvers.shared`), in a file of
    /// its own: every run of it is approved with a signature.
    public var runbook: String { Self.signedRunbook }

    private static let signedRunbook: String = {
        let source = repositoryRoot.appendingPathComponent("runbooks/sandbox.json")
        let text = try! String(contentsOf: source, encoding: .utf8)
        let approvers = Approvers.shared.list(["alice", "bob", "demo-approver"])
        let signed = text.replacingOccurrences(of: #""approvers": ["alice", "bob", "demo-approver"]"#, with: #""approvers": \#(approvers)"#)
        precondition(signed != text, "runbooks/sandbox.json lists other approvers than alice, bob and demo-approver")
        let path = signedRunbookFolder.path("sandbox.json")
        try! signed.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }()
    private static let signedRunbookFolder = TemporaryDirectory()

    /// `cutover approve RUN`, signed with `name`'s key.
    public func approve(_ run: String, db: String, as name: String = "alice", _ extra: [String] = []) throws -> CutoverBinary.Result {
        try cutover(["approve", run, "--key", Approvers.shared.key(name)] + extra, db: db)
    }
}
