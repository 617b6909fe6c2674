import Foundation

/// A client of a running `ssh-agent` (the agent protocol of OpenSSH's PROTOCOL.agent), over
/// the Unix socket named by `SSH_AUTH_SOCK`: it lists the agent's keys and asks it to sign, so
/// the private key never leaves the agent.
public struct SSHAgent: Sendable {
    public let socketPath: String

    public init(socketPath: String) { self.socketPath = socketPath }

    /// The Ed25519 keys the agent holds (others are skipped).
    /// - Throws: `KeyError` when the agent cannot be reached or answers something else.
    public func identities() throws -> [SSHPublicKey] {
        var r = try request(11, [], expecting: 12)
        var keys: [SSHPublicKey] = []
        for _ in 0..<(try r.uint32()) {
            let blob = try r.string()
            _ = try r.string()
            if let key = try? SSHPublicKey(blob: blob) { keys.append(key) }
        }
        return keys
    }

    /// Has the agent sign `data` with `key`: the SSH signature blob.
    public func sign(_ data: [UInt8], with key: SSHPublicKey) throws -> [UInt8] {
        var w = SSHWireWriter()
        w.string(key.blob)
        w.string(data)
        w.uint32(0)
        var r = try request(13, w.bytes, expecting: 14)
        return try r.string()
    }

    private func request(_ type: UInt8, _ payload: [UInt8], expecting answer: UInt8) throws -> SSHWireReader {
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw KeyError("ssh-agent: cannot make a socket") }
        defer { close(fd) }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let path = Array(socketPath.utf8)
        guard path.count < MemoryLayout.size(ofValue: address.sun_path) else { throw KeyError("ssh-agent: the socket path \(socketPath) is too long") }
        withUnsafeMutableBytes(of: &address.sun_path) { buf in
            for (i, b) in path.enumerated() { buf[i] = b }
            buf[path.count] = 0
        }
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        guard connected == 0 else { throw KeyError("ssh-agent at \(socketPath) (SSH_AUTH_SOCK) cannot be reached: \(String(cString: strerror(errno)))") }
        var w = SSHWireWriter()
        w.uint32(UInt32(payload.count + 1))
        w.raw([type])
        w.raw(payload)
        try writeAll(fd, w.bytes)
        var header = SSHWireReader(try readExactly(fd, 4))
        let length = Int(try header.uint32())
        guard length >= 1, length <= 256 * 1024 else { throw KeyError("ssh-agent answered a message of \(length) bytes") }
        let message = try readExactly(fd, length)
        guard message[0] == answer else {
            throw KeyError(message[0] == 5 ? "ssh-agent refused (it does not hold that key, or its user declined)" : "ssh-agent answered message type \(message[0]), not \(answer)")
        }
        return SSHWireReader(Array(message[1...]))
    }

    private func writeAll(_ fd: Int32, _ bytes: [UInt8]) throws {
        var sent = 0
        while sent < bytes.count {
            let n = bytes[sent...].withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
            if n < 0, errno == EINTR { continue }
            guard n > 0 else { throw KeyError("ssh-agent: the connection closed while writing") }
            sent += n
        }
    }

    private func readExactly(_ fd: Int32, _ count: Int) throws -> [UInt8] {
        var out = [UInt8](repeating: 0, count: count)
        var got = 0
        while got < count {
            let n = out[got...].withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n < 0, errno == EINTR { continue }
            guard n > 0 else { throw KeyError("ssh-agent closed the connection before answering") }
            got += n
        }
        return out
    }
}
