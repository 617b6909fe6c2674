import CutoverCore
import CutoverEngine
import CutoverStore
import Foundation

/// How a scheduler process behaves.
public struct SchedulerConfiguration: Sendable {
    /// This process's lease owner name, `host:pid:nonce`; also the runs' driver.
    public var owner: String
    /// The actor recorded on the scheduler's events.
    public var actor: String
    public var leaseTTL: Duration
    /// How often the scheduler looks for due firings (and renews its lease) at most.
    public var pollInterval: Duration
    /// A firing seen later than this after it was due counts as missed.
    public var grace: Duration
    /// Whether a lease owner's process is gone, so its lease is taken over at once.
    public var isOwnerGone: @Sendable (String) -> Bool
    public var zoneDirectory: String
    /// The secret managers the runs it drives read `aws-sm:` and `gcp-sm:` references from.
    public var secretSources: [any SecretSource] = []
    /// Loads the children of `workflow` steps (the CLI's definitions, by name or file).
    public var childDefinitions: (@Sendable (_ workflow: String, _ runbook: String, _ mode: RunMode) throws -> Engine.StartRequest)?
    /// Evaluates the runbooks' safety rules before the steps they guard.
    public var safety: (any SafetyEvaluating)?
    /// Ships the log before each mutating step's first change.
    public var shipping: (any LogShipper)?

    public init(
        owner: String, actor: String, leaseTTL: Duration = .seconds(30), pollInterval: Duration = .seconds(10),
        grace: Duration = .seconds(600), isOwnerGone: @escaping @Sendable (String) -> Bool = { _ in false },
        zoneDirectory: String = ZoneInfo.defaultDirectory
    ) {
        self.owner = owner
        self.actor = actor
        self.leaseTTL = leaseTTL
        self.pollInterval = pollInterval
        self.grace = grace
        self.isOwnerGone = isOwnerGone
        self.zoneDirectory = zoneDirectory
    }
}

/// What the scheduler needs from its host: reading a schedule's files into a run request,
/// writing a report, telling the runbook's channel. The CLI reads files and speaks HTTP;
/// tests hand in workflows and record notifications.
public struct SchedulerEnvironment: Sendable {
    /// The validated request for a firing of `definition` (files read again at every firing).
    public var request: @Sendable (_ definition: ScheduleDefinition, _ firing: ScheduledFiring) throws -> Engine.StartRequest
    /// Writes the HTML report of a finished run; returns its path.
    public var writeReport: @Sendable (_ run: RunState) -> String?
    /// Sends a finished drill's result to the runbook's webhook.
    public var notify: @Sendable (_ notice: DrillNotice) async -> DrillNotified
    /// One line for whoever watches the scheduler.
    public var log: @Sendable (String) -> Void
    /// How far behind the log each bucket it is shipped to holds it, one line each; empty
    /// when it is not shipped. Recorded with a finished drill.
    public var shippingLag: @Sendable () async -> [String] = { [] }

    public init(
        request: @escaping @Sendable (ScheduleDefinition, ScheduledFiring) throws -> Engine.StartRequest,
        writeReport: @escaping @Sendable (RunState) -> String?,
        notify: @escaping @Sendable (DrillNotice) async -> DrillNotified,
        log: @escaping @Sendable (String) -> Void
    ) {
        self.request = request
        self.writeReport = writeReport
        self.notify = notify
        self.log = log
    }
}

/// Starts scheduled drills as ordinary runs and drives them, holding the `scheduler` lease so
/// that one process acts on a database at a time. Every start, skip and miss is an event in
/// the schedule's stream, appended before the run it concerns is touched.
public actor Scheduler {
    /// The lease all schedulers of a database compete for.
    public static let leaseName = "scheduler"

    let store: any EventStore
    let registry: StepRegistry
    let clock: any RunClock
    let ids: any IDSource
    let configuration: SchedulerConfiguration
    let environment: SchedulerEnvironment
    let stop: StopRequest
    /// Runs being driven by this process now.
    var driving: Set<String> = []
    /// Scheduled runs waiting for people; driven again only once they have ended.
    var parked: Set<String> = []
    private var cronCache: [String: (CronExpression, ZoneInfo)] = [:]

    public init(
        store: any EventStore, registry: StepRegistry, clock: any RunClock, ids: any IDSource,
        configuration: SchedulerConfiguration, environment: SchedulerEnvironment, stop: StopRequest
    ) {
        self.store = store
        self.registry = registry
        self.clock = clock
        self.ids = ids
        self.configuration = configuration
        self.environment = environment
        self.stop = stop
    }

    var engine: Engine {
        var engineConfiguration = EngineConfiguration(
            owner: configuration.owner, actor: configuration.actor, leaseTTL: configuration.leaseTTL,
            detachWhenWaiting: true, isOwnerGone: configuration.isOwnerGone, stop: stop, secretSources: configuration.secretSources,
            approvalSignatures: SSHApprovalSignatures())
        engineConfiguration.childDefinitions = configuration.childDefinitions
        engineConfiguration.safety = configuration.safety
        engineConfiguration.shipping = configuration.shipping
        return Engine(store: store, registry: registry, clock: clock, ids: ids, configuration: engineConfiguration)
    }

    var nowMillis: Int64 { Int64((clock.now().timeIntervalSince1970 * 1_000).rounded(.down)) }

    // MARK: - The lease

    /// Takes or renews the scheduler lease.
    /// - Throws: `StoreError.leaseHeld` naming the scheduler that holds it.
    public func takeLease() throws {
        let gone = configuration.isOwnerGone
        try store.acquireLease(run: Self.leaseName, owner: configuration.owner, now: clock.now(), ttl: configuration.leaseTTL, isGone: { gone($0) })
    }

    /// Waits until this process holds the lease (or a stop is requested: false).
    public func waitForLease() async throws -> Bool {
        var announced: String?
        while !stop.isRequested {
            do {
                try takeLease()
                return true
            } catch let held as StoreError where held.code == .leaseHeld {
                let owner = held.holder ?? "another process"
                if announced != owner {
                    environment.log("another scheduler holds the lease (\(owner)); waiting to take over when it stops")
                    announced = owner
                }
                try await clock.sleep(until: clock.now().addingTimeInterval(Double(configuration.pollInterval.milliseconds) / 1_000))
            }
        }
        return false
    }

    public func releaseLease() {
        try? store.releaseLease(run: Self.leaseName, owner: configuration.owner)
    }

    // MARK: - Running

    /// Runs until a stop is requested: takes the lease, then passes over the schedules, starts
    /// what is due, drives the drills, and sleeps until the next firing or poll. With `once`,
    /// one pass, and the drills it started or found unfinished driven to their end.
    /// - Throws: `StoreError.leaseLost` when another scheduler took over; storage errors.
    public func run(once: Bool) async throws {
        guard try await waitForLease() else { return }
        defer { releaseLease() }
        environment.log("scheduler \(configuration.owner) holds the lease")
        try await withThrowingTaskGroup(of: Void.self) { group in
            var first = true
            while !stop.isRequested, first || !once {
                first = false
                try takeLease()
                let (runs, next) = try pass()
                for run in runs where !driving.contains(run) {
                    guard try shouldDrive(run) else { continue }
                    driving.insert(run)
                    group.addTask { await self.drive(run) }
                }
                if once { break }
                let poll = clock.now().addingTimeInterval(Double(configuration.pollInterval.milliseconds) / 1_000)
                let wake = next.map { min(poll, Date(timeIntervalSince1970: Double($0) / 1_000)) } ?? poll
                try await sleepRenewing(until: wake, whileDriving: false)
            }
            // The lease is kept until the last drill has stopped: another scheduler must not
            // take them over while they run here.
            try await sleepRenewing(until: .distantFuture, whileDriving: true)
            try await group.waitForAll()
        }
    }

    /// One pass with the runs it returns driven to their end (or to a stop), one after the
    /// other; returns the next firing time. The simulated-time tests use this.
    /// - Throws: `StoreError.leaseHeld` when another scheduler holds the lease.
    public func passAndDrive() async throws -> Int64? {
        try takeLease()
        let (runs, next) = try pass()
        for run in runs where !driving.contains(run) && !stop.isRequested {
            try takeLease()
            guard try shouldDrive(run) else { continue }
            driving.insert(run)
            await drive(run)
        }
        return next
    }

    /// Sleeps until `deadline` (or, with `whileDriving`, until no drill runs here), renewing the
    /// lease every third of its time: a long poll or a long drill never lets it lapse.
    private func sleepRenewing(until deadline: Date, whileDriving: Bool) async throws {
        var renewed = clock.now()
        let third = Double(configuration.leaseTTL.milliseconds) / 3_000
        while clock.now() < deadline {
            if whileDriving ? driving.isEmpty : stop.isRequested { return }
            try await clock.sleep(until: min(deadline, clock.now().addingTimeInterval(0.2)))
            if clock.now().timeIntervalSince(renewed) >= third {
                try takeLease()
                renewed = clock.now()
            }
        }
    }

    /// One pass over every schedule: records and starts what is due; returns the runs to
    /// drive (new ones, and scheduled runs left unfinished by an earlier scheduler) and the
    /// next firing time.
    public func pass() throws -> (runs: [String], nextMillis: Int64?) {
        var runs: [String] = []
        var next: Int64?
        for name in try store.scheduleNames() {
          do {
            guard var schedule = try store.schedule(name), let definition = schedule.definition else { continue }
            // Drills left unfinished or untold are seen through, even of a schedule removed since.
            for drill in schedule.drills where drill.finished == nil || drill.notified == nil { runs.append(drill.run) }
            if !schedule.isActive, let pending = schedule.pendingDue {
                // Paused or removed between recording a firing due and recording its run.
                if let run = try settleInactive(name, pending, &schedule) { runs.append(run) }
                continue
            }
            guard schedule.isActive else { continue }
            let (cron, zone): (CronExpression, ZoneInfo)
            do {
                (cron, zone) = try parsed(definition)
            } catch {
                environment.log("schedule \(name): \(error); it is not started until fixed")
                continue
            }
            switch SchedulePlanner.decide(schedule, cron: cron, zone: zone, nowMillis: nowMillis, graceMillis: configuration.grace.milliseconds) {
            case .idle(let n):
                if let n { next = min(next ?? n, n) }
            case .recover(let due):
                if let run = try recover(name, due, &schedule) { runs.append(run) }
            case .act(let missed, let start):
                if !missed.isEmpty {
                    let payload = SchedulePlanner.missedPayload(missed, policy: definition.catchUp)
                    try append(.drillsMissed(payload), to: &schedule)
                    environment.log("schedule \(name): \(missed.count) firing(s) missed while no scheduler ran (\(Self.iso(missed[0])) to \(Self.iso(missed[missed.count - 1]))); policy \(definition.catchUp.rawValue)")
                }
                if let start {
                    try append(.drillDue(start), to: &schedule)
                    if let run = try startDrill(name, start, &schedule) { runs.append(run) }
                }
                if let n = cron.next(after: nowMillis / 1_000, in: zone) { next = min(next ?? n * 1_000, n * 1_000) }
            }
          } catch let e as StoreError where e.code == .conflict {
            // Someone else wrote to this schedule meanwhile (a person pausing it): next pass.
            next = nowMillis
          } catch let error as FoldError {
            // One schedule's stream that does not fold stops that schedule, not the others.
            environment.log("schedule \(name) is left alone: its events do not fold (\(error)); `cutover audit verify` says more")
          }
        }
        return (runs, next)
    }

    private func parsed(_ d: ScheduleDefinition) throws -> (CronExpression, ZoneInfo) {
        let key = "\(d.cron)|\(d.timeZone)"
        if let hit = cronCache[key] { return hit }
        let value = (try CronExpression(parsing: d.cron), try ZoneInfo.load(d.timeZone, directory: configuration.zoneDirectory))
        cronCache[key] = value
        return value
    }

    /// Appends to a schedule's stream once its fold accepts the event (a written event cannot be
    /// taken back); a conflict means another writer (a person pausing it, or a scheduler that
    /// should not be running) got there first.
    func append(_ body: EventBody, to schedule: inout ScheduleState) throws {
        let now = clock.now()
        var check = schedule
        try check.apply(Event(
            seq: 0, runID: ScheduleStream.id(schedule.name), runSeq: schedule.lastRunSeq + 1,
            atMillis: Int64((now.timeIntervalSince1970 * 1_000).rounded(.down)), actor: configuration.actor, body: body, bodyJSON: "", hash: []))
        let events = try store.append(
            [EventDraft(at: now, actor: configuration.actor, body: body)], to: ScheduleStream.id(schedule.name),
            expectedNext: schedule.lastRunSeq + 1, options: AppendOptions(now: now))
        for e in events { try schedule.apply(e) }
    }

    /// `append`, folding the stream again after a conflict: for events that must be recorded
    /// whatever else was written meanwhile (a started run's `DrillStarted`).
    func appendSurely(_ body: EventBody, to schedule: inout ScheduleState) throws {
        for attempt in 1...5 {
            do {
                try append(body, to: &schedule)
                return
            } catch let e as StoreError where e.code == .conflict && attempt < 5 {
                guard let fresh = try store.schedule(schedule.name) else { throw StoreError.unknownRun(ScheduleStream.id(schedule.name)) }
                schedule = fresh
            }
        }
    }

    static func iso(_ millis: Int64) -> String {
        let f = ISO8601DateFormatter()
        f.formatOptions = [.withInternetDateTime]
        return f.string(from: Date(timeIntervalSince1970: Double(millis) / 1_000))
    }
}
