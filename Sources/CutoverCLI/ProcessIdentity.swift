import Foundation

/// Who this process is, for leases: `host:pid:nonce`. A lease whose process is gone from
/// this host can be taken over at once (`cutover resume` after a crash or SIGKILL).
enum ProcessIdentity {
    static let host = ProcessInfo.processInfo.hostName

    static func owner() -> String {
        "\(host):\(getpid()):\(String(UInt32.random(in: 0...UInt32.max), radix: 36))"
    }

    /// True only when the owner ran on this host and its process no longer exists.
    static func isGone(_ owner: String) -> Bool {
        let parts = owner.split(separator: ":")
        guard parts.count >= 3, String(parts[0]) == host, let pid = Int32(parts[1]) else { return false }
        if pid == getpid() { return false }
        return kill(pid, 0) == -1 && errno == ESRCH
    }

    /// The person running the command: `CUTOVER_ACTOR`, else the login name.
    static func actor(_ environment: [String: String]) -> String {
        environment["CUTOVER_ACTOR"] ?? environment["USER"] ?? environment["LOGNAME"] ?? "unknown"
    }
}
