import CutoverCore
import Foundation
internal import CSQLite

/// A thin SQLite connection: every result code goes through `check`, statements are
/// prepared once and reused. Deliberately not `Sendable`: `ChainedStore` serialises access.
final class SQLiteDatabase {
    private var handle: OpaquePointer?
    private var statements: [String: OpaquePointer] = [:]
    let path: String

    /// Opens (creating with mode 0600 if missing) the database at `path`.
    /// - Throws: `StoreError` naming the path, its cause a `SQLiteResultError`.
    init(path: String, readOnly: Bool = false) throws {
        self.path = path
        if readOnly {
            guard FileManager.default.fileExists(atPath: path) else {
                throw StoreError(.unavailable, "\(path): no such database; point --db or CUTOVER_DB at the event log")
            }
            let rc = sqlite3_open_v2(path, &handle, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, nil)
            guard rc == SQLITE_OK else { throw openFailure(rc) }
            sqlite3_busy_timeout(handle, 10_000)
            return
        }
        let url = URL(fileURLWithPath: path)
        let dir = url.deletingLastPathComponent().path
        if !FileManager.default.fileExists(atPath: dir) {
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        }
        if !FileManager.default.fileExists(atPath: path) {
            let fd = open(path, O_CREAT | O_WRONLY | O_EXCL, 0o600)
            if fd >= 0 { close(fd) } else if errno != EEXIST {
                let why = String(cString: strerror(errno))
                throw StoreError(
                    errno == EROFS || errno == EACCES ? .readOnly : .unavailable,
                    "cannot create \(path): \(why); check the folder's permissions, or point --db or CUTOVER_DB elsewhere")
            }
        }
        let flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX
        let rc = sqlite3_open_v2(path, &handle, flags, nil)
        guard rc == SQLITE_OK else { throw openFailure(rc) }
        sqlite3_busy_timeout(handle, 10_000)
        _ = cutover_sqlite_enable_defensive(handle)
    }

    private func openFailure(_ rc: Int32) -> StoreError {
        let message = handle.map { String(cString: sqlite3_errmsg($0)) } ?? "out of memory"
        let extended = handle.map { sqlite3_extended_errcode($0) } ?? rc
        sqlite3_close_v2(handle)
        handle = nil
        return SQLiteResultError(code: extended, message: message, path: path).storeError(doing: "cannot open \(path)")
    }

    deinit {
        for (_, stmt) in statements { sqlite3_finalize(stmt) }
        sqlite3_close_v2(handle)
    }

    /// Whether a transaction is open (SQLite may roll one back by itself after some errors).
    var inTransaction: Bool { sqlite3_get_autocommit(handle) == 0 }

    /// Runs SQL that returns no rows (may hold several statements).
    func execute(_ sql: String) throws {
        var error: UnsafeMutablePointer<CChar>?
        let rc = sqlite3_exec(handle, sql, nil, nil, &error)
        if rc != SQLITE_OK {
            let message = error.map { String(cString: $0) } ?? "code \(rc)"
            sqlite3_free(error)
            let cause = SQLiteResultError(code: sqlite3_extended_errcode(handle), message: message, path: path)
            throw cause.storeError(doing: path)
        }
    }

    /// Runs `body`, trying again while another connection holds a lock SQLite does not wait
    /// for on its own (switching a new file to WAL while another process does the same).
    func retryingBusy(for seconds: Double = 10, _ body: () throws -> Void) throws {
        let deadline = Date().addingTimeInterval(seconds)
        while true {
            do {
                return try body()
            } catch let busy as StoreError where busy.code == .busy {
                guard Date() < deadline else {
                    throw StoreError(.busy, "\(busy.message) (still busy after \(Int(seconds))s)", cause: busy.cause, retryable: true)
                }
                usleep(useconds_t.random(in: 5_000...25_000))
            }
        }
    }

    /// Runs one statement with bound values, calling `row` for each result row.
    func query(_ sql: String, _ values: [SQLValue] = [], row: (SQLRow) throws -> Void = { _ in }) throws {
        let stmt = try prepared(sql)
        defer {
            sqlite3_reset(stmt)
            sqlite3_clear_bindings(stmt)
        }
        for (i, value) in values.enumerated() {
            let index = Int32(i + 1)
            let rc: Int32
            switch value {
            case .null: rc = sqlite3_bind_null(stmt, index)
            case .int(let v): rc = sqlite3_bind_int64(stmt, index, v)
            case .text(let v): rc = sqlite3_bind_text(stmt, index, v, -1, cutover_sqlite_transient())
            case .blob(let v):
                rc = v.withUnsafeBytes { sqlite3_bind_blob(stmt, index, $0.baseAddress, Int32($0.count), cutover_sqlite_transient()) }
            }
            try check(rc)
        }
        while true {
            let rc = sqlite3_step(stmt)
            if rc == SQLITE_DONE { return }
            guard rc == SQLITE_ROW else { try check(rc); return }
            try row(SQLRow(stmt: stmt))
        }
    }

    /// Rows changed by the last statement.
    var changes: Int { Int(sqlite3_changes(handle)) }

    private func prepared(_ sql: String) throws -> OpaquePointer {
        if let stmt = statements[sql] { return stmt }
        var stmt: OpaquePointer?
        try check(sqlite3_prepare_v3(handle, sql, -1, UInt32(SQLITE_PREPARE_PERSISTENT), &stmt, nil))
        statements[sql] = stmt!
        return stmt!
    }

    private func check(_ rc: Int32) throws {
        guard rc != SQLITE_OK, rc != SQLITE_ROW, rc != SQLITE_DONE else { return }
        let cause = SQLiteResultError(code: sqlite3_extended_errcode(handle), message: String(cString: sqlite3_errmsg(handle)), path: path)
        throw cause.storeError(doing: path)
    }
}

/// SQLite's own account of a failure: its extended result code and message.
public struct SQLiteResultError: Error, Sendable, CustomStringConvertible {
    /// The extended result code (`sqlite3_extended_errcode`); its low byte is the primary code.
    public let code: Int32
    public let message: String
    let path: String

    public var description: String { "SQLite error \(code): \(message)" }

    /// The store's error for this failure: a code to branch on and what to do about it.
    func storeError(doing what: String) -> StoreError {
        let primary = code & 0xff
        let (kind, advice): (StoreError.Code, String) =
            switch primary {
            case SQLITE_BUSY, SQLITE_LOCKED: (.busy, "another process holds the database longer than 10s; try again")
            case SQLITE_FULL: (.full, "the disk is full; free space, then `cutover resume` carries the run on")
            case SQLITE_READONLY: (.readOnly, "the database cannot be written (file, folder or mount read-only)")
            case SQLITE_CORRUPT, SQLITE_NOTADB: (.corrupt, "this file is not a cutover event log, or it is damaged; `cutover audit verify` says where")
            case SQLITE_IOERR: (.io, "the operating system failed a read or write; check the disk")
            case SQLITE_CANTOPEN, SQLITE_PERM, SQLITE_AUTH: (.unavailable, "check the path and its permissions")
            case SQLITE_CONSTRAINT where message.contains("append-only"): (.refused, "the log is append-only")
            default: (.other, "")
            }
        return StoreError(kind, "\(what): \(message)" + (advice.isEmpty ? "" : "; \(advice)"), cause: self)
    }
}

enum SQLValue {
    case null
    case int(Int64)
    case text(String)
    case blob([UInt8])
}

/// One result row, valid only inside the `row` callback.
struct SQLRow {
    fileprivate let stmt: OpaquePointer

    func int(_ i: Int32) -> Int64 { sqlite3_column_int64(stmt, i) }
    func isNull(_ i: Int32) -> Bool { sqlite3_column_type(stmt, i) == SQLITE_NULL }

    func text(_ i: Int32) -> String {
        guard let p = sqlite3_column_text(stmt, i) else { return "" }
        let n = Int(sqlite3_column_bytes(stmt, i))
        return String(decoding: UnsafeBufferPointer(start: p, count: n), as: UTF8.self)
    }

    /// A column's bytes, valid until the row changes: no copy.
    func bytes(_ i: Int32) -> UnsafeRawBufferPointer {
        // The pointer first, then its length, as SQLite asks.
        guard let p = sqlite3_column_blob(stmt, i) else { return UnsafeRawBufferPointer(start: nil, count: 0) }
        return UnsafeRawBufferPointer(start: p, count: Int(sqlite3_column_bytes(stmt, i)))
    }

    func blob(_ i: Int32) -> [UInt8] {
        let n = Int(sqlite3_column_bytes(stmt, i))
        guard n > 0, let p = sqlite3_column_blob(stmt, i) else { return [] }
        return Array(UnsafeRawBufferPointer(start: p, count: n))
    }
}
