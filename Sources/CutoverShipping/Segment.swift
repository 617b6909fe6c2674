import CutoverCore
import CutoverCrypto
import Foundation

/// A stretch of the event log as it is shipped: write-once, named by its first global position
/// alone, carrying the hash it continues from, the hash of its last event and the log's signed
/// checkpoints that fall inside it. JSON Lines: a header, then one line per event exactly as
/// stored (body bytes and hash included), so a restore imports what the chain hashed.
public struct Segment: Sendable, Equatable {
    public static let format = "cutover-segment/1"

    public var first: Int64
    public var last: Int64
    /// The hash of the event before `first` (all zeros for the log's first).
    public var continues: [UInt8]
    public var lastHash: [UInt8]
    public var events: [StoredEvent]
    public var checkpoints: [StoredCheckpoint]

    public init(events: [StoredEvent], continues: [UInt8], checkpoints: [StoredCheckpoint]) {
        first = events.first?.seq ?? 0
        last = events.last?.seq ?? 0
        self.continues = continues
        lastHash = events.last?.hash ?? continues
        self.events = events
        self.checkpoints = checkpoints
    }

    /// `PREFIX/segments/00000000000000000001.jsonl`: the first position, zero-padded so that
    /// the names sort as the positions do. Two writers continuing the log from the same
    /// position choose the same name: the second one's create-only write is refused.
    public static func key(prefix: String, first: Int64) -> String {
        let digits = String(first)
        return join(prefix, "segments/" + String(repeating: "0", count: max(0, 20 - digits.count)) + digits + ".jsonl")
    }

    /// The folder a prefix's segments are listed from.
    public static func folder(prefix: String) -> String { join(prefix, "segments/") }

    static func join(_ prefix: String, _ rest: String) -> String {
        prefix.isEmpty ? rest : (prefix.hasSuffix("/") ? prefix + rest : prefix + "/" + rest)
    }

    public func encoded() -> [UInt8] {
        var header: [String: JSONValue] = [
            "format": .string(Self.format), "first": .int(first), "last": .int(last),
            "continues": .string(Hex.encode(continues)), "lastHash": .string(Hex.encode(lastHash)), "events": .int(Int64(events.count)),
        ]
        if !checkpoints.isEmpty {
            header["checkpoints"] = .array(checkpoints.map(Self.json))
        }
        var out = JSONValue.object(header).canonicalString + "\n"
        for e in events {
            out += JSONValue.object([
                "seq": .int(e.seq), "run": .string(e.runID), "runSeq": .int(e.runSeq), "type": .string(e.type), "at": .int(e.atMillis),
                "actor": .string(e.actor), "body": .string(e.bodyJSON), "hash": .string(Hex.encode(e.hash)),
            ]).canonicalString + "\n"
        }
        return Array(out.utf8)
    }

    /// Reads a segment, checking that it says what it holds: its header's positions and hashes
    /// agree with its events, which follow one another. The chain's hashes themselves are
    /// checked by the importer.
    /// - Throws: `ShippingError` naming `name` and what is wrong.
    public static func decode(_ bytes: [UInt8], name: String) throws -> Segment {
        let lines = bytes.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: true)
        func bad(_ what: String) -> ShippingError { ShippingError("\(name): \(what)") }
        guard let first = lines.first, let header = try? JSONValue.parse(Data(first)).objectValue else {
            throw bad("not a cutover segment (no header line)")
        }
        guard header["format"]?.stringValue == format else {
            throw bad("not a cutover segment of format \(format) (found \(header["format"]?.shortDescription ?? "none"))")
        }
        guard let from = header["first"]?.intValue, let to = header["last"]?.intValue, let count = header["events"]?.intValue,
            let continues = header["continues"]?.stringValue.flatMap(Hex.decode), let lastHash = header["lastHash"]?.stringValue.flatMap(Hex.decode)
        else { throw bad("its header lacks first, last, events, continues or lastHash") }
        var events: [StoredEvent] = []
        for (i, line) in lines.dropFirst().enumerated() {
            guard let o = try? JSONValue.parse(Data(line)).objectValue, let seq = o["seq"]?.intValue, let run = o["run"]?.stringValue,
                let runSeq = o["runSeq"]?.intValue, let type = o["type"]?.stringValue, let at = o["at"]?.intValue,
                let actor = o["actor"]?.stringValue, let body = o["body"]?.stringValue, let hash = o["hash"]?.stringValue.flatMap(Hex.decode)
            else { throw bad("line \(i + 2) is not an event") }
            events.append(StoredEvent(seq: seq, runID: run, runSeq: runSeq, type: type, atMillis: at, actor: actor, bodyJSON: body, hash: hash))
        }
        guard Int64(events.count) == count, events.first?.seq == from, events.last?.seq == to, to - from + 1 == count else {
            throw bad("its header says events \(from)...\(to) (\(count)), it holds \(events.count) from \(events.first?.seq ?? 0) to \(events.last?.seq ?? 0)")
        }
        for (a, b) in zip(events, events.dropFirst()) where b.seq != a.seq + 1 {
            throw bad("event \(b.seq) follows event \(a.seq): events are missing or out of order")
        }
        guard events.last?.hash == lastHash else { throw bad("its last event's hash is not the one its header names") }
        var checkpoints: [StoredCheckpoint] = []
        for (i, c) in (header["checkpoints"]?.arrayValue ?? []).enumerated() {
            guard let cp = checkpoint(c) else { throw bad("checkpoint \(i + 1) of its header is malformed") }
            checkpoints.append(cp)
        }
        var segment = Segment(events: events, continues: continues, checkpoints: checkpoints)
        segment.lastHash = lastHash
        return segment
    }
}

extension Segment {
    /// A signed checkpoint as shipped: in a segment's header, and as an object of its own.
    static func json(_ cp: StoredCheckpoint) -> JSONValue {
        .object([
            "seq": .int(cp.seq), "hash": .string(Hex.encode(cp.hash)), "at": .int(cp.atMillis), "key": .string(cp.key),
            "signature": .string(Hex.encode(cp.signature)),
        ])
    }

    /// A shipped checkpoint read back; nil when it is not one.
    static func checkpoint(_ c: JSONValue) -> StoredCheckpoint? {
        guard let seq = c["seq"]?.intValue, let hash = c["hash"]?.stringValue.flatMap(Hex.decode), let at = c["at"]?.intValue,
            let key = c["key"]?.stringValue, let signature = c["signature"]?.stringValue.flatMap(Hex.decode)
        else { return nil }
        return StoredCheckpoint(n: 0, seq: seq, hash: hash, atMillis: at, key: key, signature: signature)
    }
}

/// Why shipping, restoring or verifying from a bucket stopped: names the object and what to do.
public struct ShippingError: Error, Sendable, CustomStringConvertible {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

