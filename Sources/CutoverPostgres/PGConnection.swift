import CutoverCore
import Foundation
internal import CPostgres

/// A PostgreSQL call that failed: the connection, or the server's error with its SQLSTATE.
/// Names the server and what was being done; never the password.
public struct PostgresError: Error, Sendable, CustomStringConvertible {
    /// `connect`, `garbage`, or the SQLSTATE (`28P01`, `42501`...).
    public var code: String
    public var message: String
    public var retryable: Bool

    public var description: String { message }
}

extension PostgresError: StepFailure {
    public func stepError(doing what: String) -> StepError {
        StepError(code: "postgres-\(code)", message: "\(what): \(message)", retryable: retryable)
    }
}

/// One libpq connection, opened and used on one thread (libpq calls block), then closed.
final class PGConnection {
    private let conn: OpaquePointer
    let target: String

    private init(_ conn: OpaquePointer, target: String) {
        self.conn = conn
        self.target = target
    }

    deinit { PQfinish(conn) }

    /// Connects with libpq's keyword/value form (no connection string is parsed, so no value
    /// can smuggle another keyword in).
    static func open(_ parameters: [(String, String)], target: String) throws -> PGConnection {
        let keys = parameters.map { strdup($0.0) } + [nil]
        let values = parameters.map { strdup($0.1) } + [nil]
        defer {
            keys.forEach { free($0) }
            values.forEach { free($0) }
        }
        let conn = keys.map { UnsafePointer($0) }.withUnsafeBufferPointer { k in
            values.map { UnsafePointer($0) }.withUnsafeBufferPointer { v in PQconnectdbParams(k.baseAddress, v.baseAddress, 0) }
        }
        guard let conn else { throw PostgresError(code: "connect", message: "\(target): out of memory", retryable: true) }
        guard PQstatus(conn) == CONNECTION_OK else {
            let detail = message(PQerrorMessage(conn))
            PQfinish(conn)
            // A refused password or role is not cured by trying again.
            let auth = detail.contains("password authentication failed") || detail.contains("role \"") || detail.contains("no pg_hba.conf entry")
            throw PostgresError(code: auth ? "auth" : "connect", message: "\(target): cannot connect: \(detail)", retryable: !auth)
        }
        return PGConnection(conn, target: target)
    }

    /// Runs one statement with text parameters ($1, $2...).
    /// - Returns: the rows as text (nil for NULL) and the number of rows the command touched.
    @discardableResult
    func execute(_ sql: String, _ parameters: [String?] = []) throws -> (rows: [[String?]], affected: Int) {
        let copies = parameters.map { $0.map { strdup($0) } ?? nil }
        defer { copies.forEach { free($0) } }
        let result = copies.map { UnsafePointer($0) }.withUnsafeBufferPointer { p in
            PQexecParams(conn, sql, Int32(parameters.count), nil, p.baseAddress, nil, nil, 0)
        }
        guard let result else { throw PostgresError(code: "connect", message: "\(target): \(Self.message(PQerrorMessage(conn)))", retryable: true) }
        defer { PQclear(result) }
        let status = PQresultStatus(result)
        guard status == PGRES_TUPLES_OK || status == PGRES_COMMAND_OK else {
            let state = PQresultErrorField(result, Int32(UInt8(ascii: "C"))).map { String(cString: $0) } ?? "error"
            let text = Self.message(PQresultErrorMessage(result))
            // Connection trouble (08...), serialization and lock timeouts can pass; the rest will not.
            let retryable = state.hasPrefix("08") || state == "40001" || state == "55P03" || state == "57P03"
            throw PostgresError(code: state, message: "\(target): \(text)", retryable: retryable)
        }
        var rows: [[String?]] = []
        for r in 0..<PQntuples(result) {
            rows.append((0..<PQnfields(result)).map { c in PQgetisnull(result, r, c) == 1 ? nil : String(cString: PQgetvalue(result, r, c)) })
        }
        let affected = Int(String(cString: PQcmdTuples(result))) ?? 0
        return (rows, affected)
    }

    /// libpq's message, on one line and escaped for a terminal.
    private static func message(_ p: UnsafePointer<CChar>?) -> String {
        let text = p.map { String(cString: $0) } ?? "no message"
        return TerminalText.escaped(text.trimmingCharacters(in: .whitespacesAndNewlines).replacingOccurrences(of: "\n", with: " "))
    }
}
