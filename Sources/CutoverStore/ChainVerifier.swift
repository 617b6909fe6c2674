import CutoverCore
import CutoverCrypto

/// Recomputes the hash chain over the whole log in global order.
public struct ChainReport: Sendable, Equatable {
    public var events: Int64
    public var bytes: Int64
    /// The first position where the chain breaks, and what is wrong there.
    public var firstProblem: (seq: Int64, message: String)?

    public var intact: Bool { firstProblem == nil }

    public static func == (a: ChainReport, b: ChainReport) -> Bool {
        a.events == b.events && a.bytes == b.bytes && a.firstProblem?.seq == b.firstProblem?.seq
            && a.firstProblem?.message == b.firstProblem?.message
    }
}

extension SQLiteEventLog {
    /// Checks that every event's hash is SHA-256 of the previous hash and its canonical bytes,
    /// and that global positions have no gaps. Reads only.
    /// - Throws: a storage error when the log cannot be read.
    public func verifyChain() throws -> ChainReport {
        let hasher = SHA256Hasher()
        var previous = [UInt8](repeating: 0, count: SHA256.byteCount)
        var expectedSeq: Int64 = 1
        var report = ChainReport(events: 0, bytes: 0)
        try forEachEvent { e in
            guard report.firstProblem == nil else { return }
            report.events += 1
            if e.seq != expectedSeq {
                report.firstProblem = (e.seq, "expected event \(expectedSeq) next, found \(e.seq): events \(expectedSeq)...\(e.seq - 1) are missing")
                return
            }
            let canonical = Event.canonicalBytes(
                seq: e.seq, runID: e.runID, runSeq: e.runSeq, atMillis: e.atMillis, actor: e.actor, type: e.type,
                bodyJSON: e.bodyJSON)
            report.bytes += Int64(canonical.utf8.count)
            hasher.update(previous)
            hasher.update(canonical)
            let hash = hasher.finish()
            if hash != e.hash {
                report.firstProblem = (e.seq, "hash mismatch at event \(e.seq) (run \(e.runID) position \(e.runSeq), \(e.type)): the event was changed, or an event before it was removed or inserted")
                return
            }
            previous = hash
            expectedSeq += 1
        }
        return report
    }
}
