import Foundation

/// Schedules live in the same log as runs, each in its own stream `schedule:NAME`, so that
/// what was scheduled, started, skipped and missed is hash-chained and audited like a run.
public enum ScheduleStream {
    static let prefix = "schedule:"

    /// The stream of the schedule `name`.
    public static func id(_ name: String) -> String { prefix + name }

    /// The schedule's name when `stream` is a schedule's stream (run ids never contain ":").
    public static func name(of stream: String) -> String? {
        stream.hasPrefix(prefix) ? String(stream.dropFirst(prefix.count)) : nil
    }

    public static func isSchedule(_ stream: String) -> Bool { stream.hasPrefix(prefix) }
}

/// Streams that are neither runs nor schedules: the log's own record of what was done to it.
/// Run ids never contain ":", so a run is a stream without one.
public enum LogStream {
    /// One `LogImported` per `cutover db copy` into this log, appended by the import role.
    public static let imports = "log:imports"
    /// `HaltRequested` and `HaltLifted`: `cutover halt` and `cutover unhalt`, folded by `HaltState`.
    public static let halt = "log:halt"

    public static func isRun(_ stream: String) -> Bool { !stream.contains(":") }
}

/// A log copied in (`cutover db copy`): from where, up to which event, with how many
/// checkpoints. Its actor is the role that imported it.
public struct LogImported: EventPayload, Equatable {
    /// The source log, without a password.
    public var source: String
    public var events: Int64
    /// The hash of the source's last event, which the copy verified to.
    public var head: String
    public var checkpoints: Int

    public init(source: String, events: Int64, head: String, checkpoints: Int) {
        self.source = source
        self.events = events
        self.head = head
        self.checkpoints = checkpoints
    }
}

/// What to do with firings that passed while no scheduler was running.
public enum CatchUpPolicy: String, Codable, Sendable, CaseIterable {
    /// Record them as missed and wait for the next one.
    case skip
    /// Record them as missed and start one run now in their place.
    case runOnce = "run-once"
}

/// `ScheduleAdded`: a drill (or readiness check) that the scheduler starts on a cron schedule.
public struct ScheduleDefinition: EventPayload, Equatable {
    public var name: String
    /// The workflow and runbook files, as absolute paths; read again at every firing.
    public var workflow: String
    public var runbook: String
    public var cron: String
    /// A zone of the system's zoneinfo ("Europe/Berlin"); the cron fields are its wall clock.
    public var timeZone: String
    /// `drill` or `readiness`: scheduled runs never fail over for real.
    public var mode: RunMode
    public var catchUp: CatchUpPolicy
    /// People of the runbook's approvers who approved, when the schedule was added, the
    /// drills it starts; the scheduler grants the workflow's approval steps in their names.
    public var approvedBy: [String]

    public init(
        name: String, workflow: String, runbook: String, cron: String, timeZone: String, mode: RunMode,
        catchUp: CatchUpPolicy, approvedBy: [String]
    ) {
        self.name = name
        self.workflow = workflow
        self.runbook = runbook
        self.cron = cron
        self.timeZone = timeZone
        self.mode = mode
        self.catchUp = catchUp
        self.approvedBy = approvedBy
    }
}

/// `DrillDue`: the scheduler is about to start the firing due at `dueAtMillis`. Recorded before
/// the run is started, so that after a crash the firing is looked for, not started twice.
public struct DrillDue: EventPayload, Equatable {
    public var dueAtMillis: Int64
    /// The firings missed while no scheduler ran that this run stands in for (`run-once`).
    public var catchingUp: [Int64]?

    public init(dueAtMillis: Int64, catchingUp: [Int64]? = nil) {
        self.dueAtMillis = dueAtMillis
        self.catchingUp = catchingUp
    }
}

/// `DrillStarted`: the firing due at `dueAtMillis` is run `run`.
public struct DrillStarted: EventPayload, Equatable {
    public var dueAtMillis: Int64
    public var run: String

    public init(dueAtMillis: Int64, run: String) {
        self.dueAtMillis = dueAtMillis
        self.run = run
    }
}

/// `DrillSkipped`: the firing due at `dueAtMillis` was not started, and why.
public struct DrillSkipped: EventPayload, Equatable {
    public var dueAtMillis: Int64
    public var reason: String
    /// The run in the way, when another run of the service was active.
    public var blockedBy: String?

    public init(dueAtMillis: Int64, reason: String, blockedBy: String? = nil) {
        self.dueAtMillis = dueAtMillis
        self.reason = reason
        self.blockedBy = blockedBy
    }
}

/// `DrillsMissed`: firings that passed while no scheduler was running, and the policy applied.
public struct DrillsMissed: EventPayload, Equatable {
    public var dueAtMillis: [Int64]
    public var policy: CatchUpPolicy
    /// How many there were in all, when more than the ones listed.
    public var total: Int

    public init(dueAtMillis: [Int64], policy: CatchUpPolicy, total: Int) {
        self.dueAtMillis = dueAtMillis
        self.policy = policy
        self.total = total
    }
}

/// `DrillFinished`: a scheduled run came to rest, with what it measured.
public struct DrillFinished: EventPayload, Equatable {
    public var run: String
    public var status: String
    /// Whether the drill did what it should and met its targets.
    public var passed: Bool
    public var summary: String
    /// The HTML report written for it.
    public var report: String?
    /// How far behind the log the shipped copies were when the drill ended (the log's own RPO,
    /// were this machine lost then), one line per bucket; absent when the log is not shipped.
    public var logShipping: [String]?

    public init(run: String, status: String, passed: Bool, summary: String, report: String?, logShipping: [String]? = nil) {
        self.run = run
        self.status = status
        self.passed = passed
        self.summary = summary
        self.report = report
        self.logShipping = logShipping
    }
}

/// `DrillNotified`: the result of a scheduled run was sent (or could not be) to the runbook's webhook.
public struct DrillNotified: EventPayload, Equatable {
    public var run: String
    public var format: String
    public var delivered: Bool
    public var detail: String

    public init(run: String, format: String, delivered: Bool, detail: String) {
        self.run = run
        self.format = format
        self.delivered = delivered
        self.detail = detail
    }
}
