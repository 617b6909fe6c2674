import CutoverCore
import CutoverCrypto
import CutoverProviders
import CutoverStore
import Foundation

/// A bucket and prefix the log is shipped to (`s3://bucket/prefix`, `gs://bucket/prefix`).
public struct ShipDestination: Sendable {
    public let url: String
    public let store: any ObjectStore
    public let prefix: String

    public init(url: String, store: any ObjectStore, prefix: String) {
        self.url = url
        self.store = store
        self.prefix = prefix
    }

    func name(_ key: String) -> String { store.url(key) }
}

/// What was shipped to one destination.
public struct ShipResult: Sendable, Equatable {
    public var segments: [String] = []
    /// The checkpoint object written this time, if one was.
    public var checkpoint: String?
    public var events: Int64 = 0
    /// The last event the destination holds now.
    public var through: Int64 = 0
}

/// What a restore read and wrote.
public struct RestoreResult: Sendable, Equatable {
    public var segments = 0
    public var events: Int64 = 0
    public var checkpoints = 0
    public var head: ChainLink?
}

/// Ships the log to buckets as write-once segments, and restores it from them.
public enum LogShipping {
    /// The last segment a destination holds: its key and what it ends with; nil for none.
    public static func shippedHead(_ d: ShipDestination) async throws -> (key: String, last: Int64, hash: [UInt8])? {
        let listed = try await d.store.list(prefix: Segment.folder(prefix: d.prefix)).filter { $0.key.hasSuffix(".jsonl") }
        guard let last = listed.last else { return nil }
        let segment = try await read(d, last.key)
        return (last.key, segment.last, segment.lastHash)
    }

    /// Ships every event after what `d` holds, in segments of at most `perSegment` events,
    /// each written create-only and read back: a segment another writer already wrote at the
    /// same position (a restored copy, a thawed old machine continuing the same log) refuses
    /// the write, and this log stops shipping. Before anything, what `d` holds must be this
    /// log's own beginning: a log here shorter than it (cut off) or different from it
    /// (rewritten) is named.
    /// - Throws: `ShippingError` naming the destination and the object.
    public static func ship(_ log: any EventStore, to d: ShipDestination, proof: RunProof, perSegment: Int = 10_000) async throws -> ShipResult {
        var result = ShipResult()
        let shipped = try await shippedHead(d)
        guard let head = try log.head() else {
            if let shipped {
                throw ShippingError("\(d.url) holds events up to \(shipped.last), and the log here holds none: this log is not the one shipped there (restore from it with `cutover log restore --from \(d.url)`)")
            }
            return result
        }
        var from: Int64 = 1
        var continues = ChainLink.genesis.hash
        if let shipped {
            guard shipped.last <= head.seq else {
                throw ShippingError(
                    "\(d.url) holds events up to \(shipped.last) (\(d.name(shipped.key))), and the log here ends at \(head.seq): the log here is shorter than what was shipped (cut off?); nothing shipped")
            }
            guard try log.link(at: shipped.last)?.hash == shipped.hash else {
                throw ShippingError(
                    "event \(shipped.last) of the log here is not the one shipped to \(d.url) (\(d.name(shipped.key))): the log here was rewritten, or another log ships there; nothing shipped")
            }
            from = shipped.last + 1
            continues = shipped.hash
            result.through = shipped.last
        }
        let checkpoints = try log.checkpoints()
        while from <= head.seq {
            let to = min(head.seq, from + Int64(perSegment) - 1)
            var events: [StoredEvent] = []
            events.reserveCapacity(Int(to - from + 1))
            try log.forEachRow(from: from, through: to) { events.append($0.stored) }
            let inside = checkpoints.filter { $0.seq >= from && $0.seq <= to }
            let segment = Segment(events: events, continues: continues, checkpoints: inside)
            let bytes = segment.encoded()
            let key = Segment.key(prefix: d.prefix, first: from)
            guard try await d.store.create(key, bytes: bytes, proof) else {
                // Another process shipping this same log got there first: its segment is ours.
                let existing = try await read(d, key)
                if existing.continues == continues, try log.link(at: existing.last)?.hash == existing.lastHash {
                    result.through = existing.last
                    continues = existing.lastHash
                    from = existing.last + 1
                    continue
                }
                throw ShippingError(
                    "\(d.name(key)) already exists: another copy of this log continues it from event \(from) (a restored copy, or an old machine come back); this one stops shipping and must not drive runs")
            }
            // Read back: what the bucket holds is what was meant, byte for byte.
            guard let stored = try await d.store.read(key, limit: bytes.count + 1), SHA256.hash(stored) == SHA256.hash(bytes) else {
                throw ShippingError("\(d.name(key)) does not read back as written: the bucket holds other bytes (a proxy or the store changed them); shipping stops")
            }
            result.segments.append(d.name(key))
            result.events += Int64(events.count)
            result.through = to
            continues = segment.lastHash
            from = to + 1
        }
        // The latest checkpoint, shipped also as an object of its own (create-only): in a
        // bucket under Object Lock or a retention policy, no one takes it back, and a log here
        // that no longer extends it is named by `audit verify --against`.
        if let latest = checkpoints.last(where: { $0.seq <= result.through }) {
            let key = checkpointKey(prefix: d.prefix, seq: latest.seq)
            if try await d.store.create(key, bytes: Segment.json(latest).canonicalBytes, proof) { result.checkpoint = d.name(key) }
        }
        return result
    }

    /// `PREFIX/checkpoints/<position>.json`.
    public static func checkpointKey(prefix: String, seq: Int64) -> String {
        Segment.join(prefix, "checkpoints/" + Segment.key(prefix: "", first: seq).dropFirst("segments/".count).replacingOccurrences(of: ".jsonl", with: ".json"))
    }

    /// Every checkpoint ever shipped to `d`: every version of every checkpoint object where the
    /// store keeps versions (one deleted or overwritten since still counts), else every object.
    /// - Throws: `ShippingError` naming an object that is not a checkpoint.
    public static func shippedCheckpoints(_ d: ShipDestination) async throws -> [(name: String, checkpoint: StoredCheckpoint)] {
        let folder = Segment.join(d.prefix, "checkpoints/")
        var found: [(String, [UInt8]?)] = []
        if let versions = d.store.versions {
            for v in try await versions.versions(prefix: folder) where !v.deleted {
                found.append(("\(d.name(v.key)) (version \(v.version))", try await versions.read(v.key, version: v.version, limit: 1 << 16)))
            }
        } else {
            for o in try await d.store.list(prefix: folder) { found.append((d.name(o.key), try await d.store.read(o.key, limit: 1 << 16))) }
        }
        return try found.map { name, bytes in
            guard let bytes, let value = try? JSONValue.parse(Data(bytes)), let cp = Segment.checkpoint(value) else {
                throw ShippingError("\(name) is not a checkpoint")
            }
            return (name, cp)
        }
    }

    /// Rebuilds `into` (an empty log) from `d`'s segments, in order, each checked before
    /// anything is written: it must start where the one before ended and continue its hash,
    /// and every event must hash to the chain. A missing, altered, swapped or overlapping
    /// segment is named, and nothing is written then. Checkpoints are kept when they lie on
    /// the rebuilt chain; runs still active hold their services again.
    /// - Throws: `ShippingError` naming the object.
    public static func restore(from d: ShipDestination, into: ChainedStore) async throws -> RestoreResult {
        guard try into.head() == nil else { throw ShippingError("the log to restore into already holds events: restore into an empty one") }
        let listed = try await d.store.list(prefix: Segment.folder(prefix: d.prefix)).filter { $0.key.hasSuffix(".jsonl") }
        // Segments are written once: where the store keeps versions, one deleted (a delete
        // marker hides it) or written again is tampering, named before anything is read.
        if let versions = d.store.versions {
            var count: [String: Int] = [:]
            for v in try await versions.versions(prefix: Segment.folder(prefix: d.prefix)) {
                if v.deleted { throw ShippingError("\(d.name(v.key)) was deleted after it was shipped (a delete marker hides it; its version remains)") }
                count[v.key, default: 0] += 1
            }
            if let again = count.first(where: { $0.value > 1 }) {
                throw ShippingError("\(d.name(again.key)) was written again after it was shipped (\(again.value) versions)")
            }
        }
        guard !listed.isEmpty else { throw ShippingError("\(d.url) holds no segments (\(d.name(Segment.folder(prefix: d.prefix))) is empty)") }
        var result = RestoreResult()
        var expected: Int64 = 1
        var previous = ChainLink.genesis.hash
        var previousName = "the log's beginning"
        var segments: [Segment] = []
        var hasher = ChainHasher()
        for object in listed {
            let name = d.name(object.key)
            let segment = try await read(d, object.key)
            guard object.key == Segment.key(prefix: d.prefix, first: segment.first) else {
                throw ShippingError("\(name) holds events from \(segment.first), which its name does not say: renamed or swapped")
            }
            if segment.first > expected {
                throw ShippingError("events \(expected)...\(segment.first - 1) are in no segment of \(d.url) (deleted?): \(name) starts at \(segment.first), after \(previousName)")
            }
            if segment.first < expected {
                throw ShippingError("\(name) starts at event \(segment.first), inside \(previousName): two writers continued this log")
            }
            guard segment.continues == previous else {
                throw ShippingError("\(name) does not continue the chain where \(previousName) ends (swapped, or from another log)")
            }
            var link = previous
            for e in segment.events {
                let hash = hasher.hash(seq: e.seq, runID: e.runID, runSeq: e.runSeq, atMillis: e.atMillis, actor: e.actor, type: e.type, body: e.bodyJSON, after: link)
                guard hash == e.hash else {
                    throw ShippingError("\(name): event \(e.seq) (\(e.runID) #\(e.runSeq)) does not hash to the chain: the segment was edited")
                }
                link = hash
            }
            segments.append(segment)
            result.segments += 1
            result.events += Int64(segment.events.count)
            expected = segment.last + 1
            previous = segment.lastHash
            previousName = name
        }
        // A checkpoint a segment carries must lie on the chain it came with; and every
        // checkpoint shipped on its own (every version kept) must lie on the rebuilt chain: a
        // bucket whose last segments were removed or rewritten is named by them.
        var hashes: [Int64: [UInt8]] = [:]
        for segment in segments { for cp in segment.checkpoints { hashes[cp.seq] = cp.hash } }
        for segment in segments {
            for cp in segment.checkpoints where segment.events.first(where: { $0.seq == cp.seq })?.hash != cp.hash {
                throw ShippingError("\(d.name(Segment.key(prefix: d.prefix, first: segment.first))) carries a checkpoint at event \(cp.seq) that is not on its own chain: the segment was rewritten")
            }
        }
        let last = segments.last.map { ($0.last, $0.lastHash) }
        for (name, cp) in try await shippedCheckpoints(d) {
            guard let last, cp.seq <= last.0 else {
                throw ShippingError("\(name) covers event \(cp.seq), beyond the segments' last event \(last?.0 ?? 0): segments were removed from \(d.url) after they were shipped")
            }
            let found = segments.first { $0.first <= cp.seq && cp.seq <= $0.last }?.events.first { $0.seq == cp.seq }?.hash
            guard found == cp.hash else {
                throw ShippingError("event \(cp.seq) in the segments of \(d.url) is not the one \(name) signed: the segments were rewritten after it was shipped")
            }
        }
        // Every segment checked: now the log is written, segment by segment as shipped.
        var kept: [StoredCheckpoint] = []
        for segment in segments {
            try into.importEvents(segment.events)
            kept += segment.checkpoints
        }
        for cp in kept { try into.importCheckpoint(cp) }
        result.checkpoints = kept.count
        for run in try into.runIDs() {
            guard let state = try? RunState.fold(run, try into.events(of: run, after: 0)), !state.status.isTerminal, let scope = state.plan?.scope else { continue }
            try into.importLock(scope: scope, run: run)
        }
        result.head = try into.head()
        return result
    }

    static func read(_ d: ShipDestination, _ key: String) async throws -> Segment {
        guard let bytes = try await d.store.read(key, limit: 1 << 30) else {
            throw ShippingError("\(d.name(key)) disappeared while it was read")
        }
        return try Segment.decode(bytes, name: d.name(key))
    }
}
