import CutoverCore
import CutoverCrypto
import Foundation

/// A signed statement that the chain ended in `hash` at global position `seq`.
public struct StoredCheckpoint: Sendable, Equatable {
    public let n: Int64
    public let seq: Int64
    public let hash: [UInt8]
    public let atMillis: Int64
    /// The signing key's fingerprint.
    public let key: String
    public let signature: [UInt8]

    public init(n: Int64, seq: Int64, hash: [UInt8], atMillis: Int64, key: String, signature: [UInt8]) {
        self.n = n
        self.seq = seq
        self.hash = hash
        self.atMillis = atMillis
        self.key = key
        self.signature = signature
    }

    /// The bytes signed: `cutover-checkpoint:v1:<seq>:<hash hex>:<at ms>:<key>`.
    public static func message(seq: Int64, hash: [UInt8], atMillis: Int64, key: String) -> [UInt8] {
        Array("cutover-checkpoint:v1:\(seq):\(Hex.encode(hash)):\(atMillis):\(key)".utf8)
    }

    public var message: [UInt8] { Self.message(seq: seq, hash: hash, atMillis: atMillis, key: key) }
}

extension SQLiteEventLog {
    /// The last event's position and hash, or nil for an empty log.
    public func head() throws -> (seq: Int64, hash: [UInt8])? {
        lock.lock()
        defer { lock.unlock() }
        var out: (Int64, [UInt8])?
        try db.query("SELECT seq, hash FROM events ORDER BY seq DESC LIMIT 1") { out = ($0.int(0), $0.blob(1)) }
        return out
    }

    /// The position and hash of one event.
    public func link(at seq: Int64) throws -> [UInt8]? {
        lock.lock()
        defer { lock.unlock() }
        var out: [UInt8]?
        try db.query("SELECT hash FROM events WHERE seq = ?", [.int(seq)]) { out = $0.blob(0) }
        return out
    }

    /// The first and last global positions of a run's events.
    public func span(of run: String) throws -> (first: Int64, last: Int64)? {
        lock.lock()
        defer { lock.unlock() }
        var out: (Int64, Int64)?
        try db.query("SELECT MIN(seq), MAX(seq) FROM events WHERE run_id = ?", [.text(run)]) { row in
            if !row.isNull(0) { out = (row.int(0), row.int(1)) }
        }
        return out
    }

    /// Appends a signed checkpoint; checkpoints are never changed or removed.
    public func appendCheckpoint(seq: Int64, hash: [UInt8], atMillis: Int64, key: String, signature: [UInt8]) throws -> StoredCheckpoint {
        lock.lock()
        defer { lock.unlock() }
        var n: Int64 = 0
        try db.query("INSERT INTO checkpoints(seq, hash, at_ms, key, signature) VALUES (?, ?, ?, ?, ?) RETURNING n", [
            .int(seq), .blob(hash), .int(atMillis), .text(key), .blob(signature),
        ]) { n = $0.int(0) }
        return StoredCheckpoint(n: n, seq: seq, hash: hash, atMillis: atMillis, key: key, signature: signature)
    }

    public func checkpoints() throws -> [StoredCheckpoint] {
        lock.lock()
        defer { lock.unlock() }
        var out: [StoredCheckpoint] = []
        // A database from before checkpoints existed has no table: no checkpoints.
        var exists = false
        try db.query("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'checkpoints'") { _ in exists = true }
        guard exists else { return [] }
        try db.query("SELECT n, seq, hash, at_ms, key, signature FROM checkpoints ORDER BY n") { row in
            out.append(StoredCheckpoint(n: row.int(0), seq: row.int(1), hash: row.blob(2), atMillis: row.int(3), key: row.text(4), signature: row.blob(5)))
        }
        return out
    }
}
