import CutoverCore
import CutoverStore
import Foundation

/// The crash of the machine driving a run, as the event log sees it: after the crash, every
/// call fails, and nothing more is written.
public struct SimulatedCrash: Error, Equatable {
    public init() {}
}

/// Wraps the real SQLite log and "crashes" after a given number of appended events, or when
/// told to (from inside a side effect).
public final class CrashingStore: EventStore, @unchecked Sendable {
    // @unchecked: mutable counters only touched under `lock`.
    public let inner: SQLiteEventLog
    private let lock = NSLock()
    private var crashAfterEvents: Int?
    private var appended = 0
    private var crashed = false

    public init(_ inner: SQLiteEventLog, crashAfterEvents: Int? = nil) {
        self.inner = inner
        self.crashAfterEvents = crashAfterEvents
    }

    /// Crash once `n` events in all have been appended through this store.
    public func crash(afterEvents n: Int) {
        lock.lock()
        crashAfterEvents = n
        lock.unlock()
    }

    /// Crash now: every later call fails.
    public func crash() {
        lock.lock()
        crashed = true
        lock.unlock()
    }

    /// Events appended through this store so far.
    public var appendedCount: Int {
        lock.lock()
        defer { lock.unlock() }
        return appended
    }

    public var hasCrashed: Bool {
        lock.lock()
        defer { lock.unlock() }
        return crashed
    }

    private func guardAlive() throws {
        lock.lock()
        defer { lock.unlock() }
        if crashed { throw SimulatedCrash() }
    }

    public func append(_ drafts: [EventDraft], to run: String, expectedNext: Int64, options: AppendOptions) throws -> [Event] {
        try guardAlive()
        let events = try inner.append(drafts, to: run, expectedNext: expectedNext, options: options)
        lock.lock()
        appended += events.count
        if let limit = crashAfterEvents, appended >= limit { crashed = true }
        lock.unlock()
        return events
    }

    public func events(of run: String, after: Int64) throws -> [Event] {
        try guardAlive()
        return try inner.events(of: run, after: after)
    }

    public func runIDs() throws -> [String] {
        try guardAlive()
        return try inner.runIDs()
    }

    public func scheduleNames() throws -> [String] {
        try guardAlive()
        return try inner.scheduleNames()
    }

    public func acquireLease(run: String, owner: String, now: Date, ttl: Duration, isGone: (String) -> Bool) throws {
        try guardAlive()
        try inner.acquireLease(run: run, owner: owner, now: now, ttl: ttl, isGone: isGone)
    }

    public func releaseLease(run: String, owner: String) throws {
        try guardAlive()
        try inner.releaseLease(run: run, owner: owner)
    }

    public func leaseHolder(run: String) throws -> (owner: String, expires: Date)? {
        try guardAlive()
        return try inner.leaseHolder(run: run)
    }

    public func lockHolder(scope: String) throws -> String? {
        try guardAlive()
        return try inner.lockHolder(scope: scope)
    }
}
