import CutoverCore
import Foundation

/// Folds the runs and schedules an audit feeds it, to see that each is a legal sequence of
/// states; keeps the first event that is not. Every body is decoded in full, so a payload a
/// forger wrote by hand is read as strictly as cutover reads its own.
struct RunFolder {
    private(set) var states: [String: RunState] = [:]
    private(set) var schedules: [String: ScheduleState] = [:]
    /// The first event that does not fold; nothing after it is folded.
    private(set) var failure: Finding?

    init() {}

    /// The folders of disjoint sets of runs as one; the first failure is the earliest.
    init(merging parts: [RunFolder]) {
        for p in parts {
            states.merge(p.states) { a, _ in a }
            schedules.merge(p.schedules) { a, _ in a }
        }
        failure = parts.compactMap(\.failure).min { ($0.seq ?? .max) < ($1.seq ?? .max) }
    }

    mutating func apply(_ r: EventRow, run: String) {
        guard failure == nil else { return }
        do {
            let event = try r.event(knownRun: run, keepingText: false)
            if let name = ScheduleStream.name(of: run) {
                try schedules[name, default: ScheduleState(name: name)].apply(event)
                return
            }
            // In place: a copy of the run's state per event would cost its whole size each time.
            try states[run, default: RunState(runID: run)].apply(event)
        } catch let error as FoldError {
            failure = Finding(kind: .illegalState, seq: r.seq, message: "\(ChainAudit.describe(run: run, runSeq: r.runSeq, type: r.type)) is not a legal next state: \(error.reason)")
        } catch {
            failure = Finding(kind: .malformed, seq: r.seq, message: "\(ChainAudit.describe(run: run, runSeq: r.runSeq, type: r.type)): \(error)")
        }
    }
}

/// Folds on a thread of its own while the caller checks the chain: the audit of a whole log
/// then costs about what the slower of the two costs, not their sum (the machine this was
/// measured on has two cores). Rows are copied into batches; at most a few batches wait, so
/// memory stays flat whatever the log's size.
final class FoldPipeline: @unchecked Sendable {
    // @unchecked: `queue` and `closed` are touched only under `condition`; `folder` only by the
    // folding thread until `finished` is signalled, and by the caller after it.
    private let condition = NSCondition()
    private var queue: [RowBatch] = []
    private var closed = false
    private var folder = RunFolder()
    private let finished = DispatchSemaphore(value: 0)
    private var current = RowBatch()
    private static let batchRows = 512
    private static let maxWaiting = 32

    init() {
        let thread = Thread { [self] in
            while let batch = next() {
                batch.forEach { folder.apply($0, run: $1) }
            }
            finished.signal()
        }
        thread.name = "cutover audit fold"
        thread.start()
    }

    private func next() -> RowBatch? {
        condition.lock()
        defer { condition.unlock() }
        while queue.isEmpty, !closed { condition.wait() }
        guard !queue.isEmpty else { return nil }
        let batch = queue.removeFirst()
        condition.broadcast()
        return batch
    }

    /// Hands a row to the folding thread (copied: the row is valid only during the call).
    func submit(_ r: EventRow, run: String) {
        current.append(r, run: run)
        if current.count >= Self.batchRows { push() }
    }

    private func push() {
        guard current.count > 0 else { return }
        condition.lock()
        while queue.count >= Self.maxWaiting { condition.wait() }
        queue.append(current)
        condition.broadcast()
        condition.unlock()
        current = RowBatch()
    }

    /// Waits for everything submitted to be folded.
    func finish() -> RunFolder {
        push()
        condition.lock()
        closed = true
        condition.broadcast()
        condition.unlock()
        finished.wait()
        return folder
    }
}

/// Rows copied into one buffer, handed between threads.
struct RowBatch: @unchecked Sendable {
    // @unchecked: a value handed over whole under a lock, never shared while written.
    private var bytes: [UInt8] = []
    private var rows: [(seq: Int64, runSeq: Int64, atMillis: Int64, run: String, type: Range<Int>, actor: Range<Int>, body: Range<Int>)] = []

    var count: Int { rows.count }

    mutating func append(_ r: EventRow, run: String) {
        func copy(_ b: UnsafeRawBufferPointer) -> Range<Int> {
            let start = bytes.count
            bytes.append(contentsOf: b)
            return start..<bytes.count
        }
        rows.append((r.seq, r.runSeq, r.atMillis, run, copy(r.type), copy(r.actor), copy(r.body)))
    }

    func forEach(_ visit: (EventRow, String) -> Void) {
        bytes.withUnsafeBytes { all in
            for row in rows {
                visit(
                    EventRow(
                        seq: row.seq, runSeq: row.runSeq, atMillis: row.atMillis, runID: UnsafeRawBufferPointer(start: nil, count: 0),
                        type: UnsafeRawBufferPointer(rebasing: all[row.type]), actor: UnsafeRawBufferPointer(rebasing: all[row.actor]),
                        body: UnsafeRawBufferPointer(rebasing: all[row.body]), hash: UnsafeRawBufferPointer(start: nil, count: 0)),
                    row.run)
            }
        }
    }
}
