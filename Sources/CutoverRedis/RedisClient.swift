import CutoverCore
import CutoverNet
import Foundation

/// A Redis reply (RESP2).
public enum RedisReply: Sendable, Equatable {
    case status(String)
    case error(String)
    case integer(Int64)
    case bulk([UInt8]?)
    case array([RedisReply]?)

    public var text: String? {
        switch self {
        case .status(let s): s
        case .bulk(let b?): String(decoding: b, as: UTF8.self)
        case .integer(let i): String(i)
        default: nil
        }
    }
}

/// What went wrong talking to Redis: the transport, a reply that is not RESP, or an error reply.
public struct RedisError: Error, Sendable, CustomStringConvertible {
    public enum Kind: String, Sendable {
        case transport
        case garbage
        case server
    }

    public var kind: Kind
    public var target: String
    public var detail: String
    public var retryable: Bool

    public var description: String {
        switch kind {
        case .transport: detail
        case .garbage: "\(target): answered something that is not the Redis protocol (\(detail))"
        case .server: "\(target): Redis refused the command: \(detail)"
        }
    }
}

/// A short-lived Redis connection per call: commands are few and far between in a failover,
/// and a fresh connection never carries state from an attempt that was interrupted.
public struct RedisClient: Sendable {
    public let host: String
    public let port: Int
    let password: String?
    public let timeout: Duration

    /// `host:port` for messages; the password never appears.
    public var target: String { "redis \(host):\(port)" }

    public init(host: String, port: Int, password: String? = nil, timeout: Duration = .seconds(5)) {
        self.host = host
        self.port = port
        self.password = password
        self.timeout = timeout
    }

    /// Parses `redis://[:password@]host:port`; a password in the URL is refused by callers
    /// that take secrets from references, so it is accepted only as a separate argument.
    public init?(url: String, password: String? = nil, timeout: Duration = .seconds(5)) {
        guard url.hasPrefix("redis://") else { return nil }
        var rest = url.dropFirst("redis://".count)
        if let slash = rest.firstIndex(of: "/") { rest = rest[..<slash] }
        guard !rest.contains("@"), let colon = rest.lastIndex(of: ":"), let port = Int(rest[rest.index(after: colon)...]) else { return nil }
        self.init(host: String(rest[..<colon]), port: port, password: password, timeout: timeout)
    }

    /// Runs `commands` in order on one connection and returns their replies. An error reply
    /// is returned as `.error`, not thrown, so callers decide what it means.
    /// - Throws: `RedisError` when the service cannot be reached or answers garbage.
    /// - Parameter gate: a last check once connected and authenticated, right before the
    ///   commands are written: an error stops them unsent and is what `run` throws.
    public func run(_ commands: [[String]], gate: (@Sendable () -> Error?)? = nil) async throws -> [RedisReply] {
        try await session { send in
            if let refused = gate?() { throw refused }
            return try commands.map(send)
        }
    }

    /// Sets `key` to `value` only if it still holds `expected` (nil: absent), atomically:
    /// `WATCH`, `GET`, then `MULTI`/`SET`/`EXEC`, which Redis refuses if the key changed in
    /// between. `gate` is checked right before `MULTI` is written.
    /// - Returns: false when the key held something else, or changed before `EXEC`; nothing
    ///   was written then.
    public func compareAndSet(_ key: String, expected: String?, value: String, gate: (@Sendable () -> Error?)? = nil) async throws -> Bool {
        let target = self.target
        return try await session { send in
            func call(_ args: [String]) throws -> RedisReply {
                let reply = try send(args)
                if case .error(let e) = reply { throw RedisError(kind: .server, target: target, detail: "\(args[0]): \(e)", retryable: true) }
                return reply
            }
            _ = try call(["WATCH", key])
            let current: String?
            switch try call(["GET", key]) {
            case .bulk(nil): current = nil
            case let reply: current = reply.text
            }
            guard current == expected else {
                _ = try call(["UNWATCH"])
                return false
            }
            if let refused = gate?() { throw refused }
            _ = try call(["MULTI"])
            _ = try call(["SET", key, value])
            // A nil reply: the watched key changed before EXEC, and nothing ran.
            if case .array(nil) = try call(["EXEC"]) { return false }
            return true
        }
    }

    /// One connection on a thread of its own, authenticated when there is a password: `body`
    /// gets a function that writes a command and reads its reply.
    private func session<T: Sendable>(_ body: @escaping @Sendable (_ send: ([String]) throws -> RedisReply) throws -> T) async throws -> T {
        let (host, port, password, timeout, target) = (self.host, self.port, self.password, self.timeout, self.target)
        return try await onThread {
            do {
                let socket = try BlockingSocket.tcp(host: host, port: port, timeout: timeout)
                var reader = RESPReader(socket: socket, target: target)
                func send(_ args: [String]) throws -> RedisReply {
                    try socket.write(RESPReader.encode(args))
                    return try reader.next()
                }
                if let password, case .error(let e) = try send(["AUTH", password]) {
                    // The reply names no secret; Redis says WRONGPASS or NOAUTH.
                    throw RedisError(kind: .server, target: target, detail: "authentication failed (\(e.split(separator: " ").first ?? ""))", retryable: false)
                }
                return try body(send)
            } catch let e as SocketError {
                throw RedisError(kind: .transport, target: target, detail: "\(target): \(e.description.dropFirst(e.target.count + 2))", retryable: e.retryable)
            }
        }
    }

    /// Runs one command.
    public func command(_ args: String...) async throws -> RedisReply {
        try await run([args])[0]
    }

    /// `INFO <section>` as key/value pairs.
    public func info(_ section: String) async throws -> [String: String] {
        let reply = try await command("INFO", section)
        if case .error(let e) = reply { throw RedisError(kind: .server, target: target, detail: e, retryable: true) }
        guard let text = reply.text else { throw RedisError(kind: .garbage, target: target, detail: "INFO answered \(reply)", retryable: true) }
        var fields: [String: String] = [:]
        for line in text.split(whereSeparator: \.isNewline) where !line.hasPrefix("#") {
            guard let colon = line.firstIndex(of: ":") else { continue }
            fields[String(line[..<colon])] = String(line[line.index(after: colon)...])
        }
        guard !fields.isEmpty else { throw RedisError(kind: .garbage, target: target, detail: "INFO \(section) was empty", retryable: true) }
        return fields
    }
}

/// Reads RESP2 replies from a socket, buffering partial reads.
struct RESPReader {
    let socket: BlockingSocket
    let target: String
    var buffer: [UInt8] = []
    var position = 0

    init(socket: BlockingSocket, target: String) {
        self.socket = socket
        self.target = target
    }

    static func encode(_ args: [String]) -> [UInt8] {
        var out = "*\(args.count)\r\n"
        for a in args { out += "$\(a.utf8.count)\r\n\(a)\r\n" }
        return Array(out.utf8)
    }

    private func garbage(_ detail: String) -> RedisError {
        RedisError(kind: .garbage, target: target, detail: detail, retryable: true)
    }

    private mutating func fill() throws {
        let more = try socket.read()
        if more.isEmpty { throw RedisError(kind: .transport, target: target, detail: "\(target): closed the connection mid-reply", retryable: true) }
        if position > 0 {
            buffer.removeFirst(position)
            position = 0
        }
        buffer += more
    }

    private mutating func line() throws -> String {
        while true {
            if let cr = buffer[position...].firstIndex(of: 13), cr + 1 < buffer.count {
                guard buffer[cr + 1] == 10 else { throw garbage("a line not ended by CRLF") }
                let text = String(decoding: buffer[position..<cr], as: UTF8.self)
                position = cr + 2
                return text
            }
            if buffer.count - position > 1 << 20 { throw garbage("a line over 1 MiB") }
            try fill()
        }
    }

    mutating func next() throws -> RedisReply {
        // Judge the first byte before waiting for a line end: a service that is not Redis
        // (an HTTP server on the wrong port) may never send CRLF.
        if position >= buffer.count { try fill() }
        guard "+-:$*".utf8.contains(buffer[position]) else {
            let sample = String(decoding: buffer[position...].prefix(40), as: UTF8.self).split(whereSeparator: \.isNewline).first ?? ""
            throw garbage("a reply starting with \"\(sample)\"")
        }
        let header = try line()
        guard let kind = header.first else { throw garbage("an empty line") }
        let rest = String(header.dropFirst())
        switch kind {
        case "+": return .status(rest)
        case "-": return .error(rest)
        case ":":
            guard let n = Int64(rest) else { throw garbage("integer reply \"\(rest.prefix(40))\"") }
            return .integer(n)
        case "$":
            guard let n = Int(rest), n >= -1, n < 512 << 20 else { throw garbage("bulk length \"\(rest.prefix(40))\"") }
            if n == -1 { return .bulk(nil) }
            while buffer.count - position < n + 2 { try fill() }
            let bytes = Array(buffer[position..<(position + n)])
            position += n + 2
            return .bulk(bytes)
        case "*":
            guard let n = Int(rest), n >= -1, n < 1 << 20 else { throw garbage("array length \"\(rest.prefix(40))\"") }
            if n == -1 { return .array(nil) }
            var items: [RedisReply] = []
            for _ in 0..<n { items.append(try next()) }
            return .array(items)
        default:
            throw garbage("a reply starting with \"\(header.prefix(40))\"")
        }
    }
}

extension RedisError: StepFailure {
    public func stepError(doing what: String) -> StepError {
        StepError(code: "redis-\(kind.rawValue)", message: "\(what): \(description)", retryable: retryable)
    }
}
