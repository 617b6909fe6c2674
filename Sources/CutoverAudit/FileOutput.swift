import Foundation

/// Files cutover writes for people (keys, exports, reports): with the mode given, whatever the
/// umask, written whole or not at all (a temporary file renamed into place).
public enum FileOutput {
    /// Writes `text` to `path` with `mode` (0600 for what holds a run's history, 0644 for a
    /// public key). Replaces an existing file.
    /// - Throws: `FileOutputError` naming the path and the system's reason.
    public static func write(_ text: String, to path: String, mode: mode_t) throws {
        let temporary = path + ".tmp-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        let fd = open(temporary, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, mode)
        guard fd >= 0 else { throw FileOutputError(path: path, reason: String(cString: strerror(errno))) }
        var ok = fchmod(fd, mode) == 0  // the umask narrowed what open set; this is exact
        let bytes = Array(text.utf8)
        var done = 0
        while ok, done < bytes.count {
            let n = bytes[done...].withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
            if n < 0, errno == EINTR { continue }
            if n <= 0 { ok = false } else { done += n }
        }
        let reason = ok ? nil : String(cString: strerror(errno))
        ok = ok && fsync(fd) == 0
        close(fd)
        guard ok, rename(temporary, path) == 0 else {
            let why = reason ?? String(cString: strerror(errno))
            unlink(temporary)
            throw FileOutputError(path: path, reason: why)
        }
    }

    /// Whether a folder may be written by someone other than its owner (group or others, and
    /// not a sticky shared folder's own files): a key kept there could be replaced.
    public static func isWritableByOthers(_ folder: String) -> Bool {
        var st = stat()
        guard stat(folder, &st) == 0 else { return false }
        return st.st_mode & 0o022 != 0
    }
}

public struct FileOutputError: Error, CustomStringConvertible {
    public let path: String
    public let reason: String
    public var description: String { "cannot write \(path): \(reason)" }
}
