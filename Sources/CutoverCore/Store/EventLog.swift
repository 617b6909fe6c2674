import Foundation

/// The event log: every fact about every run and schedule, in one global order, each event
/// hash-chained to the one before it. This is the contract every store keeps (SQLite today);
/// the conformance suite in `CutoverStoreTests` holds each store to it.
///
/// Appends are optimistic and, when a lease owner is named, fenced: the append fails unless
/// that owner still holds the run's lease, checked in the same transaction as the insert.
public protocol EventLog: AnyObject, Sendable {
    /// Where the log lives, as a person would name it (a path; never a password).
    var location: String { get }
    /// The role the database authenticated this process as (PostgreSQL's `session_user`):
    /// the actor of everything it appends. Nil for a file, where the actor is the account.
    var sessionActor: String? { get }

    /// Confirms the location still names the log this handle opened: not deleted, moved or
    /// replaced underneath. Every append checks it too; the engine also asks before each
    /// change to the world.
    /// - Throws: `StoreError` `.unavailable`, not retryable, when it does not.
    func confirmLocation() throws

    /// Appends `drafts` to `run` as run positions `expectedNext`, `expectedNext + 1`, ...,
    /// each chained to the global head.
    /// - Throws: `StoreError` with code `.conflict` when another writer appended first,
    ///   `.leaseLost` when `options.leaseOwner` no longer holds the run, `.scopeLocked` when
    ///   `options.lockScope` is held by another run; nothing of the append is written then.
    func append(_ drafts: [EventDraft], to run: String, expectedNext: Int64, options: AppendOptions) throws -> [Event]

    /// Calls `visit` with each row of `run` after run position `after`, in run order. A row is
    /// valid only inside the call. Without `hashes`, rows come without their hash (a fold
    /// reads none, and a run's rows come faster without it).
    /// - Throws: what `visit` throws, or a `StoreError`.
    func forEachRow(of run: String, after: Int64, hashes: Bool, _ visit: (EventRow) throws -> Void) throws

    /// Calls `visit` with every row from global position `from` through `through`, in global order.
    /// - Throws: what `visit` throws, or a `StoreError`.
    func forEachRow(from: Int64, through: Int64, _ visit: (EventRow) throws -> Void) throws

    /// Every stream (runs and schedules), by the global position of its first event.
    func streamIDs() throws -> [String]

    /// The last event's position and hash; nil for an empty log.
    func head() throws -> ChainLink?

    /// The position and hash of the event at `seq`, if there is one.
    func link(at seq: Int64) throws -> ChainLink?

    /// The first and last global positions of a stream's events.
    func span(of run: String) throws -> ClosedRange<Int64>?

    /// Appends a signed checkpoint; checkpoints are never changed or removed.
    func appendCheckpoint(_ draft: CheckpointDraft) throws -> StoredCheckpoint

    /// Every checkpoint, oldest first.
    func checkpoints() throws -> [StoredCheckpoint]

    /// Durable transactions this handle has committed (group commit makes it fewer than appends).
    var durableCommits: Int { get }
}

extension EventLog {
    /// The run's events after run position `after`, decoded, in order.
    /// - Throws: `EventDecodingError` for a row that cannot be read back, or a `StoreError`.
    public func events(of run: String, after: Int64) throws -> [Event] {
        var out: [Event] = []
        try forEachRow(of: run, after: after, hashes: true) { out.append(try $0.event()) }
        return out
    }

    /// Every event from `from` through `through`, as stored, in global order.
    public func forEachEvent(from: Int64 = 1, through: Int64 = .max, _ visit: (StoredEvent) throws -> Void) throws {
        try forEachRow(from: from, through: through) { try visit($0.stored) }
    }

    /// The run's state, folded row by row without holding its events: memory stays flat
    /// however long the run. Notes, most of a long monitor step's events, are folded from the
    /// step they name, read from the stored bytes (`StepNoteBytes`); every other row is decoded.
    /// - Throws: `FoldError` for a log that does not fold, or a `StoreError`.
    public func fold(_ run: String) throws -> RunState? {
        var state = RunState(runID: run)
        var any = false
        var note = StepNoteBytes()
        try forEachRow(of: run, after: 0, hashes: false) { row in
            any = true
            if StepNoteBytes.isNote(row.type), let step = note.step(of: row.body) {
                try state.applyNote(step: step, seq: row.seq, runSeq: row.runSeq, atMillis: row.atMillis)
            } else {
                try state.apply(try row.event(knownRun: run))
            }
        }
        return any ? state : nil
    }

    /// Every run, oldest first (schedules' streams are not runs).
    public func runIDs() throws -> [String] { try streamIDs().filter(LogStream.isRun) }

    /// Every schedule ever added, by name, oldest first (removed ones included).
    public func scheduleNames() throws -> [String] { try streamIDs().compactMap(ScheduleStream.name(of:)) }

    /// The schedule `name` folded from its stream; nil when it was never added.
    /// - Throws: `FoldError` for a stream that does not fold, or a `StoreError`.
    public func schedule(_ name: String) throws -> ScheduleState? {
        let events = try events(of: ScheduleStream.id(name), after: 0)
        return events.isEmpty ? nil : try ScheduleState.fold(name, events)
    }
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
