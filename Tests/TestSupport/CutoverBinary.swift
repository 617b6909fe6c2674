import Foundation

/// The real `cutover` executable, run as a user would run it.
public enum CutoverBinary {
    public static var path: String {
        if let p = ProcessInfo.processInfo.environment["CUTOVER_BIN"] { return p }
        return repositoryRoot.appendingPathComponent(".build/debug/cutover").path
    }

    public struct Result: Sendable {
        public var status: Int32
        public var stdout: String
        public var stderr: String
        public var lines: [String] { stdout.split(separator: "\n").map(String.init) }
        public init(status: Int32, stdout: String, stderr: String) {
            self.status = status
            self.stdout = stdout
            self.stderr = stderr
        }
    }

    /// Runs `cutover ARGS` in `directory` and waits for it.
    public static func run(_ args: [String], in directory: URL, environment: [String: String] = [:], executable: String? = nil) throws -> Result {
        let p = start(args, in: directory, environment: environment, executable: executable)
        try p.run()
        let (out, err) = collect(p)
        return Result(status: p.terminationStatus, stdout: out, stderr: err)
    }

    /// Reads a started process's output and error pipes to their ends, both while it runs (so
    /// a full pipe never blocks it), and waits for it.
    public static func collect(_ p: Process) -> (out: String, err: String) {
        let out = p.standardOutput as! Pipe
        let err = p.standardError as! Pipe
        nonisolated(unsafe) var errData = Data()
        let group = DispatchGroup()
        group.enter()
        DispatchQueue.global().async {
            errData = err.fileHandleForReading.readDataToEndOfFile()
            group.leave()
        }
        let outData = out.fileHandleForReading.readDataToEndOfFile()
        group.wait()
        p.waitWithoutRunLoop()
        return (String(decoding: outData, as: UTF8.self), String(decoding: errData, as: UTF8.self))
    }

    /// A configured, not yet started process, for tests that signal it while it runs.
    public static func start(_ args: [String], in directory: URL, environment: [String: String] = [:], executable: String? = nil) -> Process {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: executable ?? path)
        p.arguments = args
        p.currentDirectoryURL = directory
        var env = ProcessInfo.processInfo.environment
        env["NO_COLOR"] = "1"
        // Names anyone can set: cutover must record none of them (it records the account, or
        // the database's role). The agent is the test's own, never the developer's.
        env["CUTOVER_ACTOR"] = "mallory"
        env["USER"] = "mallory"
        env["LOGNAME"] = "mallory"
        env.removeValue(forKey: "CUTOVER_DB")
        env.removeValue(forKey: "SSH_AUTH_SOCK")
        for (k, v) in environment { env[k] = v }
        p.environment = env
        p.standardOutput = Pipe()
        p.standardError = Pipe()
        return p
    }
}
