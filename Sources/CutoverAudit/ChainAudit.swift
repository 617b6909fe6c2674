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

/// Checks a stretch of the log: the hash chain through `ChainVerifier` (the one check the
/// store and the bench use too), then what only an auditor asks: each run's own order, the
/// checkpoints against the chain and their signatures, and each run folded to see that it is a
/// legal sequence of states. Stops at the first break: past it nothing can be trusted.
public struct ChainAudit {
    private var verifier: ChainVerifier
    private var runPositions: [String: Int64] = [:]
    private var states: [String: RunState] = [:]
    private var schedules: [String: ScheduleState] = [:]
    private let foldRun: (String) -> Bool
    private var pending: [StoredCheckpoint]
    private let key: Ed25519Key?
    private var broken = false
    /// A fold failure waits one event: if the next event shows this one was inserted, that
    /// is the better diagnosis.
    private var pendingFold: Finding?
    private var lastCheckpointSeq: Int64 = 0
    /// The last row that followed, as a person would name it (for an insertion's finding).
    private var lastSeq: Int64 = 0
    private var lastRunSeq: Int64 = 0
    private var lastType: [UInt8] = []
    /// Runs come in stretches: the run id is turned into a String only when it changes.
    private var currentRunBytes: [UInt8] = []
    private var currentRun = ""
    private var currentFolded = false
    public private(set) var report = VerifyReport()

    /// - Parameters:
    ///   - start: the first global position fed; `link` is the hash of the one before it.
    ///   - fold: which runs to fold (all, one, or none for a chain-only check).
    public init(
        start: Int64 = 1, link: [UInt8] = ChainLink.genesis.hash, checkpoints: [StoredCheckpoint],
        key: Ed25519Key?, fold: @escaping (String) -> Bool = { _ in true }
    ) {
        verifier = ChainVerifier(after: ChainLink(seq: start - 1, hash: link))
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

    private static func describe(run: String, runSeq: Int64, type: some Sequence<UInt8>) -> String {
        "run \(run) position \(runSeq), \(String(decoding: Array(type), as: UTF8.self))"
    }

    /// Feeds the next event as stored (a bundle's lines).
    @discardableResult
    public mutating func feed(_ e: StoredEvent) -> Bool {
        e.withRow { feed($0) }
    }

    /// Feeds the next row in stored order; false once the log is broken.
    @discardableResult
    public mutating func feed(_ r: EventRow) -> Bool {
        guard !broken else { return false }
        report.events += 1
        report.firstSeq = report.firstSeq ?? r.seq
        if !currentRunBytes.elementsEqual(r.runID) {
            currentRunBytes.removeAll(keepingCapacity: true)
            currentRunBytes.append(contentsOf: r.runID)
            currentRun = String(decoding: r.runID, as: UTF8.self)
            currentFolded = foldRun(currentRun)
        }
        let runLast = runPositions[currentRun] ?? 0
        if let p = pendingFold, r.seq != verifier.expectedSeq || r.runSeq != runLast + 1 {
            fail(p.kind, p.seq, p.message)
            return false
        }
        let expected = verifier.expectedSeq
        if r.seq != expected {
            if r.seq < expected {
                fail(.reordered, r.seq, "event \(r.seq) (\(Self.describe(run: currentRun, runSeq: r.runSeq, type: r.type))) comes after event \(expected - 1): the order was changed")
            } else {
                let gap = r.seq - 1 == expected ? "event \(expected) is" : "events \(expected)...\(r.seq - 1) are"
                fail(.missing, expected, "\(gap) missing: the log goes from \(expected - 1) to \(r.seq)")
            }
            return false
        }
        if r.runSeq != runLast + 1 {
            fail(.reordered, r.seq, "\(Self.describe(run: currentRun, runSeq: r.runSeq, type: r.type)) follows position \(runLast) of that run: its events were reordered, or one was removed and the rest renumbered")
            return false
        }
        guard verifier.check(r) == .follows else {
            diagnoseMismatch(r)
            return false
        }
        if let p = pendingFold {
            fail(p.kind, p.seq, p.message)
            return false
        }
        report.bytes = verifier.bytes
        runPositions[currentRun] = r.runSeq
        if currentFolded { fold(r) }
        while let cp = pending.first, cp.seq <= r.seq {
            pending.removeFirst()
            if cp.seq == r.seq, !cp.hash.elementsEqual(verifier.link) {
                fail(.edited, r.seq, "checkpoint #\(cp.n) signed a different chain hash at this position: the events up to here were changed and re-hashed")
                return false
            }
            if cp.seq == r.seq { lastCheckpointSeq = r.seq }
        }
        lastSeq = r.seq
        lastRunSeq = r.runSeq
        lastType.removeAll(keepingCapacity: true)
        lastType.append(contentsOf: r.type)
        lastRun = currentRun
        report.lastSeq = r.seq
        return !broken
    }

    private var lastRun = ""

    /// The stored hash does not follow: an edit, or an insertion that renumbered what follows.
    private mutating func diagnoseMismatch(_ r: EventRow) {
        defer { pendingFold = nil }
        if lastSeq > 0, verifier.followsOnePositionLower(r) {
            fail(.inserted, lastSeq, "\(Self.describe(run: lastRun, runSeq: lastRunSeq, type: lastType)) was inserted: the events after it were at positions one lower when they were hashed")
            return
        }
        if let p = pendingFold {
            fail(p.kind, p.seq, p.message)
            return
        }
        fail(.edited, r.seq, "\(Self.describe(run: currentRun, runSeq: r.runSeq, type: r.type)) does not match its hash: its contents (body, type, time, actor or run) were changed, or the event before it was changed and re-hashed")
    }

    /// Folds a row into its run's (or schedule's) state; every body is decoded in full, so a
    /// payload a forger wrote by hand is read as strictly as cutover reads its own.
    private mutating func fold(_ r: EventRow) {
        do {
            let event = try r.event(knownRun: currentRun)
            if let name = ScheduleStream.name(of: currentRun) {
                try schedules[name, default: ScheduleState(name: name)].apply(event)
                return
            }
            // In place: a copy of the run's state per event would cost its whole size each time.
            try states[currentRun, default: RunState(runID: currentRun)].apply(event)
        } catch let error as FoldError {
            pendingFold = Finding(kind: .illegalState, seq: r.seq, message: "\(Self.describe(run: currentRun, runSeq: r.runSeq, type: r.type)) is not a legal next state: \(error.reason)")
        } catch {
            pendingFold = Finding(kind: .malformed, seq: r.seq, message: "\(Self.describe(run: currentRun, runSeq: r.runSeq, type: r.type)): \(error)")
        }
    }

    /// Ends the check: checkpoints past the last event mean the log lost its tail.
    public mutating func finish() -> VerifyReport {
        if !broken, let p = pendingFold { fail(p.kind, p.seq, p.message) }
        if !broken, let cp = pending.first {
            let end = report.lastSeq ?? (verifier.expectedSeq - 1)
            fail(.truncated, end + 1, "checkpoint #\(cp.n) signed the log up to event \(cp.seq), but it ends at \(end): events after \(end) were removed")
        }
        report.bytes = verifier.bytes
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
