import CutoverCore
import Foundation

/// The store over any `StoreDatabase`: appends fenced by the run's lease, optimistic by run
/// position, chained to the global head and group-committed; leases and locks; reads. What
/// every database must agree on lives here once, so a new database is an adapter only.
public final class ChainedStore: EventStore, @unchecked Sendable {
    // @unchecked: every use of `database` and `hasher` happens under `lock`, and `commits`
    // too; `group` locks itself.
    let database: StoreDatabase
    private let lock = NSLock()
    var hasher = ChainHasher()
    private var commits = 0
    private var oneTrips = 0
    /// The log's last link as this store last wrote it, while nothing else has written since
    /// as far as it knows: the head a one-trip append chains from. Nil when unknown.
    private var knownHead: ChainLink?
    private var group: GroupCommit<AppendRequest, [Event]>!

    public var location: String { database.location }
    public var sessionActor: String? { database.sessionActor }

    public init(_ database: StoreDatabase) {
        self.database = database
        group = GroupCommit { [unowned self] batch in self.commit(batch) }
    }

    public var durableCommits: Int { lock.withLock { commits } }
    /// How many of those were one-trip appends (`OneTripAppending`), the rest read first.
    public var oneTripCommits: Int { lock.withLock { oneTrips } }

    /// Runs `body` with the database, alone.
    private func withDatabase<T>(_ body: (StoreDatabase) throws -> T) rethrows -> T {
        lock.lock()
        defer { lock.unlock() }
        return try body(database)
    }

    /// Runs `body` in one write transaction with the database, alone; rolled back if it throws.
    func withTransaction<T>(_ body: (StoreDatabase) throws -> T) throws -> T {
        lock.lock()
        defer { lock.unlock() }
        knownHead = nil
        try database.begin()
        do {
            let value = try body(database)
            try database.commit()
            return value
        } catch {
            database.rollback()
            throw error
        }
    }

    // MARK: Appending

    struct AppendRequest {
        let drafts: [EventDraft]
        let run: String
        let expectedNext: Int64
        let options: AppendOptions
    }

    public func confirmLocation() throws {
        lock.lock()
        defer { lock.unlock() }
        try database.confirmLocation()
    }

    public func append(_ drafts: [EventDraft], to run: String, expectedNext: Int64, options: AppendOptions) throws -> [Event] {
        try group.submit(AppendRequest(drafts: drafts, run: run, expectedNext: expectedNext, options: options))
    }

    /// One durable transaction for `batch`: each request's result, in order. Each request has
    /// its own savepoint, so one that fails (a conflict, say) takes none of the others with it.
    private func commit(_ batch: [AppendRequest]) -> [Result<[Event], Error>] {
        lock.lock()
        defer { lock.unlock() }
        if let oneTrip = database as? OneTripAppending, let head = knownHead, let results = commitAtOnce(batch, oneTrip, after: head) {
            return results
        }
        knownHead = nil
        do {
            try database.begin()
        } catch {
            return batch.map { _ in .failure(error) }
        }
        let nested = batch.count > 1
        var results: [Result<[Event], Error>] = []
        // The head once the batch is committed, if one was read (the last event written).
        var written: ChainLink?
        for request in batch {
            // After some errors (disk full, I/O) a database rolls the whole transaction back by
            // itself: then nothing more may run, or it would commit on its own, outside the batch.
            guard database.inTransaction else {
                results.append(.failure(Self.rolledBack("an earlier error in the same transaction")))
                continue
            }
            do {
                if nested { try database.savepoint() }
                let events = try apply(request)
                if nested { try database.releaseSavepoint() }
                results.append(.success(events))
                if let last = events.last { written = ChainLink(seq: last.seq, hash: last.hash) }
            } catch {
                if nested, database.inTransaction { database.rollbackToSavepoint() }
                results.append(.failure(error))
            }
        }
        guard database.inTransaction else {
            // Rolled back by the database: nothing of the batch is written, successes included.
            return results.map { r in
                if case .failure = r { return r }
                return .failure(Self.rolledBack("an error in the same batch"))
            }
        }
        guard results.contains(where: { if case .success = $0 { true } else { false } }) else {
            database.rollback()
            return results
        }
        do {
            try database.commit()
            commits += 1
            knownHead = written
            return results
        } catch {
            database.rollback()
            return batch.map { _ in .failure(error) }
        }
    }

    private static func rolledBack(_ why: String) -> StoreError {
        StoreError(.io, "the transaction was rolled back by the database after \(why); nothing of this append was written", retryable: true)
    }

    /// The whole batch in one round trip, chained from `head`; nil when the database refuses
    /// it (something changed since this store last wrote) or an event cannot be encoded, and
    /// the batch is to be appended the slow way.
    private func commitAtOnce(_ batch: [AppendRequest], _ database: OneTripAppending, after head: ChainLink) -> [Result<[Event], Error>]? {
        var link = head
        var planned: [PlannedAppend] = []
        planned.reserveCapacity(batch.count)
        for r in batch {
            guard let events = try? chain(r, after: link) else { return nil }
            planned.append(PlannedAppend(
                run: r.run, leaseOwner: r.options.leaseOwner, leaseExpiresMillis: Self.millis(r.options.now) + r.options.leaseTTL.milliseconds,
                expectedNext: r.expectedNext, lockScope: r.options.lockScope, unlockScope: r.options.unlockScope, events: events))
            if let last = events.last { link = ChainLink(seq: last.seq, hash: last.hash) }
        }
        do {
            guard try database.appendAtOnce(planned, after: head) else { return nil }
        } catch {
            // Whether it was written is not known (an answer lost): the engine finds out.
            knownHead = nil
            return batch.map { _ in .failure(error) }
        }
        commits += 1
        oneTrips += 1
        knownHead = link
        return planned.map { .success($0.events) }
    }

    /// One append inside the open transaction: the lease fences it, the run position must be
    /// the expected one, the scope must be free, then each event is chained and inserted.
    private func apply(_ r: AppendRequest) throws -> [Event] {
        let nowMillis = Self.millis(r.options.now)
        if let owner = r.options.leaseOwner {
            let holder = try database.lease(of: r.run)
            guard let holder, holder.owner == owner else { throw StoreError.leaseLost(run: r.run, owner: holder?.owner) }
            // An expired lease still fences correctly as long as nobody took it over.
            try database.putLease(Lease(owner: owner, expiresMillis: nowMillis + r.options.leaseTTL.milliseconds), run: r.run)
        }
        let last = try database.lastPosition(of: r.run)
        guard last == r.expectedNext - 1 else { throw StoreError.conflict(run: r.run, expected: r.expectedNext, actual: last + 1) }
        if let scope = r.options.lockScope {
            if let holder = try database.lockHolder(scope: scope), holder != r.run { throw StoreError.scopeLocked(scope: scope, heldBy: holder) }
            try database.putLock(scope: scope, run: r.run)
        }
        let appended = try chain(r, after: try database.lastLink() ?? .genesis)
        for e in appended {
            try database.insert(seq: e.seq, run: r.run, runSeq: e.runSeq, type: e.kind.name, atMillis: e.atMillis, actor: e.actor, body: e.bodyJSON, hash: e.hash)
        }
        if let scope = r.options.unlockScope { try database.deleteLock(scope: scope, run: r.run) }
        return appended
    }

    /// The request's events with their positions and hashes, chained after `link`.
    private func chain(_ r: AppendRequest, after link: ChainLink) throws -> [Event] {
        var link = link
        var appended: [Event] = []
        appended.reserveCapacity(r.drafts.count)
        for (i, draft) in r.drafts.enumerated() {
            let seq = link.seq + 1
            let runSeq = r.expectedNext + Int64(i)
            let kind = draft.body.kind
            let body: String
            do { body = try kind.encode(draft.body).canonicalString } catch {
                throw StoreError(.encoding, "cannot write a \(kind.name) event as JSON: \(error)", cause: error)
            }
            // Where the database proves who is connected, that is the actor, whatever was asked.
            let actor = sessionActor ?? draft.actor
            let hash = hasher.hash(
                seq: seq, runID: r.run, runSeq: runSeq, atMillis: draft.atMillis, actor: actor, type: kind.name, body: body, after: link.hash)
            appended.append(Event(
                seq: seq, runID: r.run, runSeq: runSeq, atMillis: draft.atMillis, actor: actor, body: draft.body, bodyJSON: body, hash: hash,
                kind: kind))
            link = ChainLink(seq: seq, hash: hash)
        }
        return appended
    }

    // MARK: Coordination

    public func acquireLease(run: String, owner: String, now: Date, ttl: Duration, isGone: (String) -> Bool) throws {
        lock.lock()
        defer { lock.unlock() }
        try database.begin()
        do {
            let nowMillis = Self.millis(now)
            if let holder = try database.lease(of: run), holder.owner != owner, holder.expiresMillis > nowMillis, !isGone(holder.owner) {
                throw StoreError.leaseHeld(run: run, owner: holder.owner)
            }
            try database.putLease(Lease(owner: owner, expiresMillis: nowMillis + ttl.milliseconds), run: run)
            try database.commit()
        } catch {
            database.rollback()
            throw error
        }
    }

    public func extendLease(run: String, owner: String, now: Date, ttl: Duration) throws {
        lock.lock()
        defer { lock.unlock() }
        try database.begin()
        do {
            guard let holder = try database.lease(of: run), holder.owner == owner else {
                throw StoreError.leaseLost(run: run, owner: try database.lease(of: run)?.owner)
            }
            try database.putLease(Lease(owner: owner, expiresMillis: Self.millis(now) + ttl.milliseconds), run: run)
            try database.commit()
        } catch {
            database.rollback()
            throw error
        }
    }

    public func releaseLease(run: String, owner: String) throws {
        try withDatabase { try $0.deleteLease(run: run, owner: owner) }
    }

    public func leaseHolder(run: String) throws -> Lease? {
        try withDatabase { try $0.lease(of: run) }
    }

    public func lockHolder(scope: String) throws -> String? {
        try withDatabase { try $0.lockHolder(scope: scope) }
    }

    // MARK: Reading

    public func forEachRow(of run: String, after: Int64, hashes: Bool, _ visit: (EventRow) throws -> Void) throws {
        try withDatabase { try $0.forEachRow(of: run, after: after, hashes: hashes, visit) }
    }

    public func forEachRow(from: Int64, through: Int64, _ visit: (EventRow) throws -> Void) throws {
        try withDatabase { try $0.forEachRow(from: from, through: through, visit) }
    }

    public func streamIDs() throws -> [String] { try withDatabase { try $0.streamIDs() } }
    public func head() throws -> ChainLink? { try withDatabase { try $0.lastLink() } }
    public func link(at seq: Int64) throws -> ChainLink? { try withDatabase { try $0.link(at: seq) } }
    public func span(of run: String) throws -> ClosedRange<Int64>? { try withDatabase { try $0.span(of: run) } }
    public func checkpoints() throws -> [StoredCheckpoint] { try withDatabase { try $0.checkpoints() } }

    public func appendCheckpoint(_ draft: CheckpointDraft) throws -> StoredCheckpoint {
        let n = try withDatabase { try $0.insertCheckpoint(draft) }
        return StoredCheckpoint(n: n, seq: draft.seq, hash: draft.hash, atMillis: draft.atMillis, key: draft.key, signature: draft.signature)
    }

    static func millis(_ date: Date) -> Int64 { Int64((date.timeIntervalSince1970 * 1_000).rounded(.down)) }
}
