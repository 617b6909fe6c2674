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
        /// A finished run no checkpoint of the trusted key covers.
        case unsigned
        /// An approval without the proof its request asks for (a signature by a listed key, or
        /// the approver's own account or role).
        case unprovenApproval = "unproven-approval"
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
/// legal sequence of states (`RunFolder`, on a thread of its own when `parallel`). Reports the
/// first break: past it nothing can be trusted.
public struct ChainAudit {
    private var verifier: ChainVerifier
    private var runPositions: [String: Int64] = [:]
    private let foldRun: (String) -> Bool
    private var pending: [StoredCheckpoint]
    private let key: Ed25519Key?
    private var broken = false
    /// The row at which the chain broke, when it did.
    private var breakRow: Int64?
    /// Positions where a checkpoint matched the chain, in order.
    private var signedSeqs: [Int64] = []
    private var lastFed: Int64?
    /// The last row that followed, as a person would name it (for an insertion's finding).
    private var lastSeq: Int64 = 0
    private var lastRunSeq: Int64 = 0
    private var lastType: [UInt8] = []
    private var lastRun = ""
    /// Runs come in stretches: the run id is turned into a String only when it changes.
    private var currentRunBytes: [UInt8] = []
    private var currentRun = ""
    private var currentFolded = false
    /// The current run's last position (kept in `runPositions` when another run's rows come).
    private var currentPosition: Int64 = 0
    private var haveRun = false
    private var folder = RunFolder()
    /// Folding threads, when parallel; each run is folded by one of them, in its order.
    private let pipelines: [FoldPipeline]
    private var partitionOf: [String: Int] = [:]
    /// The events that ended a run (their type one of `finishing`), in order: what a trusted
    /// key's checkpoints must cover. Read from the type, so the chain-only path
    /// judges exactly as the folding one.
    private var finishes: [(seq: Int64, run: String, type: String)] = []
    private static let finishing: [[UInt8]] = ["RunSucceeded", "RunRolledBack", "RunFailed", "RunAborted"].map { Array($0.utf8) }
    private var partitionRows: [Int] = []
    private var currentPartition = 0
    public private(set) var report = VerifyReport()
    private var foldBrokeAtBytes: Int64?

    /// - Parameters:
    ///   - start: the first global position fed; `link` is the hash of the one before it.
    ///   - fold: which runs to fold (all, one, or none for a chain-only check).
    ///   - parallel: fold on threads of their own (two: the runs shared out between them)
    ///     while the chain is checked on the caller's.
    public init(
        start: Int64 = 1, link: [UInt8] = ChainLink.genesis.hash, checkpoints: [StoredCheckpoint],
        key: Ed25519Key?, fold: @escaping (String) -> Bool = { _ in true }, parallel: Bool = false
    ) {
        verifier = ChainVerifier(after: ChainLink(seq: start - 1, hash: link))
        foldRun = fold
        self.key = key
        pipelines = parallel ? [FoldPipeline(), FoldPipeline()] : []
        partitionRows = pipelines.map { _ in 0 }
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
            fail(.badSignature, cp.seq, "\(Self.name(cp)) names key \(cp.key), not the trusted key \(key.fingerprint): it was signed by someone else")
        } else if !key.verify(cp.signature, of: cp.message) {
            fail(.badSignature, cp.seq, "\(Self.name(cp)) has a signature that \(key.fingerprint) did not make: the checkpoint or its signature was changed")
        }
    }

    static func describe(run: String, runSeq: Int64, type: some Sequence<UInt8>) -> String {
        "run \(run) position \(runSeq), \(String(decoding: Array(type), as: UTF8.self))"
    }

    /// Feeds the next event as stored (a bundle's lines).
    @discardableResult
    public mutating func feed(_ e: StoredEvent) -> Bool {
        e.withRow { feed($0) }
    }

    /// Feeds the next row in stored order; false once the chain is broken.
    @discardableResult
    public mutating func feed(_ r: EventRow) -> Bool {
        guard !broken else { return false }
        report.events += 1
        report.firstSeq = report.firstSeq ?? r.seq
        lastFed = r.seq
        if !haveRun || !currentRunBytes.elementsEqual(r.runID) {
            if haveRun { runPositions[currentRun] = currentPosition }
            haveRun = true
            currentRunBytes.removeAll(keepingCapacity: true)
            currentRunBytes.append(contentsOf: r.runID)
            currentRun = String(decoding: r.runID, as: UTF8.self)
            currentPosition = runPositions[currentRun] ?? 0
            currentFolded = foldRun(currentRun)
            if currentFolded, !pipelines.isEmpty {
                // A run stays with one thread; a new run goes to the one with less to do.
                currentPartition = partitionOf[currentRun] ?? partitionRows.indices.min { partitionRows[$0] < partitionRows[$1] }!
                partitionOf[currentRun] = currentPartition
            }
        }
        let runLast = currentPosition
        let expected = verifier.expectedSeq
        if r.seq != expected {
            breakRow = r.seq
            if r.seq < expected {
                fail(.reordered, r.seq, "event \(r.seq) (\(Self.describe(run: currentRun, runSeq: r.runSeq, type: r.type))) comes after event \(expected - 1): the order was changed")
            } else {
                let gap = r.seq - 1 == expected ? "event \(expected) is" : "events \(expected)...\(r.seq - 1) are"
                fail(.missing, expected, "\(gap) missing: the log goes from \(expected - 1) to \(r.seq)")
            }
            return false
        }
        if r.runSeq != runLast + 1 {
            breakRow = r.seq
            fail(.reordered, r.seq, "\(Self.describe(run: currentRun, runSeq: r.runSeq, type: r.type)) follows position \(runLast) of that run: its events were reordered, or one was removed and the rest renumbered")
            return false
        }
        guard verifier.check(r) == .follows else {
            breakRow = r.seq
            diagnoseMismatch(r)
            return false
        }
        currentPosition = r.runSeq
        if r.type.count >= 9, r.type[0] == UInt8(ascii: "R"), r.type[2] == UInt8(ascii: "n"),
            let t = Self.finishing.first(where: { $0.elementsEqual(r.type) }) {
            finishes.append((r.seq, currentRun, String(decoding: t, as: UTF8.self)))
        }
        if currentFolded {
            if pipelines.isEmpty {
                folder.apply(r, run: currentRun, bytesThrough: verifier.bytes)
            } else {
                pipelines[currentPartition].submit(r, run: currentRun, bytesThrough: verifier.bytes)
                partitionRows[currentPartition] += r.body.count
            }
        }
        while let cp = pending.first, cp.seq <= r.seq {
            pending.removeFirst()
            if cp.seq == r.seq, !cp.hash.elementsEqual(verifier.link) {
                breakRow = r.seq
                fail(.edited, r.seq, "\(Self.name(cp)) signed a different chain hash at this position: the events up to here were changed and re-hashed")
                return false
            }
            if cp.seq == r.seq { signedSeqs.append(r.seq) }
        }
        lastSeq = r.seq
        lastRunSeq = r.runSeq
        lastType.removeAll(keepingCapacity: true)
        lastType.append(contentsOf: r.type)
        lastRun = currentRun
        report.lastSeq = r.seq
        return true
    }

    /// The stored hash does not follow: an edit, or an insertion that renumbered what follows.
    private mutating func diagnoseMismatch(_ r: EventRow) {
        if lastSeq > 0, verifier.followsOnePositionLower(r) {
            fail(.inserted, lastSeq, "\(Self.describe(run: lastRun, runSeq: lastRunSeq, type: lastType)) was inserted: the events after it were at positions one lower when they were hashed")
            return
        }
        fail(.edited, r.seq, "\(Self.describe(run: currentRun, runSeq: r.runSeq, type: r.type)) does not match its hash: its contents (body, type, time, actor or run) were changed, or the event before it was changed and re-hashed")
    }

    /// Ends the check: the fold's first failure, if it comes before the chain's first break,
    /// is the finding; checkpoints past the last event mean the log lost its tail.
    public mutating func finish() -> VerifyReport {
        if !pipelines.isEmpty { folder = RunFolder(merging: pipelines.map { $0.finish() }) }
        if let f = folder.failure, let seq = f.seq, breakRow.map({ seq < $0 }) ?? true {
            // An event that does not fold and is followed by one hashed a position lower was
            // inserted: that is the better diagnosis. Otherwise the fold's finding stands, as
            // if checking had stopped at the event after it.
            let inserted = report.findings.first.map { $0.kind == .inserted && $0.seq == seq } ?? false
            if !inserted {
                report.findings = [f]
                broken = true
                report.lastSeq = seq
                let stopRow = (lastFed ?? seq) > seq ? seq + 1 : seq
                report.events = stopRow - (report.firstSeq ?? seq) + 1
                foldBrokeAtBytes = folder.failureBytes
            }
        }
        if !broken, let cp = pending.first {
            let end = report.lastSeq ?? (verifier.expectedSeq - 1)
            fail(.truncated, end + 1, "\(Self.name(cp)) signed the log up to event \(cp.seq), but it ends at \(end): events after \(end) were removed")
        }
        if !broken, let key { requireSignatures(of: key) }
        report.bytes = foldBrokeAtBytes ?? verifier.bytes
        let lastCheckpointSeq = signedSeqs.last { $0 <= (report.lastSeq ?? 0) } ?? 0
        report.runsFolded = folder.states.count
        report.schedulesFolded = folder.schedules.count
        report.eventsAfterLastCheckpoint = max(0, (report.lastSeq ?? 0) - max(lastCheckpointSeq, (report.firstSeq ?? 1) - 1))
        return report
    }

    /// With a trusted key, every finished run must be covered by a checkpoint it signed (at or
    /// after the run's last event): otherwise its events could have been rewritten and the
    /// chain recomputed after them, and deleting the checkpoints would hide it.
    private mutating func requireSignatures(of key: Ed25519Key) {
        // Checkpoints sign the whole chain up to them: the first run that finished after the
        // last one is the first run left unsigned.
        let lastSigned = signedSeqs.last ?? 0
        guard let finish = finishes.first(where: { $0.seq > lastSigned }) else { return }
        fail(.unsigned, finish.seq, "run \(finish.run) finished (\(finish.type)) at event \(finish.seq), but no checkpoint signed by the trusted key \(key.fingerprint) covers it: its events could have been rewritten and re-chained, its checkpoints deleted. Sign with `cutover audit checkpoint` where the run was driven, or hold the log to a checkpoint you kept (--checkpoint)")
    }

    /// How messages name a checkpoint: by its number, or as the one the auditor kept.
    static func name(_ cp: StoredCheckpoint) -> String {
        cp.n == 0 ? "the checkpoint you kept (event \(cp.seq))" : "checkpoint #\(cp.n)"
    }

    /// The fold of each run fed, for reports (after `finish`).
    public var runStates: [String: RunState] { folder.states }
    /// The fold of each schedule fed.
    public var scheduleStates: [String: ScheduleState] { folder.schedules }
}
