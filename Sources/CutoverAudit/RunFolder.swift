import CutoverCore
import Foundation

/// Folds the runs and schedules an audit feeds it, to see that each is a legal sequence of
/// states; keeps the first event that is not. Every body is decoded in full, so a payload a
/// forger wrote by hand is read as strictly as cutover reads its own.
struct RunFolder {
    private(set) var states: [String: RunState] = [:]
    private(set) var schedules: [String: ScheduleState] = [:]
    /// The log's halt stream, folded like a run's: a lift without a halt is an illegal state.
    private(set) var halt = HaltState()
    /// The first event that does not fold; nothing after it is folded.
    private(set) var failure: Finding?
    /// Canonical bytes checked up to and including the failing event.
    private(set) var failureBytes: Int64 = 0

    init() {}

    /// The folders of disjoint sets of runs as one; the first failure is the earliest.
    init(merging parts: [RunFolder]) {
        for p in parts {
            states.merge(p.states) { a, _ in a }
            schedules.merge(p.schedules) { a, _ in a }
            if p.halt.lastRunSeq > halt.lastRunSeq { halt = p.halt }
        }
        let first = parts.filter { $0.failure != nil }.min { ($0.failure?.seq ?? .max) < ($1.failure?.seq ?? .max) }
        failure = first?.failure
        failureBytes = first?.failureBytes ?? 0
    }

    mutating func apply(_ r: EventRow, run: String, bytesThrough: Int64) {
        guard failure == nil else { return }
        defer { if failure != nil { failureBytes = bytesThrough } }
        do {
            let event = try r.event(knownRun: run, keepingText: false)
            if let name = ScheduleStream.name(of: run) {
                try schedules[name, default: ScheduleState(name: name)].apply(event)
                return
            }
            if run == LogStream.halt {
                try halt.apply(event)
                return
            }
            if run == LogStream.imports {
                if case .logImported = event.body { return }
                failure = Finding(kind: .illegalState, seq: r.seq, message: "\(ChainAudit.describe(run: run, runSeq: r.runSeq, type: r.type)) has no place in \(run), which holds LogImported events only")
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
/// measured on has two cores). Rows are copied into batches; at most a few dozen batches
/// wait, so memory stays flat whatever the log's size. `finish` may be called more than
/// once; a pipeline dropped without it ends its thread all the same.
final class FoldPipeline {
    private let queue = FoldQueue()
    private var current = RowBatch()
    private var result: RunFolder?
    private static let batchRows = 512

    init() {
        let queue = self.queue
        let thread = Thread {
            var folder = RunFolder()
            while let batch = queue.next() {
                batch.forEach { folder.apply($0, run: $1, bytesThrough: $2) }
            }
            queue.done(folder)
        }
        thread.name = "cutover audit fold"
        thread.start()
    }

    deinit { queue.close() }

    /// Hands a row to the folding thread (copied: the row is valid only during the call).
    /// `bytesThrough`: canonical bytes checked up to and including this row.
    func submit(_ r: EventRow, run: String, bytesThrough: Int64) {
        current.append(r, run: run, bytesThrough: bytesThrough)
        if current.count >= Self.batchRows { push() }
    }

    private func push() {
        guard current.count > 0 else { return }
        queue.put(current)
        current = RowBatch()
    }

    /// Waits for everything submitted to be folded.
    func finish() -> RunFolder {
        if let result { return result }
        push()
        queue.close()
        let folded = queue.wait()
        result = folded
        return folded
    }
}

/// The batches between the checking thread and a folding thread, and the fold's result.
private final class FoldQueue: @unchecked Sendable {
    // @unchecked: `batches`, `closed` and `folded` are touched only under `condition`.
    private let condition = NSCondition()
    private var batches: [RowBatch] = []
    private var closed = false
    private var folded: RunFolder?
    private static let maxWaiting = 32

    func put(_ batch: RowBatch) {
        condition.lock()
        defer { condition.unlock() }
        while batches.count >= Self.maxWaiting, !closed { condition.wait() }
        batches.append(batch)
        condition.broadcast()
    }

    /// The next batch, or nil once the queue is closed and empty.
    func next() -> RowBatch? {
        condition.lock()
        defer { condition.unlock() }
        while batches.isEmpty, !closed { condition.wait() }
        guard !batches.isEmpty else { return nil }
        let batch = batches.removeFirst()
        condition.broadcast()
        return batch
    }

    func close() {
        condition.lock()
        closed = true
        condition.broadcast()
        condition.unlock()
    }

    func done(_ folder: RunFolder) {
        condition.lock()
        folded = folder
        condition.broadcast()
        condition.unlock()
    }

    /// The fold, once the folding thread has finished.
    func wait() -> RunFolder {
        condition.lock()
        defer { condition.unlock() }
        while folded == nil { condition.wait() }
        return folded!
    }
}

/// Rows copied into one buffer, handed between threads.
struct RowBatch: @unchecked Sendable {
    // @unchecked: a value handed over whole under a lock, never shared while written.
    private var bytes: [UInt8] = []
    private var rows: [(seq: Int64, runSeq: Int64, atMillis: Int64, run: String, bytesThrough: Int64, type: Range<Int>, actor: Range<Int>, body: Range<Int>)] = []

    var count: Int { rows.count }

    mutating func append(_ r: EventRow, run: String, bytesThrough: Int64) {
        func copy(_ b: UnsafeRawBufferPointer) -> Range<Int> {
            let start = bytes.count
            bytes.append(contentsOf: b)
            return start..<bytes.count
        }
        rows.append((r.seq, r.runSeq, r.atMillis, run, bytesThrough, copy(r.type), copy(r.actor), copy(r.body)))
    }

    func forEach(_ visit: (EventRow, String, Int64) -> Void) {
        bytes.withUnsafeBytes { all in
            for row in rows {
                visit(
                    EventRow(
                        seq: row.seq, runSeq: row.runSeq, atMillis: row.atMillis, runID: UnsafeRawBufferPointer(start: nil, count: 0),
                        type: UnsafeRawBufferPointer(rebasing: all[row.type]), actor: UnsafeRawBufferPointer(rebasing: all[row.actor]),
                        body: UnsafeRawBufferPointer(rebasing: all[row.body]), hash: UnsafeRawBufferPointer(start: nil, count: 0)),
                    row.run, row.bytesThrough)
            }
        }
    }
}
