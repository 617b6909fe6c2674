import CutoverCore
import Foundation
internal import CPostgres

/// A PostgreSQL call that failed: the connection, or the server's error with its SQLSTATE.
/// Names the server and what was being done; never the password.
public struct PostgresError: Error, Sendable, CustomStringConvertible {
    /// `connect`, `auth`, `garbage`, or the SQLSTATE (`28P01`, `42501`...).
    public var code: String
    public var message: String
    public var retryable: Bool

    public init(code: String, message: String, retryable: Bool) {
        self.code = code
        self.message = message
        self.retryable = retryable
    }

    public var description: String { message }

    /// The connection itself failed (class 08, or no answer at all): reconnecting may cure it.
    public var isConnectionLoss: Bool { code == "connect" || code.hasPrefix("08") || code == "57P01" || code == "57P02" || code == "57P03" }
}

/// A value sent as a statement parameter: text, an integer, bytes (sent as `bytea`'s hex
/// input form), an array of texts or integers (in the array input form), or NULL.
public enum PQValue: Sendable {
    case text(String)
    case int(Int64)
    case bytes([UInt8])
    case texts([String?])
    case ints([Int64])
    case null

    var wire: String? {
        switch self {
        case .text(let s): s
        case .int(let n): String(n)
        case .bytes(let b): Self.hex(b)
        case .texts(let items): "{" + items.map { $0.map(Self.quoted) ?? "NULL" }.joined(separator: ",") + "}"
        case .ints(let items): "{" + items.map(String.init).joined(separator: ",") + "}"
        case .null: nil
        }
    }

    private static let digits = Array("0123456789abcdef".utf8)

    /// `\x` and two hex digits a byte.
    static func hex(_ bytes: [UInt8]) -> String {
        var chars: [UInt8] = [UInt8(ascii: "\\"), UInt8(ascii: "x")]
        chars.reserveCapacity(2 + bytes.count * 2)
        for b in bytes {
            chars.append(digits[Int(b >> 4)])
            chars.append(digits[Int(b & 0x0f)])
        }
        return String(decoding: chars, as: UTF8.self)
    }

    /// An array element in double quotes, its quotes and backslashes escaped: read back
    /// exactly, whatever it holds.
    static func quoted(_ text: String) -> String {
        var out = [UInt8(ascii: "\"")]
        out.reserveCapacity(text.utf8.count + 2)
        for c in text.utf8 {
            if c == UInt8(ascii: "\"") || c == UInt8(ascii: "\\") { out.append(UInt8(ascii: "\\")) }
            out.append(c)
        }
        out.append(UInt8(ascii: "\""))
        return String(decoding: out, as: UTF8.self)
    }
}

/// A statement's rows in libpq's binary format, borrowed until the result is dropped: `int`
/// for `bigint` (8 bytes, big-endian), `bytes` for `text` and `bytea` alike (no copy).
public final class PQRows {
    private let result: OpaquePointer

    init(_ result: OpaquePointer) { self.result = result }
    deinit { cutover_PQclear(result) }

    public var count: Int { Int(cutover_PQntuples(result)) }
    public func isNull(_ row: Int, _ column: Int) -> Bool { cutover_PQgetisnull(result, Int32(row), Int32(column)) == 1 }

    public func bytes(_ row: Int, _ column: Int) -> UnsafeRawBufferPointer {
        let length = Int(cutover_PQgetlength(result, Int32(row), Int32(column)))
        guard length > 0, let p = cutover_PQgetvalue(result, Int32(row), Int32(column)) else { return UnsafeRawBufferPointer(start: nil, count: 0) }
        return UnsafeRawBufferPointer(start: UnsafeRawPointer(p), count: length)
    }

    public func int(_ row: Int, _ column: Int) -> Int64 {
        let b = bytes(row, column)
        guard b.count == 8 else { return b.count == 4 ? Int64(b.reduce(UInt32(0)) { $0 << 8 | UInt32($1) }) : 0 }
        return Int64(bitPattern: b.reduce(UInt64(0)) { $0 << 8 | UInt64($1) })
    }

    public func text(_ row: Int, _ column: Int) -> String { String(decoding: bytes(row, column), as: UTF8.self) }
}

/// One libpq connection, used by one thread at a time (libpq calls block).
public final class PQConnection {
    private let conn: OpaquePointer
    /// Where it is connected, for messages: never with a password.
    public let target: String
    /// Statements `query` has prepared on this connection, by their SQL: parsed and planned
    /// once, not at every append. Forgotten when the connection is made again.
    private var prepared: [String: String] = [:]
    private var nextName = 0

    private init(_ conn: OpaquePointer, target: String) {
        self.conn = conn
        self.target = target
        // The server's notices ("already exists, skipping") are not cutover's output.
        cutover_PQsetNoticeProcessor(conn, { _, _ in }, nil)
    }

    deinit { cutover_PQfinish(conn) }

    /// Connects with libpq's keyword/value form (no connection string is parsed, so no value
    /// can smuggle another keyword in).
    public static func open(_ parameters: [(String, String)], target: String) throws -> PQConnection {
        try loaded(target)
        let keys = parameters.map { strdup($0.0) } + [nil]
        let values = parameters.map { strdup($0.1) } + [nil]
        defer {
            keys.forEach { free($0) }
            values.forEach { free($0) }
        }
        let conn = keys.map { UnsafePointer($0) }.withUnsafeBufferPointer { k in
            values.map { UnsafePointer($0) }.withUnsafeBufferPointer { v in cutover_PQconnectdbParams(k.baseAddress, v.baseAddress, 0) }
        }
        return try checked(conn, target: target)
    }

    /// Connects with a connection URI or string the user gave (`postgresql://...`).
    public static func open(uri: String, target: String) throws -> PQConnection {
        try loaded(target)
        return try checked(cutover_PQconnectdb(uri), target: target)
    }

    /// libpq, loaded at the first connection (not at start: see CCurl/lazy.h).
    /// - Throws: `PostgresError` saying why it cannot be, when it cannot.
    private static func loaded(_ target: String) throws {
        let why: String? = withUnsafeTemporaryAllocation(of: CChar.self, capacity: 512) { why in
            cutover_pq_unavailable(why.baseAddress, why.count) == 0 ? nil : String(cString: why.baseAddress!)
        }
        if let why { throw PostgresError(code: "connect", message: "\(target): \(why); install libpq5 (scripts/install-deps)", retryable: false) }
    }

    private static func checked(_ conn: OpaquePointer?, target: String) throws -> PQConnection {
        guard let conn else { throw PostgresError(code: "connect", message: "\(target): out of memory", retryable: true) }
        guard cutover_PQstatus(conn) == CONNECTION_OK else {
            let detail = message(cutover_PQerrorMessage(conn))
            cutover_PQfinish(conn)
            // A refused password, role or database is not cured by trying again; a server
            // starting, stopping, or not taking connections to the database for now may be.
            let passing = detail.contains("not currently accepting connections") || detail.contains("shutting down") || detail.contains("starting up")
                || detail.contains("in recovery mode")
            let auth = !passing && (detail.contains("password authentication failed") || detail.contains("role \"") || detail.contains("no pg_hba.conf entry")
                || detail.contains("database \""))
            throw PostgresError(code: auth ? "auth" : "connect", message: "\(target): cannot connect: \(detail)", retryable: !auth)
        }
        return PQConnection(conn, target: target)
    }

    /// Whether the connection is still up, as libpq last saw it.
    public var isOK: Bool { cutover_PQstatus(conn) == CONNECTION_OK }

    /// Reconnects with the same parameters after the server went away.
    /// - Throws: `PostgresError` when the server still does not answer.
    public func reset() throws {
        prepared.removeAll()
        cutover_PQreset(conn)
        guard cutover_PQstatus(conn) == CONNECTION_OK else {
            throw PostgresError(code: "connect", message: "\(target): cannot reconnect: \(Self.message(cutover_PQerrorMessage(conn)))", retryable: true)
        }
    }

    /// Runs one statement with text parameters ($1, $2...).
    /// - Returns: the rows as text (nil for NULL) and the number of rows the command touched.
    @discardableResult
    public func execute(_ sql: String, _ parameters: [String?] = []) throws -> (rows: [[String?]], affected: Int) {
        let result = try run(sql, parameters, binary: false)
        defer { cutover_PQclear(result) }
        var rows: [[String?]] = []
        for r in 0..<cutover_PQntuples(result) {
            rows.append((0..<cutover_PQnfields(result)).map { c in cutover_PQgetisnull(result, r, c) == 1 ? nil : String(cString: cutover_PQgetvalue(result, r, c)) })
        }
        return (rows, Int(String(cString: cutover_PQcmdTuples(result))) ?? 0)
    }

    /// Runs one statement, prepared on first use, and returns its rows in binary form.
    public func query(_ sql: String, _ parameters: [PQValue] = []) throws -> PQRows {
        let name: String
        if let known = prepared[sql] {
            name = known
        } else {
            name = "s\(nextName)"
            nextName += 1
            guard let result = cutover_PQprepare(conn, name, sql, Int32(parameters.count), nil) else {
                throw PostgresError(code: "connect", message: "\(target): \(Self.message(cutover_PQerrorMessage(conn)))", retryable: true)
            }
            try check(result)
            cutover_PQclear(result)
            prepared[sql] = name
        }
        return PQRows(try run(sql, parameters.map(\.wire), binary: true, prepared: name))
    }

    private func run(_ sql: String, _ parameters: [String?], binary: Bool, prepared name: String? = nil) throws -> OpaquePointer {
        let copies = parameters.map { $0.map { strdup($0) } ?? nil }
        defer { copies.forEach { free($0) } }
        let result = copies.map { UnsafePointer($0) }.withUnsafeBufferPointer { p in
            if let name { return cutover_PQexecPrepared(conn, name, Int32(parameters.count), p.baseAddress, nil, nil, binary ? 1 : 0) }
            return cutover_PQexecParams(conn, sql, Int32(parameters.count), nil, p.baseAddress, nil, nil, binary ? 1 : 0)
        }
        guard let result else {
            throw PostgresError(code: "connect", message: "\(target): \(Self.message(cutover_PQerrorMessage(conn)))", retryable: true)
        }
        try check(result)
        return result
    }

    /// Throws the result's error (and frees it) unless it succeeded.
    private func check(_ result: OpaquePointer) throws {
        let status = cutover_PQresultStatus(result)
        guard status == PGRES_TUPLES_OK || status == PGRES_COMMAND_OK else {
            let state = cutover_PQresultErrorField(result, Int32(UInt8(ascii: "C"))).map { String(cString: $0) }
                ?? (cutover_PQstatus(conn) == CONNECTION_OK ? "error" : "connect")
            let text = Self.message(cutover_PQresultErrorMessage(result))
            cutover_PQclear(result)
            // Connection trouble (08...), serialization failures, deadlocks and lock timeouts
            // can pass; the rest will not.
            let retryable = state == "connect" || state.hasPrefix("08") || state == "40001" || state == "40P01" || state == "55P03" || state.hasPrefix("57P")
            // A connection that broke forgets its prepared statements.
            if cutover_PQstatus(conn) != CONNECTION_OK { prepared.removeAll() }
            throw PostgresError(code: state, message: "\(target): \(text)", retryable: retryable)
        }
    }

    /// libpq's message, on one line and escaped for a terminal.
    static func message(_ p: UnsafePointer<CChar>?) -> String {
        let text = p.map { String(cString: $0) } ?? "no message"
        return TerminalText.escaped(text.trimmingCharacters(in: .whitespacesAndNewlines).replacingOccurrences(of: "\n", with: " "))
    }
}

extension PQConnection {
    /// Waits up to `timeout` for a notification on a channel this connection `LISTEN`s to
    /// (consumed, their payloads dropped: a listener is told that something changed, then
    /// reads what).
    /// - Returns: whether one arrived.
    /// - Throws: `PostgresError` (`connect`, retryable) when the connection is lost.
    public func waitForNotification(_ timeout: Duration) throws -> Bool {
        if drainNotifications() { return true }
        let socket = cutover_PQsocket(conn)
        guard socket >= 0 else { throw PostgresError(code: "connect", message: "\(target): the connection is closed", retryable: true) }
        var fd = pollfd(fd: socket, events: Int16(POLLIN), revents: 0)
        let millis = Int32(clamping: max(0, timeout.components.seconds * 1_000 + timeout.components.attoseconds / 1_000_000_000_000_000))
        guard poll(&fd, 1, millis) > 0 else { return false }
        guard cutover_PQconsumeInput(conn) == 1 else {
            throw PostgresError(code: "connect", message: "\(target): \(Self.message(cutover_PQerrorMessage(conn)))", retryable: true)
        }
        return drainNotifications()
    }

    private func drainNotifications() -> Bool {
        var any = false
        while let n = cutover_PQnotifies(conn) {
            any = true
            cutover_PQfreemem(n)
        }
        return any
    }
}
