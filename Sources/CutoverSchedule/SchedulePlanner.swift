import CutoverCore
import Foundation

/// What the scheduler does about one schedule at one moment. Pure: the same schedule, cron
/// and time always give the same answer, so the simulated-year tests can trust it.
public enum ScheduleDecision: Sendable, Equatable {
    /// Nothing is due; the next firing is at `next` (nil: never again).
    case idle(next: Int64?)
    /// A firing was recorded as due but neither started nor skipped (the scheduler stopped
    /// in between): look for its run before starting anything.
    case recover(DrillDue)
    /// Record `missed` (when not empty) with the schedule's policy, then, when `start` is set,
    /// record it due and start one run for it.
    case act(missed: [Int64], start: DrillDue?)
}

/// Decides, from a schedule's fold, what is due.
///
/// A firing counts as *on time* when the scheduler sees it at most `grace` after it was due;
/// older firings were *missed* (no scheduler was running) and get the schedule's catch-up
/// policy: `skip` records them and starts nothing, `run-once` records them and starts one run
/// now in their place. Of several on-time firings (a pass that came late), only the latest
/// starts: the others were missed too.
public enum SchedulePlanner {
    /// At most this many missed firings are listed in one `DrillsMissed` (the count is exact).
    public static let listedMisses = 50

    public static func decide(
        _ schedule: ScheduleState, cron: CronExpression, zone: ZoneInfo, nowMillis: Int64, graceMillis: Int64
    ) -> ScheduleDecision {
        guard let definition = schedule.definition, schedule.isActive else { return .idle(next: nil) }
        if let pending = schedule.pendingDue { return .recover(pending) }
        let from = floorDiv(schedule.handledThroughMillis, 1_000)
        let now = floorDiv(nowMillis, 1_000)
        // Firings are whole seconds; one handled at T is not due again at T.
        let due = cron.times(after: from, through: now, in: zone, limit: 100_000).map { $0 * 1_000 }
            .filter { $0 > schedule.handledThroughMillis }
        guard let latest = due.last else {
            return .idle(next: cron.next(after: now, in: zone).map { $0 * 1_000 })
        }
        let onTime: Int64? = nowMillis - latest <= graceMillis ? latest : nil
        let missed = onTime == nil ? due : Array(due.dropLast())
        if missed.isEmpty { return .act(missed: [], start: DrillDue(dueAtMillis: latest)) }
        switch definition.catchUp {
        case .skip:
            return .act(missed: missed, start: onTime.map { DrillDue(dueAtMillis: $0) })
        case .runOnce:
            // One run now stands in for all of them; it is due now, after the last one missed.
            return .act(missed: missed, start: DrillDue(dueAtMillis: onTime ?? max(nowMillis, latest + 1), catchingUp: Array(missed.suffix(listedMisses))))
        }
    }

    /// The `DrillsMissed` payload for `missed`: the latest ones listed, all counted.
    public static func missedPayload(_ missed: [Int64], policy: CatchUpPolicy) -> DrillsMissed {
        DrillsMissed(dueAtMillis: Array(missed.suffix(listedMisses)), policy: policy, total: missed.count)
    }

    static func floorDiv(_ a: Int64, _ b: Int64) -> Int64 {
        a >= 0 ? a / b : -((-a + b - 1) / b)
    }
}
