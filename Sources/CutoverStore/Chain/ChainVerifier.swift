import CutoverCore
import CutoverCrypto

/// The one check of the hash chain: each row must stand at the next global position and carry
/// `SHA-256(previous hash || its canonical bytes)`. The store's own check, the audit and the
/// bench all go through it; the audit adds checkpoints, signatures and the fold on top.
public struct ChainVerifier {
    /// What one row is, against the chain so far.
    public enum Verdict: Equatable {
        /// It follows: its position is next and its hash matches. The verifier moved on.
        case follows
        /// Its position is not the next one (`expected`): events are missing or reordered.
        case outOfPlace(expected: Int64)
        /// It stands in place but its hash does not follow from the one before.
        case mismatch
    }

    private var hasher = ChainHasher()
    private var digest = [UInt8](repeating: 0, count: SHA256.byteCount)
    /// The hash of the last row that followed (the starting link before any).
    public private(set) var link: [UInt8]
    /// The hash before `link`: what an inserted row's successor was chained to.
    public private(set) var linkBefore: [UInt8]?
    /// The position the next row must have.
    public private(set) var expectedSeq: Int64
    /// Rows that followed, and their canonical bytes.
    public private(set) var events: Int64 = 0
    public private(set) var bytes: Int64 = 0

    /// Starts after `start` (the genesis link for a whole log, or the event before a stretch).
    public init(after start: ChainLink = .genesis) {
        link = start.hash
        expectedSeq = start.seq + 1
    }

    /// Checks `row` and, when it follows, moves past it.
    public mutating func check(_ row: EventRow) -> Verdict {
        guard row.seq == expectedSeq else { return .outOfPlace(expected: expectedSeq) }
        hasher.hash(row, after: link, into: &digest)
        guard digest.elementsEqual(row.hash) else { return .mismatch }
        events += 1
        bytes += Int64(hasher.lastCanonicalCount)
        // Three buffers turn: the new hash becomes the link, the link the one before, and the
        // oldest is written over next time (no array is copied or made per row).
        var spare = linkBefore ?? [UInt8](repeating: 0, count: SHA256.byteCount)
        swap(&spare, &link)  // link = spare (old linkBefore), spare = old link
        swap(&link, &digest)  // link = new hash, digest = old linkBefore (written over next)
        linkBefore = spare
        expectedSeq += 1
        return .follows
    }

    /// Whether `row` was hashed one position lower, chained to the link before the last one:
    /// then the row before it was inserted and everything after renumbered.
    public mutating func followsOnePositionLower(_ row: EventRow) -> Bool {
        guard let linkBefore else { return false }
        let shifted = EventRow(
            seq: row.seq - 1, runSeq: row.runSeq, atMillis: row.atMillis, runID: row.runID, type: row.type, actor: row.actor, body: row.body,
            hash: row.hash)
        hasher.hash(shifted, after: linkBefore, into: &digest)
        return digest.elementsEqual(row.hash)
    }
}

/// What a plain chain check found.
public struct ChainReport: Sendable, Equatable {
    public var events: Int64
    public var bytes: Int64
    /// The first position where the chain breaks, and what is wrong there.
    public var firstProblem: ChainProblem?

    public var intact: Bool { firstProblem == nil }
}

public struct ChainProblem: Sendable, Equatable {
    public let seq: Int64
    public let message: String
}

extension ChainVerifier {
    /// Checks the chain of the whole log, reading only.
    /// - Throws: a `StoreError` when the log cannot be read.
    public static func verify(_ log: any EventLog) throws -> ChainReport {
        var verifier = ChainVerifier()
        var problem: ChainProblem?
        struct Stop: Error {}
        do {
            try log.forEachRow(from: 1, through: .max) { row in
                switch verifier.check(row) {
                case .follows: break
                case .outOfPlace(let expected) where row.seq > expected:
                    problem = ChainProblem(
                        seq: row.seq, message: "expected event \(expected) next, found \(row.seq): events \(expected)...\(row.seq - 1) are missing")
                case .outOfPlace(let expected):
                    problem = ChainProblem(seq: row.seq, message: "expected event \(expected) next, found \(row.seq) again: the order was changed")
                case .mismatch:
                    problem = ChainProblem(
                        seq: row.seq,
                        message:
                            "hash mismatch at event \(row.seq) (run \(String(decoding: row.runID, as: UTF8.self)) position \(row.runSeq), \(String(decoding: row.type, as: UTF8.self))): the event was changed, or an event before it was removed or inserted"
                    )
                }
                if problem != nil { throw Stop() }  // nothing past the first break can be trusted
            }
        } catch is Stop {}
        return ChainReport(events: verifier.events + (problem == nil ? 0 : 1), bytes: verifier.bytes, firstProblem: problem)
    }
}
