import Foundation

/// Where events live. Appends are optimistic and, when a lease owner is named, fenced:
/// the append fails unless that owner still holds the run's lease.
public protocol EventStore: Sendable {
    /// Appends `drafts` to `run` as run positions `expectedNext`, `expectedNext + 1`, ...
    /// - Throws: `EventStoreError.conflict` when another writer appended first,
    ///   `.leaseLost` when `options.leaseOwner` no longer holds the run, `.scopeLocked`
    ///   when `options.lockScope` is held by another run.
    func append(_ drafts: [EventDraft], to run: String, expectedNext: Int64, options: AppendOptions) throws -> [Event]
    /// The run's events after run position `after`, in order.
    func events(of run: String, after: Int64) throws -> [Event]
    /// The run's state, folded from its events; nil when the run has none.
    /// - Throws: `FoldError` for a log that does not fold, or a storage error.
    func fold(_ run: String) throws -> RunState?
    /// Every run, oldest first (schedules' streams are not runs).
    func runIDs() throws -> [String]
    /// Every schedule ever added, by name, oldest first (removed ones included).
    func scheduleNames() throws -> [String]
    /// Takes or renews the lease on `run` for `owner` until `now + ttl`. An expired lease, or
    /// one whose holder `isGone`, is taken over.
    /// - Throws: `EventStoreError.leaseHeld` naming the live holder.
    func acquireLease(run: String, owner: String, now: Date, ttl: Duration, isGone: (String) -> Bool) throws
    /// Gives the lease up, if `owner` holds it.
    func releaseLease(run: String, owner: String) throws
    /// The holder of `run`'s lease and when it expires, if anyone holds it.
    func leaseHolder(run: String) throws -> (owner: String, expires: Date)?
    /// The run holding `scope` (one active run per service), if any.
    func lockHolder(scope: String) throws -> String?
}

/// What an append does besides adding events.
public struct AppendOptions: Sendable {
    /// The lease owner the append is fenced by; nil for signals from people.
    public var leaseOwner: String?
    /// The time leases are judged by.
    public var now: Date
    /// Take this scope for the run (refused if another run holds it).
    public var lockScope: String?
    /// Give this scope up.
    public var unlockScope: String?
    /// Extend the lease this long past `now`.
    public var leaseTTL: Duration

    public init(leaseOwner: String? = nil, now: Date, lockScope: String? = nil, unlockScope: String? = nil, leaseTTL: Duration = .seconds(30)) {
        self.leaseOwner = leaseOwner
        self.now = now
        self.lockScope = lockScope
        self.unlockScope = unlockScope
        self.leaseTTL = leaseTTL
    }
}

public enum EventStoreError: Error, Sendable, Equatable, CustomStringConvertible {
    case conflict(run: String, expected: Int64, actual: Int64)
    case scopeLocked(scope: String, heldBy: String)
    case leaseHeld(run: String, owner: String)
    case leaseLost(run: String, owner: String?)
    case unknownRun(String)
    case storage(String)

    public var description: String {
        switch self {
        case .conflict(let run, let expected, let actual):
            "run \(run): another writer appended first (expected position \(expected), the log is at \(actual))"
        case .scopeLocked(let scope, let holder):
            "service \(scope) already has an active run, \(holder); finish it, or see `cutover status \(holder)`"
        case .leaseHeld(let run, let owner):
            "run \(run) is being driven by \(owner); stop that process or wait for its lease to expire"
        case .leaseLost(let run, let owner):
            "run \(run): this process lost its lease\(owner.map { " to \($0)" } ?? ""); it stops driving the run"
        case .unknownRun(let run):
            "no run \(run) in this database; `cutover list` shows the runs"
        case .storage(let message):
            "event log: \(message)"
        }
    }
}

/// The engine's clock: injected so tests run whole workflows in simulated time.
public protocol RunClock: Sendable {
    func now() -> Date
    /// Sleeps until `deadline`.
    /// - Throws: `CancellationError` when the task is cancelled, or `DeadlineExceeded` when
    ///   the enclosing `withDeadline` passes first.
    func sleep(until deadline: Date) async throws
    /// Runs `body`, abandoning it when `deadline` passes.
    /// - Throws: `DeadlineExceeded`, or what `body` throws.
    func withDeadline<T: Sendable>(_ deadline: Date, _ body: @Sendable @escaping () async throws -> T) async throws -> T
}

public struct DeadlineExceeded: Error, Sendable {
    public init() {}
}

/// Sources of identity and chance: injected so tests are reproducible.
public protocol IDSource: Sendable {
    func newRunID(at: Date) -> String
    /// A number in [0, 1) for retry jitter.
    func unitRandom() -> Double
}

extension EventStore {
    /// Folds from `events(of:after:)`; stores that can stream their rows do better.
    public func fold(_ run: String) throws -> RunState? {
        let events = try events(of: run, after: 0)
        return events.isEmpty ? nil : try RunState.fold(run, events)
    }

    /// The schedule `name` folded from its stream; nil when it was never added.
    /// - Throws: `FoldError` for a stream that does not fold, or a storage error.
    public func schedule(_ name: String) throws -> ScheduleState? {
        let events = try events(of: ScheduleStream.id(name), after: 0)
        return events.isEmpty ? nil : try ScheduleState.fold(name, events)
    }
}
