import CutoverCore
import CutoverStore
import Foundation

/// The crash of the machine driving a run, as the event log sees it: after the crash, every
/// call fails, and nothing more is written.
public struct SimulatedCrash: Error, Equatable {
    public init() {}
}

/// Wraps a real store and "crashes" after a given number of appended events, or when told to
/// (from inside a side effect).
public final class CrashingStore: EventStore, @unchecked Sendable {
    // @unchecked: mutable counters only touched under `lock`.
    public let inner: any EventStore
    private let lock = NSLock()
    private var crashAfterEvents: Int?
    private var crashBefore: (@Sendable (EventDraft) -> Bool)?
    private var appended = 0
    private var crashed = false

    public init(_ inner: any EventStore, crashAfterEvents: Int? = nil) {
        self.inner = inner
        self.crashAfterEvents = crashAfterEvents
    }

    /// Crash once `n` events in all have been appended through this store.
    public func crash(afterEvents n: Int) {
        lock.withLock { crashAfterEvents = n }
    }

    /// Crash instead of appending the first event `matching` picks (the machine died right
    /// before it was written).
    public func crash(before matching: @escaping @Sendable (EventDraft) -> Bool) {
        lock.withLock { crashBefore = matching }
    }

    /// Crash now: every later call fails.
    public func crash() {
        lock.withLock { crashed = true }
    }

    /// Events appended through this store so far.
    public var appendedCount: Int { lock.withLock { appended } }

    public var hasCrashed: Bool { lock.withLock { crashed } }

    private func alive<T>(_ body: () throws -> T) throws -> T {
        if lock.withLock({ crashed }) { throw SimulatedCrash() }
        return try body()
    }

    public var location: String { inner.location }
    public var sessionActor: String? { inner.sessionActor }
    public func confirmLocation() throws { try inner.confirmLocation() }
    public var durableCommits: Int { inner.durableCommits }

    public func append(_ drafts: [EventDraft], to run: String, expectedNext: Int64, options: AppendOptions) throws -> [Event] {
        if let matching = lock.withLock({ crashBefore }), drafts.contains(where: matching) {
            lock.withLock { crashed = true }
            throw SimulatedCrash()
        }
        let events = try alive { try inner.append(drafts, to: run, expectedNext: expectedNext, options: options) }
        lock.withLock {
            appended += events.count
            if let limit = crashAfterEvents, appended >= limit { crashed = true }
        }
        return events
    }

    public func forEachRow(of run: String, after: Int64, hashes: Bool, _ visit: (EventRow) throws -> Void) throws {
        try alive { try inner.forEachRow(of: run, after: after, hashes: hashes, visit) }
    }

    public func forEachRow(from: Int64, through: Int64, _ visit: (EventRow) throws -> Void) throws {
        try alive { try inner.forEachRow(from: from, through: through, visit) }
    }

    public func streamIDs() throws -> [String] { try alive { try inner.streamIDs() } }
    public func head() throws -> ChainLink? { try alive { try inner.head() } }
    public func link(at seq: Int64) throws -> ChainLink? { try alive { try inner.link(at: seq) } }
    public func span(of run: String) throws -> ClosedRange<Int64>? { try alive { try inner.span(of: run) } }
    public func appendCheckpoint(_ draft: CheckpointDraft) throws -> StoredCheckpoint { try alive { try inner.appendCheckpoint(draft) } }
    public func checkpoints() throws -> [StoredCheckpoint] { try alive { try inner.checkpoints() } }

    public func extendLease(run: String, owner: String, now: Date, ttl: Duration) throws {
        try alive { try inner.extendLease(run: run, owner: owner, now: now, ttl: ttl) }
    }

    public func acquireLease(run: String, owner: String, now: Date, ttl: Duration, isGone: (String) -> Bool) throws {
        try alive { try inner.acquireLease(run: run, owner: owner, now: now, ttl: ttl, isGone: isGone) }
    }

    public func releaseLease(run: String, owner: String) throws { try alive { try inner.releaseLease(run: run, owner: owner) } }
    public func leaseHolder(run: String) throws -> Lease? { try alive { try inner.leaseHolder(run: run) } }
    public func lockHolder(scope: String) throws -> String? { try alive { try inner.lockHolder(scope: scope) } }
}
