import CutoverCore
import CutoverEngine
import CutoverSchedule
import CutoverStore
import Foundation
import Testing
import TestSupport

/// A scheduler over a simulated database, clock and world: the drill is one `sim.set` that
/// the drill's planned rollback puts back.
final class SchedulerRig: @unchecked Sendable {
    // @unchecked: set up once; the recorders lock themselves.
    let h: Harness
    let workflow: Workflow
    let notices = Recorder<DrillNotice>()
    let lines = Recorder<String>()

    init() throws {
        h = try Harness()
        workflow = try h.workflow("""
            {"name": "sim-drill", "steps": [
              {"id": "dr-health", "type": "sim.check", "with": {"key": "health", "equals": "ok"}},
              {"id": "dns", "type": "sim.set", "with": {"key": "dns", "value": "dr"}}
            ]}
            """)
    }

    func scheduler(owner: String, gone: @escaping @Sendable (String) -> Bool = { _ in false }, grace: Duration = .seconds(600), stop: StopRequest = StopRequest())
        -> Scheduler
    {
        let workflow = workflow
        let h = h
        let notices = notices
        let lines = lines
        return Scheduler(
            store: h.log, registry: h.registry, clock: h.clock, ids: h.ids,
            configuration: SchedulerConfiguration(owner: owner, actor: "scheduler@\(owner)", grace: grace, isOwnerGone: gone),
            environment: SchedulerEnvironment(
                request: { d, firing in
                    var r = h.request(workflow, mode: d.mode, by: "scheduler (schedule \(d.name))")
                    r.schedule = firing
                    return r
                },
                writeReport: { "/reports/\($0.runID).html" },
                notify: { notice in
                    notices.append(notice)
                    return DrillNotified(run: notice.run, format: notice.format, delivered: true, detail: "recorded by the test")
                },
                log: { lines.append($0) }),
            stop: stop)
    }

    func add(_ name: String, cron: String, zone: String = "UTC", catchUp: CatchUpPolicy = .skip, mode: RunMode = .drill, by: String = "oncall") throws {
        let d = ScheduleDefinition(
            name: name, workflow: "/w/sim-drill.json", runbook: "/r/sim.json", cron: cron, timeZone: zone, mode: mode, catchUp: catchUp, approvedBy: [])
        let last = try h.log.schedule(name)?.lastRunSeq ?? 0
        _ = try h.log.append(
            [EventDraft(at: h.clock.now(), actor: by, body: .scheduleAdded(d))], to: ScheduleStream.id(name), expectedNext: last + 1,
            options: AppendOptions(now: h.clock.now()))
    }

    func schedule(_ name: String) throws -> ScheduleState { try #require(try h.log.schedule(name)) }

    static func instant(_ iso: String) -> Date { ISO8601DateFormatter().date(from: iso)! }
    static func seconds(_ iso: String) -> Int64 { Int64(instant(iso).timeIntervalSince1970) }
}

/// Collects values from concurrent callbacks.
final class Recorder<T: Sendable>: @unchecked Sendable {
    // @unchecked: `items` is only touched under `lock`.
    private let lock = NSLock()
    private var items: [T] = []
    func append(_ item: T) {
        lock.lock()
        items.append(item)
        lock.unlock()
    }
    var all: [T] {
        lock.lock()
        defer { lock.unlock() }
        return items
    }
}

@Suite struct SchedulerYearTests {
    /// A year of 2027 in simulated time with three schedules, a scheduler restart and five
    /// weeks without any scheduler in the middle: every firing is started once or recorded as
    /// missed, none is started twice, and each catch-up policy does what it says.
    @Test func aSimulatedYearStartsEveryFiringOnceAcrossARestartAndADowntime() async throws {
        let rig = try SchedulerRig()
        rig.h.clock.set(SchedulerRig.instant("2026-12-31T12:00:00Z"))
        try rig.add("weekly", cron: "0 3 * * MON", zone: "Europe/Berlin")
        try rig.add("monthly", cron: "30 4 1 * *", zone: "America/New_York", catchUp: .runOnce)
        try rig.add("quarterly", cron: "@quarterly")
        let downFrom = SchedulerRig.instant("2027-06-15T00:00:00Z")
        let upAgain = SchedulerRig.instant("2027-07-20T09:00:00Z")
        let end = SchedulerRig.instant("2028-01-01T00:00:00Z")

        var first: Scheduler? = rig.scheduler(owner: "host:1:a")
        let second = rig.scheduler(owner: "host:2:b", gone: { $0 == "host:1:a" })
        var jitter: UInt64 = 7
        var passes = 0
        while rig.h.clock.now() < end {
            let active = first ?? second
            let next = try await active.passAndDrive()
            passes += 1
            // Now and then a second pass at the same moment: it must find nothing to do.
            if passes % 5 == 0 { _ = try await active.passAndDrive() }
            guard let next else { break }
            jitter = jitter &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            let late = Double((jitter >> 40) % 240)  // up to 4 minutes late
            var wake = Date(timeIntervalSince1970: Double(next) / 1_000 + late)
            if first != nil, wake >= downFrom {
                // The first scheduler dies; nobody runs until the second starts.
                first = nil
                wake = upAgain
            }
            rig.h.clock.set(min(max(wake, rig.h.clock.now()), end))
        }

        let berlin = try ZoneInfo.load("Europe/Berlin")
        let newYork = try ZoneInfo.load("America/New_York")
        func firings(_ cron: String, _ zone: ZoneInfo) throws -> [Int64] {
            try CronExpression(parsing: cron).times(
                after: SchedulerRig.seconds("2026-12-31T12:00:00Z"), through: SchedulerRig.seconds("2027-12-31T23:59:59Z"), in: zone, limit: 1_000
            ).map { $0 * 1_000 }
        }
        let down = Int64(downFrom.timeIntervalSince1970 * 1_000)...Int64(upAgain.timeIntervalSince1970 * 1_000)

        // Weekly, skip: 52 Mondays in 2027; those in the downtime are missed, the rest started once.
        let weekly = try rig.schedule("weekly")
        let mondays = try firings("0 3 * * MON", berlin)
        #expect(mondays.count == 52)
        #expect(weekly.drills.map(\.dueAtMillis) == mondays.filter { !down.contains($0) })
        #expect(weekly.misses.flatMap(\.missed.dueAtMillis) == mondays.filter { down.contains($0) })
        #expect(weekly.misses.count == 1 && weekly.misses[0].missed.policy == .skip && weekly.misses[0].missed.total == 5)
        // 03:00 in Berlin is 02:00 UTC in winter and 01:00 UTC in summer.
        #expect(weekly.drills.first?.dueAtMillis == SchedulerRig.seconds("2027-01-04T02:00:00Z") * 1_000)
        #expect(weekly.drills.contains { $0.dueAtMillis == SchedulerRig.seconds("2027-04-05T01:00:00Z") * 1_000 })

        // Monthly, run-once: July's firing was missed and one run at the restart stood in for it.
        let monthly = try rig.schedule("monthly")
        let firsts = try firings("30 4 1 * *", newYork)
        #expect(firsts.count == 12)
        #expect(monthly.misses.flatMap(\.missed.dueAtMillis) == firsts.filter { down.contains($0) })
        #expect(monthly.misses.first?.missed.policy == .runOnce)
        let catchUp = Int64(upAgain.timeIntervalSince1970 * 1_000)
        #expect(monthly.drills.map(\.dueAtMillis) == (firsts.filter { !down.contains($0) } + [catchUp]).sorted())

        // Quarterly, skip: four firings, July's missed.
        let quarterly = try rig.schedule("quarterly")
        let quarters = try firings("@quarterly", .utc)
        #expect(quarters.map { $0 / 1_000 } == ["2027-01-01", "2027-04-01", "2027-07-01", "2027-10-01"].map { SchedulerRig.seconds("\($0)T00:00:00Z") })
        #expect(quarterly.drills.map(\.dueAtMillis) == [quarters[0], quarters[1], quarters[3]])
        #expect(quarterly.misses.flatMap(\.missed.dueAtMillis) == [quarters[2]])

        // Every run is distinct, was started for its own firing, and rolled back as planned.
        let all = weekly.drills + monthly.drills + quarterly.drills
        #expect(Set(all.map(\.run)).count == all.count)
        #expect(try rig.h.log.runIDs().count == all.count)
        for drill in all {
            let state = try #require(try rig.h.log.fold(drill.run))
            #expect(state.status == .rolledBack && state.outcome?.planned == true, "\(drill.run)")
            #expect(state.plan?.schedule?.dueAtMillis == drill.dueAtMillis)
            #expect(drill.finished?.passed == true && drill.notified?.delivered == true, "\(drill.run)")
        }
        #expect(rig.notices.all.count == all.count)
        #expect(rig.h.world["dns"] == "primary")
        // The restarted scheduler said what it found missed.
        #expect(rig.lines.all.contains { $0.contains("schedule weekly: 5 firing(s) missed") })
    }
}
