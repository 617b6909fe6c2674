import CutoverStore
import Foundation

/// The sandbox of real services (`scripts/sandbox`), started once per test process and reset
/// before each scenario. State is read back with `scripts/fixtures/sandbox_state.py`, which
/// uses boto3, redis-cli and its own DNS query: nothing of cutover's code judges cutover.
public final class Sandbox: @unchecked Sendable {
    // @unchecked: immutable after init.
    public let environment: [String: String]
    public let directory = repositoryRoot.appendingPathComponent(".sandbox")

    public static let shared: Result<Sandbox, Error> = Result { try Sandbox() }

    private init() throws {
        let up = try Sandbox.script(["scripts/sandbox", "up"])
        guard up.status == 0 else { throw FixtureError("scripts/sandbox up failed (\(up.status)):\n\(up.output)") }
        var env: [String: String] = [:]
        let text = try String(contentsOf: repositoryRoot.appendingPathComponent(".sandbox/sandbox.env"), encoding: .utf8)
        for line in text.split(separator: "\n") where line.hasPrefix("export ") {
            let kv = line.dropFirst("export ".count)
            guard let eq = kv.firstIndex(of: "=") else { continue }
            env[String(kv[..<eq])] = String(kv[kv.index(after: eq)...])
        }
        environment = env
    }

    /// Runs a command from the repository root with the sandbox's environment.
    public static func script(_ args: [String], environment: [String: String] = [:]) throws -> (status: Int32, output: String) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = args
        p.currentDirectoryURL = repositoryRoot
        var env = ProcessInfo.processInfo.environment
        for (k, v) in environment { env[k] = v }
        p.environment = env
        // A file, not a pipe: daemons that `scripts/sandbox start` leaves running inherit the
        // descriptor, and a pipe would then never reach its end.
        let log = FileManager.default.temporaryDirectory.appendingPathComponent("sandbox-\(UUID().uuidString).log")
        _ = FileManager.default.createFile(atPath: log.path, contents: nil)
        defer { try? FileManager.default.removeItem(at: log) }
        let handle = try FileHandle(forWritingTo: log)
        p.standardOutput = handle
        p.standardError = handle
        try p.run()
        p.waitWithoutRunLoop(timeout: 300)
        try handle.close()
        guard !p.isRunning else {
            kill(p.processIdentifier, SIGKILL)
            throw FixtureError("\(args.joined(separator: " ")) did not finish within 300 s")
        }
        let data = (try? Data(contentsOf: log)) ?? Data()
        return (p.terminationStatus, String(decoding: data, as: UTF8.self))
    }

    /// Puts the seeded state back: DNS at the primary, capacity 1, DR following the primary.
    public func reset() throws {
        let r = try Sandbox.script(["scripts/sandbox", "reset"], environment: environment)
        guard r.status == 0 else { throw FixtureError("scripts/sandbox reset failed:\n\(r.output)") }
    }

    public func run(_ args: [String]) throws -> (status: Int32, output: String) {
        try Sandbox.script(args, environment: environment)
    }

    /// The state as JSON: dns, route53, capacity, redis (and awsCalls, webhook with `calls`).
    public func state(calls: Bool = false) throws -> [String: Any] {
        let r = try run([directory.appendingPathComponent("venv/bin/python").path, "scripts/fixtures/sandbox_state.py"] + (calls ? ["--calls"] : []))
        guard r.status == 0, let json = try JSONSerialization.jsonObject(with: Data(r.output.utf8)) as? [String: Any] else {
            throw FixtureError("sandbox_state.py failed:\n\(r.output)")
        }
        return json
    }

    /// The parts of the state a rollback must restore, comparable with `==`.
    public func restorable() throws -> String {
        let s = try state()
        var keep = ["dns", "route53", "capacity", "primaryCapacity", "redis", "gcs"].reduce(into: [String: Any]()) { $0[$1] = s[$1] }
        // Silences: what they silence (a silence put back has a new id, and a failback's its own comment).
        keep["silences"] = (s["silences"] as? [[String: Any]] ?? []).map { silence in
            ((silence["matchers"] as? [[String: Any]]) ?? []).map { "\($0["name"] ?? "")=\($0["value"] ?? "")" }.sorted().joined(separator: ",")
        }.sorted()
        // PostgreSQL: who is primary, who streams, the seeded rows; not the replay position,
        // which moves with every checkpoint.
        if let pg = s["postgres"] as? [String: Any] {
            keep["postgres"] = pg.mapValues { side -> Any in
                guard let d = side as? [String: Any] else { return NSNull() }
                return d.filter { ["inRecovery", "streaming", "users"].contains($0.key) }
            }
        }
        let data = try JSONSerialization.data(withJSONObject: keep, options: [.sortedKeys])
        return String(decoding: data, as: UTF8.self)
    }

    /// POSTs JSON to a control route (`http://127.0.0.1:15001/_proxy/control`, fixtures' `/_control/dr`).
    public func control(_ url: String, _ body: String) throws {
        let r = try run(["curl", "-sf", "-o", "/dev/null", "-X", "POST", "--data", body, url])
        guard r.status == 0 else { throw FixtureError("POST \(url) failed: \(r.output)") }
    }

    /// Calls the proxy saw, by query-API action or by path.
    public func awsCalls(_ matching: (String, String) -> Bool) throws -> Int {
        let calls = try state(calls: true)["awsCalls"] as? [[String: Any]] ?? []
        return calls.filter { matching(($0["action"] as? String) ?? "", ($0["path"] as? String) ?? "") }.count
    }

    /// `cutover ARGS` against `db`, as this machine's account (or, on PostgreSQL, the role the
    /// URI logs in as).
    public func cutover(_ args: [String], db: String, environment extra: [String: String] = [:]) throws -> CutoverBinary.Result {
        var env = environment.merging(extra) { _, new in new }
        env["CUTOVER_DB"] = db
        return try CutoverBinary.run(args, in: repositoryRoot, environment: env)
    }

    /// A started, not yet awaited `cutover` process (for SIGKILL tests).
    public func cutoverProcess(_ args: [String], db: String) -> Process {
        var env = environment
        env["CUTOVER_DB"] = db
        return CutoverBinary.start(args, in: repositoryRoot, environment: env)
    }
}
