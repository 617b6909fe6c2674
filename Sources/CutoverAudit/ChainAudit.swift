import CutoverCore
import CutoverCrypto
import CutoverStore
import Foundation

/// One thing found wrong, at the first position where the log stops being trustworthy.
public struct Finding: Sendable, Equatable, CustomStringConvertible {
    public enum Kind: String, Sendable {
        case edited, missing, inserted, reordered, truncated
        case badSignature = "bad-signature"
        case illegalState = "illegal-state"
        case malformed
    }

    public var kind: Kind
    /// The global position it concerns, when there is one.
    public var seq: Int64?
    public var message: String

    public var description: String { seq.map { "seq \($0): \(kind.rawValue): \(message)" } ?? "\(kind.rawValue): \(message)" }
}

/// What verification found; `intact` when nothing.
public struct VerifyReport: Sendable {
    public var events: Int64 = 0
    /// Canonical bytes hashed.
    public var bytes: Int64 = 0
    public var firstSeq: Int64?
    public var lastSeq: Int64?
    public var runsFolded = 0
    public var schedulesFolded = 0
    public var checkpoints = 0
    /// Nil when no public key was given: checkpoints were matched to the chain, not their signatures.
    public var key: String?
    public var eventsAfterLastCheckpoint: Int64 = 0
    public var findings: [Finding] = []
    public var seconds: Double = 0

    public var intact: Bool { findings.isEmpty }
    public var signaturesChecked: Bool { key != nil }
}

/// Recomputes a stretch of the hash chain event by event, matches checkpoints against it,
/// checks their signatures, and folds runs to see that each is a legal sequence of states.
/// Stops at the first break: past it nothing can be trusted.
public struct ChainAudit {
    private var previous: [UInt8]
    private var beforePrevious: [UInt8]?
    private var expectedSeq: Int64
    private var lastRecord: StoredEvent?
    private var runPositions: [String: Int64] = [:]
    private var states: [String: RunState] = [:]
    private var schedules: [String: ScheduleState] = [:]
    private let foldRun: (String) -> Bool
    private var pending: [StoredCheckpoint]
    private let key: Ed25519Key?
    private let hasher = SHA256Hasher()
    private var broken = false
    /// A fold failure waits one event: if the next event shows this one was inserted, that
    /// is the better diagnosis.
    private var pendingFold: Finding?
    private var lastCheckpointSeq: Int64 = 0
    public private(set) var report = VerifyReport()

    /// - Parameters:
    ///   - start: the first global position fed; `link` is the hash of the one before it.
    ///   - fold: which runs to fold (all, one, or none for a chain-only check).
    public init(
        start: Int64 = 1, link: [UInt8] = [UInt8](repeating: 0, count: 32), checkpoints: [StoredCheckpoint],
        key: Ed25519Key?, fold: @escaping (String) -> Bool = { _ in true }
    ) {
        previous = link
        expectedSeq = start
        foldRun = fold
        self.key = key
        pending = checkpoints.sorted { $0.seq < $1.seq }
        report.checkpoints = checkpoints.count
        report.key = key?.fingerprint
        for cp in checkpoints { checkSignature(cp) }
    }

    private mutating func fail(_ kind: Finding.Kind, _ seq: Int64?, _ message: String) {
        report.findings.append(Finding(kind: kind, seq: seq, message: message))
        broken = true
    }

    private mutating func checkSignature(_ cp: StoredCheckpoint) {
        guard let key, !broken else { return }
        if cp.key != key.fingerprint {
            fail(.badSignature, cp.seq, "checkpoint #\(cp.n) names key \(cp.key), not the trusted key \(key.fingerprint): it was signed by someone else")
        } else if !key.verify(cp.signature, of: cp.message) {
            fail(.badSignature, cp.seq, "checkpoint #\(cp.n) has a signature that \(key.fingerprint) did not make: the checkpoint or its signature was changed")
        }
    }

    static func describe(_ e: StoredEvent) -> String { "run \(e.runID) position \(e.runSeq), \(e.type)" }

    private var writer = CanonicalWriter()
    private var digest = [UInt8](repeating: 0, count: 32)

    /// The fast path for a row that fits: contiguous, in its run's order, its hash following,
    /// and not folded. Anything else goes through `feed`, which says what is wrong.
    @discardableResult
    public mutating func feedRaw(_ r: RawEventRow) -> Bool {
        guard !broken else { return false }
        guard r.seq == expectedSeq, pendingFold == nil, pending.first.map({ $0.seq > r.seq }) ?? true, writer.write(r, after: previous) else { return feed(r.stored) }
        // Runs come in stretches: the run id is turned into a String only when it changes.
        if !currentRunBytes.elementsEqual(r.runID) {
            if let name = currentRun { runPositions[name] = currentPosition }
            currentRunBytes.removeAll(keepingCapacity: true)
            currentRunBytes.append(contentsOf: r.runID)
            let name = String(decoding: r.runID, as: UTF8.self)
            currentRun = name
            currentPosition = runPositions[name] ?? 0
            currentFolded = foldRun(name)
        }
        if currentFolded || r.runSeq != currentPosition + 1 { return slow(r) }
        hasher.update(writer.buffer)
        hasher.finish(into: &digest)
        guard digest.elementsEqual(r.hash) else { return slow(r) }
        report.events += 1
        report.firstSeq = report.firstSeq ?? r.seq
        report.bytes += Int64(writer.canonicalCount)
        currentPosition = r.runSeq
        beforePrevious = previous
        swap(&previous, &digest)
        lastRecord = nil
        lastRawSeq = (r.seq, r.runSeq)
        lastRawRun = currentRun
        lastRawType.removeAll(keepingCapacity: true)
        lastRawType.append(contentsOf: r.type)
        expectedSeq += 1
        report.lastSeq = r.seq
        return true
    }

    private var currentRunBytes: [UInt8] = []
    private var currentRun: String?
    private var currentPosition: Int64 = 0
    private var currentFolded = false
    private var lastRawSeq: (seq: Int64, runSeq: Int64)?
    private var lastRawType: [UInt8] = []

    /// Leaves the fast path: per-run positions back in the dictionary, then the ordinary feed.
    private mutating func slow(_ r: RawEventRow) -> Bool {
        flushCurrentRun()
        return feed(r.stored)
    }

    private mutating func flushCurrentRun() {
        if let name = currentRun { runPositions[name] = currentPosition }
        currentRun = nil
        currentRunBytes.removeAll(keepingCapacity: true)
    }

    private var lastRaw: (seq: Int64, runSeq: Int64, run: String, type: String)? {
        guard let l = lastRawSeq, let run = lastRawRun else { return nil }
        return (l.seq, l.runSeq, run, String(decoding: lastRawType, as: UTF8.self))
    }

    /// The run of the last row taken on the fast path.
    private var lastRawRun: String?

    /// Feeds the next event in stored order; false once the chain is broken.
    @discardableResult
    public mutating func feed(_ e: StoredEvent) -> Bool {
        guard !broken else { return false }
        flushCurrentRun()
        report.events += 1
        report.firstSeq = report.firstSeq ?? e.seq
        if let p = pendingFold, e.seq != expectedSeq || e.runSeq != (runPositions[e.runID] ?? 0) + 1 {
            fail(p.kind, p.seq, p.message)
            return false
        }
        if e.seq != expectedSeq {
            if e.seq < expectedSeq {
                fail(.reordered, e.seq, "event \(e.seq) (\(Self.describe(e))) comes after event \(expectedSeq - 1): the order was changed")
            } else {
                let gap = e.seq - 1 == expectedSeq ? "event \(expectedSeq) is" : "events \(expectedSeq)...\(e.seq - 1) are"
                fail(.missing, expectedSeq, "\(gap) missing: the log goes from \(expectedSeq - 1) to \(e.seq)")
            }
            return false
        }
        let last = runPositions[e.runID] ?? 0
        if e.runSeq != last + 1 {
            fail(.reordered, e.seq, "\(Self.describe(e)) follows position \(last) of that run: its events were reordered, or one was removed and the rest renumbered")
            return false
        }
        let canonical = Event.canonicalBytes(seq: e.seq, runID: e.runID, runSeq: e.runSeq, atMillis: e.atMillis, actor: e.actor, type: e.type, bodyJSON: e.bodyJSON)
        report.bytes += Int64(canonical.utf8.count)
        hasher.update(previous)
        hasher.update(canonical)
        let hash = hasher.finish()
        if hash != e.hash {
            diagnoseMismatch(e)
            return false
        }
        if let p = pendingFold {
            fail(p.kind, p.seq, p.message)
            return false
        }
        runPositions[e.runID] = e.runSeq
        if foldRun(e.runID) { fold(e) }
        while let cp = pending.first, cp.seq <= e.seq {
            pending.removeFirst()
            if cp.seq == e.seq, cp.hash != hash {
                fail(.edited, e.seq, "checkpoint #\(cp.n) signed a different chain hash at this position: the events up to here were changed and re-hashed")
                return false
            }
            if cp.seq == e.seq { lastCheckpointSeq = e.seq }
        }
        beforePrevious = previous
        previous = hash
        lastRecord = e
        lastRawSeq = nil
        expectedSeq += 1
        report.lastSeq = e.seq
        return !broken
    }

    /// The stored hash does not follow: an edit, or an insertion that renumbered what follows.
    private mutating func diagnoseMismatch(_ e: StoredEvent) {
        defer { pendingFold = nil }
        if let beforePrevious, let inserted = lastRecord ?? lastRaw.map({ StoredEvent(seq: $0.seq, runID: $0.run, runSeq: $0.runSeq, type: $0.type, atMillis: 0, actor: "", bodyJSON: "", hash: []) }) {
            let shifted = Event.canonicalBytes(seq: e.seq - 1, runID: e.runID, runSeq: e.runSeq, atMillis: e.atMillis, actor: e.actor, type: e.type, bodyJSON: e.bodyJSON)
            hasher.update(beforePrevious)
            hasher.update(shifted)
            if hasher.finish() == e.hash {
                fail(.inserted, inserted.seq, "\(Self.describe(inserted)) was inserted: the events after it were at positions one lower when they were hashed")
                return
            }
        }
        if let p = pendingFold {
            fail(p.kind, p.seq, p.message)
            return
        }
        fail(.edited, e.seq, "\(Self.describe(e)) does not match its hash: its contents (body, type, time, actor or run) were changed, or the event before it was changed and re-hashed")
    }

    private mutating func fold(_ e: StoredEvent) {
        do {
            let body = try EventBody.decode(type: e.type, payload: e.bodyJSON)
            let event = Event(seq: e.seq, runID: e.runID, runSeq: e.runSeq, atMillis: e.atMillis, actor: e.actor, body: body, bodyJSON: e.bodyJSON, hash: "")
            if let name = ScheduleStream.name(of: e.runID) {
                try schedules[name, default: ScheduleState(name: name)].apply(event)
                return
            }
            // In place: a copy of the run's state per event would cost its whole size each time.
            try states[e.runID, default: RunState(runID: e.runID)].apply(event)
        } catch let error as FoldError {
            pendingFold = Finding(kind: .illegalState, seq: e.seq, message: "\(Self.describe(e)) is not a legal next state: \(error.reason)")
        } catch {
            pendingFold = Finding(kind: .malformed, seq: e.seq, message: "\(Self.describe(e)): \(error)")
        }
    }

    /// Ends the check: checkpoints past the last event mean the log lost its tail.
    public mutating func finish() -> VerifyReport {
        flushCurrentRun()
        if !broken, let p = pendingFold { fail(p.kind, p.seq, p.message) }
        if !broken, let cp = pending.first {
            let end = report.lastSeq ?? (expectedSeq - 1)
            fail(.truncated, end + 1, "checkpoint #\(cp.n) signed the log up to event \(cp.seq), but it ends at \(end): events after \(end) were removed")
        }
        report.runsFolded = states.count
        report.schedulesFolded = schedules.count
        report.eventsAfterLastCheckpoint = max(0, (report.lastSeq ?? 0) - max(lastCheckpointSeq, (report.firstSeq ?? 1) - 1))
        return report
    }

    /// The fold of each run fed, for reports.
    public var runStates: [String: RunState] { states }
    /// The fold of each schedule fed.
    public var scheduleStates: [String: ScheduleState] { schedules }
}
