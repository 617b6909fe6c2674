import CutoverCore
import Foundation

/// An event row as bytes, for the chain check's fast path: valid only inside the callback.
public struct RawEventRow {
    public let seq: Int64
    public let runSeq: Int64
    public let atMillis: Int64
    public let runID: UnsafeRawBufferPointer
    public let type: UnsafeRawBufferPointer
    public let actor: UnsafeRawBufferPointer
    public let body: UnsafeRawBufferPointer
    public let hash: UnsafeRawBufferPointer

    /// The row as an ordinary `StoredEvent` (copies).
    public var stored: StoredEvent {
        func text(_ b: UnsafeRawBufferPointer) -> String { String(decoding: b, as: UTF8.self) }
        return StoredEvent(seq: seq, runID: text(runID), runSeq: runSeq, type: text(type), atMillis: atMillis, actor: text(actor), bodyJSON: text(body), hash: Array(hash))
    }
}

extension SQLiteEventLog {
    /// Calls `visit` with every event row in global order, without copying its columns.
    public func forEachRawEvent(from seq: Int64 = 1, through last: Int64 = .max, _ visit: (RawEventRow) throws -> Void) throws {
        lock.lock()
        defer { lock.unlock() }
        try db.query("SELECT \(Self.columns) FROM events WHERE seq >= ? AND seq <= ? ORDER BY seq", [.int(seq), .int(last)]) { row in
            try visit(RawEventRow(
                seq: row.int(0), runSeq: row.int(2), atMillis: row.int(4), runID: row.bytes(1), type: row.bytes(3),
                actor: row.bytes(5), body: row.bytes(6), hash: row.bytes(7)))
        }
    }
}

/// Writes `Event.canonicalBytes` from raw columns into a reused buffer. Returns false when a
/// text needs JSON escaping (then the caller takes the ordinary path, which escapes).
public struct CanonicalWriter {
    public private(set) var buffer: [UInt8] = []

    public init() { buffer.reserveCapacity(4_096) }

    private static func plain(_ b: UnsafeRawBufferPointer) -> Bool {
        for c in b where c < 0x20 || c == 0x22 || c == 0x5c { return false }
        return true
    }

    private mutating func append(_ s: StaticString) {
        buffer.append(contentsOf: UnsafeBufferPointer(start: s.utf8Start, count: s.utf8CodeUnitCount))
    }

    private mutating func append(_ n: Int64) {
        if n < 0 {
            buffer.append(UInt8(ascii: "-"))
            append(UInt64(-n))
        } else {
            append(UInt64(n))
        }
    }

    private mutating func append(_ n: UInt64) {
        var digits: (UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8) =
            (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
        var v = n
        var count = 0
        withUnsafeMutableBytes(of: &digits) { d in
            repeat {
                d[19 - count] = UInt8(ascii: "0") + UInt8(v % 10)
                v /= 10
                count += 1
            } while v > 0
            buffer.append(contentsOf: d[(20 - count)...])
        }
    }

    private mutating func quoted(_ b: UnsafeRawBufferPointer) {
        buffer.append(0x22)
        buffer.append(contentsOf: b)
        buffer.append(0x22)
    }

    /// The canonical bytes, after the 32-byte link `write` was given.
    public var canonicalCount: Int { buffer.count - 32 }

    /// Writes the previous hash, then the row's canonical bytes: one buffer to hash.
    public mutating func write(_ r: RawEventRow, after link: [UInt8]) -> Bool {
        guard Self.plain(r.actor), Self.plain(r.runID), Self.plain(r.type) else { return false }
        buffer.removeAll(keepingCapacity: true)
        buffer.append(contentsOf: link)
        append("{\"actor\":")
        quoted(r.actor)
        append(",\"at\":")
        append(r.atMillis)
        append(",\"body\":")
        buffer.append(contentsOf: r.body)
        append(",\"run\":")
        quoted(r.runID)
        append(",\"runSeq\":")
        append(r.runSeq)
        append(",\"seq\":")
        append(r.seq)
        append(",\"type\":")
        quoted(r.type)
        buffer.append(UInt8(ascii: "}"))
        return true
    }
}
