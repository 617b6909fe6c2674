import Foundation

/// Group commit: a writer that arrives while another's transaction is being written waits,
/// and the next transaction carries every request that waited. One fsync then serves every
/// run driven in this process at that moment.
///
/// Under contention the committing writer waits a moment for company: with as many threads as
/// cores, each has at most one request waiting, and without the wait every transaction would
/// carry a single one. A lone writer never waits.
final class GroupCommit<Request, Output>: @unchecked Sendable {
    // @unchecked: `pending`, `committing`, `contention` and every `Waiting.result` are touched
    // only under `queue`.
    private let queue = NSCondition()
    private var pending: [Waiting] = []
    private var committing = false
    /// Commits left during which the next writer waits for company; renewed whenever a request
    /// arrives while another is being committed.
    private var contention = 0
    private let contentionMemory = 16
    /// How long a committing writer waits for another request under contention.
    private let delay: TimeInterval = 0.000_3
    /// Writes one batch in one transaction, a result per request in order.
    private let commit: ([Request]) -> [Result<Output, Error>]

    init(commit: @escaping ([Request]) -> [Result<Output, Error>]) {
        self.commit = commit
    }

    private final class Waiting {
        let request: Request
        var result: Result<Output, Error>?
        init(_ request: Request) { self.request = request }
    }

    /// Submits `request` and returns its result once a transaction carrying it is written.
    func submit(_ request: Request) throws -> Output {
        let mine = Waiting(request)
        queue.lock()
        pending.append(mine)
        if committing { contention = contentionMemory }
        queue.broadcast()
        while mine.result == nil {
            if committing {
                queue.wait()
                continue
            }
            committing = true
            if contention > 0, pending.count == 1 {
                let until = Date().addingTimeInterval(delay)
                while pending.count == 1, queue.wait(until: until) {}
            }
            contention = max(0, contention - (pending.count > 1 ? 0 : 1))
            let batch = pending
            pending = []
            queue.unlock()
            let results = commit(batch.map(\.request))
            precondition(results.count == batch.count, "a group commit must answer every request it carried")
            queue.lock()
            // Results are handed over under `queue`, where their owners read them.
            for (w, r) in zip(batch, results) { w.result = r }
            committing = false
            queue.broadcast()
        }
        queue.unlock()
        return try mine.result!.get()
    }
}
