import Foundation

/// One schedule folded from its stream: its definition, whether it is paused or removed, the
/// latest firing the scheduler dealt with, and the drills it started.
public struct ScheduleState: Sendable {
    public let name: String
    public private(set) var definition: ScheduleDefinition?
    public private(set) var addedAtMillis: Int64 = 0
    public private(set) var addedBy = ""
    public private(set) var paused = false
    public private(set) var removed = false
    public private(set) var lastRunSeq: Int64 = 0
    /// Firings at or before this time are dealt with (started, skipped, missed, or passed while
    /// the schedule was paused or not yet added).
    public private(set) var handledThroughMillis: Int64 = 0
    /// A firing the scheduler began to start and has not yet recorded as started or skipped.
    public private(set) var pendingDue: DrillDue?
    /// The runs started, oldest first.
    public private(set) var drills: [Drill] = []
    public private(set) var skips: [DrillSkipped] = []
    /// Missed firings with when the scheduler noticed them.
    public private(set) var misses: [(notedAtMillis: Int64, missed: DrillsMissed)] = []
    /// Pauses as (from, to); `to` is nil while paused.
    public private(set) var pauses: [(from: Int64, to: Int64?, by: String)] = []

    /// A run the schedule started, and what became of it.
    public struct Drill: Sendable, Equatable {
        public var dueAtMillis: Int64
        public var run: String
        public var startedAtMillis: Int64
        public var finished: DrillFinished?
        public var notified: DrillNotified?
    }

    public init(name: String) { self.name = name }

    /// Whether the scheduler should start its firings.
    public var isActive: Bool { definition != nil && !removed && !paused }

    /// Folds a whole stream.
    /// - Throws: `FoldError` for an event that cannot follow the ones before it.
    public static func fold(_ name: String, _ events: [Event]) throws -> ScheduleState {
        var s = ScheduleState(name: name)
        for e in events { try s.apply(e) }
        return s
    }

    /// Applies one event.
    /// - Throws: `FoldError` when the event cannot follow the ones before it.
    public mutating func apply(_ event: Event) throws {
        guard event.runID == ScheduleStream.id(name) else { throw FoldError(event, "belongs to \(event.runID), not schedule \(name)") }
        guard event.runSeq == lastRunSeq + 1 else { throw FoldError(event, "stream position \(event.runSeq) does not follow \(lastRunSeq)") }
        let at = event.atMillis
        switch event.body {
        case .scheduleAdded(let d):
            guard definition == nil || removed else { throw FoldError(event, "schedule \(name) already exists; remove it first") }
            guard d.name == name else { throw FoldError(event, "defines schedule \(d.name) in the stream of \(name)") }
            definition = d
            addedAtMillis = at
            addedBy = event.actor
            removed = false
            paused = false
            pendingDue = nil
            handledThroughMillis = max(handledThroughMillis, at)
        case .schedulePaused:
            try expectLive(event)
            guard !paused else { throw FoldError(event, "schedule \(name) is already paused") }
            paused = true
            pauses.append((at, nil, event.actor))
        case .scheduleResumed:
            try expectLive(event)
            guard paused else { throw FoldError(event, "schedule \(name) is not paused") }
            paused = false
            pauses[pauses.count - 1].to = at
            // Firings while paused were declined by a person, not missed.
            handledThroughMillis = max(handledThroughMillis, at)
        case .scheduleRemoved:
            try expectLive(event)
            // A firing being started stays pending: its run, if it was started, is still recorded.
            removed = true
        case .drillDue(let p):
            try expectLive(event)
            guard pendingDue == nil else { throw FoldError(event, "a firing is already being started (due \(pendingDue!.dueAtMillis))") }
            guard p.dueAtMillis > handledThroughMillis else { throw FoldError(event, "firing \(p.dueAtMillis) was already dealt with") }
            pendingDue = p
        case .drillStarted(let p):
            // The firing recorded as due settles even if the schedule was paused or removed since.
            guard definition != nil, pendingDue?.dueAtMillis == p.dueAtMillis else { throw FoldError(event, "starts a firing that was not recorded as due first") }
            drills.append(Drill(dueAtMillis: p.dueAtMillis, run: p.run, startedAtMillis: at))
            pendingDue = nil
            handledThroughMillis = max(handledThroughMillis, p.dueAtMillis)
        case .drillSkipped(let p):
            if let pending = pendingDue {
                guard pending.dueAtMillis == p.dueAtMillis else { throw FoldError(event, "skips a firing other than the one being started") }
            } else {
                try expectLive(event)
                guard p.dueAtMillis > handledThroughMillis else { throw FoldError(event, "firing \(p.dueAtMillis) was already dealt with") }
            }
            skips.append(p)
            pendingDue = nil
            handledThroughMillis = max(handledThroughMillis, p.dueAtMillis)
        case .drillsMissed(let p):
            try expectLive(event)
            guard pendingDue == nil else { throw FoldError(event, "records missed firings while one is being started") }
            misses.append((at, p))
            if let last = p.dueAtMillis.max() { handledThroughMillis = max(handledThroughMillis, last) }
        case .drillFinished(let p):
            guard let i = drills.lastIndex(where: { $0.run == p.run }) else { throw FoldError(event, "finishes run \(p.run), which this schedule did not start") }
            drills[i].finished = p
        case .drillNotified(let p):
            guard let i = drills.lastIndex(where: { $0.run == p.run }), drills[i].finished != nil else {
                throw FoldError(event, "notifies about run \(p.run) before it finished")
            }
            drills[i].notified = p
        default:
            throw FoldError(event, "is a run's event, which has no place in a schedule's stream")
        }
        lastRunSeq = event.runSeq
    }

    private func expectLive(_ event: Event) throws {
        guard definition != nil, !removed else { throw FoldError(event, "schedule \(name) does not exist (not added, or removed)") }
    }
}
