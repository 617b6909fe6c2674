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
        if kill(pid, 0) == -1 && errno == ESRCH { return true }
        // A killed driver its parent has not reaped yet is a zombie: it exists, but it will
        // never act again.
        return isZombie(pid)
    }

    /// Whether `/proc/PID/stat` says the process is a zombie (state `Z`, after the `)` that
    /// ends the command name, which may itself hold spaces and parentheses).
    static func isZombie(_ pid: Int32) -> Bool {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
            let close = stat.lastIndex(of: ")")
        else { return false }
        return stat[stat.index(after: close)...].trimmingCharacters(in: .whitespaces).hasPrefix("Z")
    }

    /// The operating-system account this process runs as: the name of its effective uid in
    /// the password database, else `uid:N`. Never `$USER`, `$LOGNAME` or `CUTOVER_ACTOR`,
    /// which anyone sets to anything.
    static let account: String = {
        let uid = geteuid()
        var entry = passwd()
        var result: UnsafeMutablePointer<passwd>?
        var buffer = [CChar](repeating: 0, count: 16_384)
        if getpwuid_r(uid, &entry, &buffer, buffer.count, &result) == 0, let found = result, let name = found.pointee.pw_name {
            let text = String(cString: name)
            if !text.isEmpty { return text }
        }
        return "uid:\(uid)"
    }()
}
