import Foundation

/// One DNS question over UDP to a named server, for confirming what an authoritative server
/// really answers after a change (not what a resolver cached).
public struct DNSQuery: Sendable {
    public enum RecordType: UInt16, Sendable {
        case a = 1
        case cname = 5
        case aaaa = 28

        public init?(name: String) {
            switch name.uppercased() {
            case "A": self = .a
            case "CNAME": self = .cname
            case "AAAA": self = .aaaa
            default: return nil
            }
        }
    }

    public struct Answer: Sendable, Equatable {
        /// The response code: 0 NOERROR, 3 NXDOMAIN, ...
        public var rcode: Int
        public var authoritative: Bool
        /// Record data as text: dotted quads for A, names for CNAME.
        public var records: [String]
        public var ttl: UInt32?
    }

    public let server: String
    public let port: Int
    public let timeout: Duration

    public init(server: String, port: Int = 53, timeout: Duration = .seconds(3)) {
        self.server = server
        self.port = port
        self.timeout = timeout
    }

    /// `host:port` (port 53 when omitted).
    public init?(address: String, timeout: Duration = .seconds(3)) {
        let parts = address.split(separator: ":")
        guard parts.count <= 2, let host = parts.first else { return nil }
        let port = parts.count == 2 ? Int(parts[1]) : 53
        guard let port else { return nil }
        self.init(server: String(host), port: port, timeout: timeout)
    }

    public var target: String { "dns \(server):\(port)" }

    /// Asks for `name`'s records of `type`.
    /// - Throws: `SocketError` when the server does not answer; `DNSError` on a malformed answer.
    public func ask(_ name: String, _ type: RecordType) async throws -> Answer {
        let (server, port, timeout, target) = (self.server, self.port, self.timeout, self.target)
        let id = UInt16.random(in: 0...UInt16.max)
        let query = try DNSQuery.encode(id: id, name: name, type: type)
        return try await onThread {
            let socket = try BlockingSocket.udp(host: server, port: port, timeout: timeout)
            try socket.write(query)
            while true {
                let reply = try socket.read(max: 4_096)
                // A datagram for another question (a late answer to an earlier one) is skipped.
                if reply.count >= 2, UInt16(reply[0]) << 8 | UInt16(reply[1]) != id { continue }
                return try DNSQuery.decode(reply, type: type, target: target)
            }
        }
    }

    static func encode(id: UInt16, name: String, type: RecordType) throws -> [UInt8] {
        var out: [UInt8] = [UInt8(id >> 8), UInt8(id & 0xff), 0x00, 0x00, 0, 1, 0, 0, 0, 0, 0, 0]
        for label in name.split(separator: ".") {
            let bytes = Array(label.utf8)
            guard !bytes.isEmpty, bytes.count < 64 else { throw DNSError(target: "", detail: "bad name \(name)") }
            out.append(UInt8(bytes.count))
            out += bytes
        }
        out += [0, UInt8(type.rawValue >> 8), UInt8(type.rawValue & 0xff), 0, 1]
        return out
    }

    static func decode(_ m: [UInt8], type: RecordType, target: String) throws -> Answer {
        func bad(_ why: String) -> DNSError { DNSError(target: target, detail: why) }
        guard m.count >= 12 else { throw bad("a reply of \(m.count) bytes") }
        guard m[2] & 0x80 != 0 else { throw bad("not a response") }
        let rcode = Int(m[3] & 0x0f)
        let qd = Int(m[4]) << 8 | Int(m[5])
        let an = Int(m[6]) << 8 | Int(m[7])
        var i = 12
        func skipName() throws {
            while true {
                guard i < m.count else { throw bad("truncated name") }
                let len = Int(m[i])
                if len & 0xc0 == 0xc0 { i += 2; return }
                i += 1
                if len == 0 { return }
                i += len
            }
        }
        func readName(at start: Int, depth: Int = 0) throws -> String {
            guard depth < 16 else { throw bad("name pointer loop") }
            var labels: [String] = []
            var j = start
            while true {
                guard j < m.count else { throw bad("truncated name") }
                let len = Int(m[j])
                if len & 0xc0 == 0xc0 {
                    guard j + 1 < m.count else { throw bad("truncated pointer") }
                    let rest = try readName(at: (len & 0x3f) << 8 | Int(m[j + 1]), depth: depth + 1)
                    if !rest.isEmpty { labels.append(rest) }
                    break
                }
                if len == 0 { break }
                guard j + 1 + len <= m.count else { throw bad("truncated label") }
                labels.append(String(decoding: m[(j + 1)...(j + len)], as: UTF8.self))
                j += 1 + len
            }
            return labels.joined(separator: ".")
        }
        for _ in 0..<qd {
            try skipName()
            i += 4
        }
        var records: [String] = []
        var ttl: UInt32?
        for _ in 0..<an {
            try skipName()
            guard i + 10 <= m.count else { throw bad("truncated record") }
            let rtype = UInt16(m[i]) << 8 | UInt16(m[i + 1])
            let t = UInt32(m[i + 4]) << 24 | UInt32(m[i + 5]) << 16 | UInt32(m[i + 6]) << 8 | UInt32(m[i + 7])
            let rdlen = Int(m[i + 8]) << 8 | Int(m[i + 9])
            i += 10
            guard i + rdlen <= m.count else { throw bad("truncated record data") }
            if rtype == type.rawValue {
                ttl = ttl ?? t
                switch type {
                case .a where rdlen == 4: records.append(m[i..<(i + 4)].map(String.init).joined(separator: "."))
                case .aaaa where rdlen == 16:
                    records.append(stride(from: i, to: i + 16, by: 2).map { String(UInt16(m[$0]) << 8 | UInt16(m[$0 + 1]), radix: 16) }.joined(separator: ":"))
                case .cname: records.append(try readName(at: i) + ".")
                default: throw bad("record data of \(rdlen) bytes for type \(type)")
                }
            }
            i += rdlen
        }
        return Answer(rcode: rcode, authoritative: m[2] & 0x04 != 0, records: records, ttl: ttl)
    }
}

public struct DNSError: Error, Sendable, CustomStringConvertible {
    public var target: String
    public var detail: String
    public var description: String { "\(target): malformed DNS answer (\(detail))" }
}
