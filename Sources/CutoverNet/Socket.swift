import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#endif

/// A failure to talk to a TCP or UDP service, classified like `HTTPError` for retries.
public struct SocketError: Error, Sendable, CustomStringConvertible {
    public enum Kind: String, Sendable {
        case connectionRefused = "connection-refused"
        case timeout
        case badAddress = "bad-address"
        case closed
        case other
    }

    public var kind: Kind
    /// `host:port`, never credentials.
    public var target: String
    public var detail: String

    public init(kind: Kind, target: String, detail: String) {
        self.kind = kind
        self.target = target
        self.detail = detail
    }

    public var retryable: Bool { kind != .badAddress }

    public var description: String {
        switch kind {
        case .connectionRefused: "\(target): connection refused; is the service up and listening?"
        case .timeout: "\(target): no answer in time (\(detail))"
        case .badAddress: "\(target): not an IPv4 address and port (\(detail))"
        case .closed: "\(target): the service closed the connection (\(detail))"
        case .other: "\(target): \(detail)"
        }
    }
}

/// A blocking IPv4 socket with deadlines, used from a thread of its own (see `onThread`).
/// Only loopback and numeric addresses are needed here: services are named by IP and port.
public final class BlockingSocket {
    let fd: Int32
    public let target: String

    private init(fd: Int32, target: String) {
        self.fd = fd
        self.target = target
    }

    deinit { close(fd) }

    static func address(host: String, port: Int, target: String) throws -> sockaddr_in {
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = in_port_t(UInt16(clamping: port)).bigEndian
        let h = host == "localhost" ? "127.0.0.1" : host
        guard (1...65_535).contains(port), inet_pton(AF_INET, h, &addr.sin_addr) == 1 else {
            throw SocketError(kind: .badAddress, target: target, detail: "\(host):\(port)")
        }
        return addr
    }

    /// A socket of `kind` (SOCK_STREAM or SOCK_DGRAM) with its timeouts set, and the address.
    private static func open(_ stream: Bool, host: String, port: Int, timeout: Duration) throws -> (BlockingSocket, sockaddr_in) {
        let target = "\(host):\(port)"
        let addr = try address(host: host, port: port, target: target)
        #if canImport(Glibc)
            let fd = socket(AF_INET, Int32((stream ? SOCK_STREAM : SOCK_DGRAM).rawValue), 0)
        #else
            let fd = socket(AF_INET, stream ? SOCK_STREAM : SOCK_DGRAM, 0)
        #endif
        guard fd >= 0 else { throw SocketError(kind: .other, target: target, detail: String(cString: strerror(errno))) }
        let s = BlockingSocket(fd: fd, target: target)
        try s.setTimeouts(timeout)
        return (s, addr)
    }

    private func connect(to address: sockaddr_in) -> Int32 {
        var addr = address
        return withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
    }

    /// Connects over TCP within `timeout`.
    public static func tcp(host: String, port: Int, timeout: Duration) throws -> BlockingSocket {
        let (s, addr) = try open(true, host: host, port: port, timeout: timeout)
        let flags = fcntl(s.fd, F_GETFL)
        _ = fcntl(s.fd, F_SETFL, flags | O_NONBLOCK)
        if s.connect(to: addr) != 0 {
            guard errno == EINPROGRESS else { throw s.connectError(errno) }
            var p = pollfd(fd: s.fd, events: Int16(POLLOUT), revents: 0)
            let ready = poll(&p, 1, Int32(clamping: timeout.wholeMillis))
            if ready == 0 { throw SocketError(kind: .timeout, target: s.target, detail: "connect took over \(timeout)") }
            var err: Int32 = 0
            var len = socklen_t(MemoryLayout<Int32>.size)
            getsockopt(s.fd, SOL_SOCKET, SO_ERROR, &err, &len)
            if err != 0 { throw s.connectError(err) }
        }
        _ = fcntl(s.fd, F_SETFL, flags)
        return s
    }

    /// A UDP socket connected to `host:port`.
    static func udp(host: String, port: Int, timeout: Duration) throws -> BlockingSocket {
        let (s, addr) = try open(false, host: host, port: port, timeout: timeout)
        if s.connect(to: addr) != 0 { throw s.connectError(errno) }
        return s
    }

    private func connectError(_ code: Int32) -> SocketError {
        code == ECONNREFUSED
            ? SocketError(kind: .connectionRefused, target: target, detail: "refused")
            : SocketError(kind: .other, target: target, detail: String(cString: strerror(code)))
    }

    private func setTimeouts(_ timeout: Duration) throws {
        let ms = max(1, timeout.wholeMillis)
        var tv = timeval(tv_sec: Int(ms / 1_000), tv_usec: Int((ms % 1_000) * 1_000))
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
    }

    public func write(_ bytes: [UInt8]) throws {
        var sent = 0
        while sent < bytes.count {
            let n = bytes[sent...].withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if n < 0 {
                if errno == EINTR { continue }
                throw ioError(errno, "send")
            }
            sent += n
        }
    }

    /// Reads what is available, at most `max` bytes; an empty answer means the peer closed.
    public func read(max: Int = 64 * 1024) throws -> [UInt8] {
        var buffer = [UInt8](repeating: 0, count: max)
        while true {
            let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, max, 0) }
            if n < 0 {
                if errno == EINTR { continue }
                throw ioError(errno, "receive")
            }
            return Array(buffer[0..<n])
        }
    }

    private func ioError(_ code: Int32, _ what: String) -> SocketError {
        switch code {
        case EAGAIN, EWOULDBLOCK: SocketError(kind: .timeout, target: target, detail: "\(what) timed out")
        case ECONNREFUSED: SocketError(kind: .connectionRefused, target: target, detail: what)
        case ECONNRESET, EPIPE: SocketError(kind: .closed, target: target, detail: what)
        default: SocketError(kind: .other, target: target, detail: "\(what): \(String(cString: strerror(code)))")
        }
    }
}

/// Runs blocking work on a thread of its own and awaits it, so the cooperative pool never blocks.
public func onThread<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { (c: CheckedContinuation<T, Error>) in
        Thread.detachNewThread { c.resume(with: Result { try work() }) }
    }
}

extension Duration {
    /// Whole milliseconds, for socket options and poll.
    var wholeMillis: Int64 {
        let (s, atto) = components
        return s * 1_000 + atto / 1_000_000_000_000_000
    }
}
