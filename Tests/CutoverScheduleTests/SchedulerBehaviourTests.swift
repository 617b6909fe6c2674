import CutoverAudit
import CutoverCore
import CutoverEngine
import CutoverSchedule
import CutoverStore
import Foundation
import Testing
import TestSupport

@Suite struct SchedulerBehaviourTests {
    static let start = SchedulerRig.instant("2027-03-01T00:00:00Z")

    /// A rig at `start` with one daily drill at 02:00 UTC.
    func rig(catchUp: CatchUpPolicy = .skip) throws -> SchedulerRig {
        let rig = try SchedulerRig()
        rig.h.clock.set(Self.start)
        try rig.add("daily", cron: "0 2 * * *", catchUp: catchUp)
        return rig
    }

    func at(_ iso: String, _ rig: SchedulerRig) { rig.h.clock.set(SchedulerRig.instant(iso)) }

    /// What a scheduler that crashed right after recording the 1st's firing as due left behind.
    func recordDueBeforeACrash(_ rig: SchedulerRig) throws -> Int64 {
        let due = SchedulerRig.seconds("2027-03-01T02:00:00Z") * 1_000
        try rig.h.signal(ScheduleStream.id("daily"), .drillDue(DrillDue(dueAtMillis: due)), by: "scheduler")
        return due
    }

    @Test func aDrillIsNotStartedOverALiveFailoverAndTheReasonIsRecorded() async throws {
        let rig = try rig()
        // A live failover of the same service, waiting for approval: it holds the service.
        let gated = try rig.h.workflow(#"{"name": "live", "steps": [{"id": "go", "type": "approval"}]}"#)
        let live = try rig.h.engine(detach: true).start(rig.h.request(gated))
        _ = try await rig.h.engine(detach: true).drive(live)
        at("2027-03-01T02:00:30Z", rig)
        let s = rig.scheduler(owner: "host:1:a")
        _ = try await s.passAndDrive()
        let schedule = try rig.schedule("daily")
        #expect(schedule.drills.isEmpty)
        #expect(schedule.skips.count == 1)
        #expect(schedule.skips.first?.blockedBy == live)
        #expect(schedule.skips.first?.reason.contains("a live failover of sim-service, \(live), is active") == true)
        #expect(try rig.h.log.runIDs() == [live])

        // The live run ends; the next day's firing starts.
        try rig.h.signal(live, .abortRequested(Signal(reason: "test")), by: "oncall")
        _ = try await rig.h.engine().drive(live)
        at("2027-03-02T02:00:10Z", rig)
        _ = try await s.passAndDrive()
        #expect(try rig.schedule("daily").drills.count == 1)
    }

    @Test func aFiringRecordedDueBeforeACrashIsStartedOnceAfterIt() async throws {
        // The crash came after DrillDue, before the run: the run is started now.
        let rig = try rig()
        at("2027-03-01T02:00:05Z", rig)
        let due = try recordDueBeforeACrash(rig)
        _ = try await rig.scheduler(owner: "host:2:b").passAndDrive()
        let schedule = try rig.schedule("daily")
        #expect(schedule.drills.map(\.dueAtMillis) == [due])
        #expect(try rig.h.log.runIDs().count == 1)
        #expect(rig.lines.all.contains { $0.contains("started drill") })
    }

    @Test func aRunStartedBeforeACrashIsFoundNotStartedAgain() async throws {
        // The crash came after RunStarted, before DrillStarted: the run is found by its firing.
        let rig = try rig()
        at("2027-03-01T02:00:05Z", rig)
        let due = try recordDueBeforeACrash(rig)
        var request = rig.h.request(rig.workflow, mode: .drill)
        request.schedule = ScheduledFiring(name: "daily", dueAtMillis: due)
        let run = try rig.h.engine().start(request)
        // Its starter (test:1) crashed with it: its lease is taken over at once.
        _ = try await rig.scheduler(owner: "host:2:b", gone: { $0 == "test:1" }).passAndDrive()
        let after = try rig.schedule("daily")
        #expect(after.drills.map(\.run) == [run])
        #expect(try rig.h.log.runIDs() == [run])
        #expect(after.drills.first?.finished?.passed == true)
        #expect(rig.lines.all.contains { $0.contains("found run \(run)") })
    }

    /// Found in review: a firing recorded due, then the schedule paused and resumed, then the
    /// service taken: the skip of that firing must be accepted by the fold, not written and
    /// then refused (which would have stopped every schedule at the next pass).
    @Test func aPendingFiringIsSettledAfterAPauseAndResume() async throws {
        let rig = try rig()
        at("2027-03-01T02:00:05Z", rig)
        let due = try recordDueBeforeACrash(rig)
        try rig.h.signal(ScheduleStream.id("daily"), .schedulePaused(Signal()), by: "oncall")
        at("2027-03-01T03:00:00Z", rig)
        try rig.h.signal(ScheduleStream.id("daily"), .scheduleResumed(Signal()), by: "oncall")
        let gated = try rig.h.workflow(#"{"name": "live", "steps": [{"id": "go", "type": "approval"}]}"#)
        let live = try rig.h.engine(detach: true).start(rig.h.request(gated))
        _ = try await rig.scheduler(owner: "host:1:a").passAndDrive()
        let schedule = try rig.schedule("daily")
        #expect(schedule.skips.map(\.dueAtMillis) == [due] && schedule.skips.first?.blockedBy == live)
        #expect(schedule.pendingDue == nil)
    }

    @Test(arguments: [true, false])
    func aFiringPendingWhenTheScheduleIsRemovedIsRecordedOrSkipped(_ runWasStarted: Bool) async throws {
        let rig = try rig()
        at("2027-03-01T02:00:05Z", rig)
        let due = try recordDueBeforeACrash(rig)
        var run: String?
        if runWasStarted {
            var request = rig.h.request(rig.workflow, mode: .drill)
            request.schedule = ScheduledFiring(name: "daily", dueAtMillis: due)
            run = try rig.h.engine().start(request)
        }
        try rig.h.signal(ScheduleStream.id("daily"), .scheduleRemoved(Signal()), by: "oncall")
        _ = try await rig.scheduler(owner: "host:1:a", gone: { $0 == "test:1" }).passAndDrive()
        let schedule = try rig.schedule("daily")
        #expect(schedule.pendingDue == nil)
        if let run {
            #expect(schedule.drills.map(\.run) == [run])
            #expect(schedule.drills.first?.finished?.passed == true, "the started drill is still carried through")
            #expect(try rig.h.log.lockHolder(scope: "sim-service") == nil, "and gives the service back")
        } else {
            #expect(schedule.skips.first?.reason == "the schedule was removed before the run was started")
            #expect(try rig.h.log.runIDs().isEmpty)
        }
    }

    @Test func aScheduleWhoseStreamDoesNotFoldStopsOnlyItself() async throws {
        let rig = try rig()
        try rig.add("other", cron: "0 2 * * *")
        try rig.h.signal(ScheduleStream.id("daily"), .drillStarted(DrillStarted(dueAtMillis: 5, run: "run-x")), by: "someone")
        at("2027-03-01T02:00:05Z", rig)
        _ = try await rig.scheduler(owner: "host:1:a").passAndDrive()
        #expect(try rig.schedule("other").drills.count == 1)
        #expect(rig.lines.all.contains { $0.contains("schedule daily is left alone: its events do not fold") })
    }

    @Test func firingsWhilePausedAreNeitherStartedNorMissed() async throws {
        let rig = try rig()
        let s = rig.scheduler(owner: "host:1:a")
        try rig.h.signal(ScheduleStream.id("daily"), .schedulePaused(Signal(reason: "change freeze")), by: "oncall")
        for day in 1...3 {
            at("2027-03-0\(day)T02:00:10Z", rig)
            _ = try await s.passAndDrive()
        }
        try rig.h.signal(ScheduleStream.id("daily"), .scheduleResumed(Signal()), by: "oncall")
        at("2027-03-04T02:00:10Z", rig)
        _ = try await s.passAndDrive()
        let schedule = try rig.schedule("daily")
        #expect(schedule.drills.map(\.dueAtMillis) == [SchedulerRig.seconds("2027-03-04T02:00:00Z") * 1_000])
        #expect(schedule.misses.isEmpty && schedule.skips.isEmpty)
        #expect(schedule.pauses.count == 1 && schedule.pauses[0].by == "oncall" && schedule.pauses[0].to != nil)
    }

    @Test(arguments: [CatchUpPolicy.skip, .runOnce])
    func aLateFiringIsMissedAndThePolicyDecides(_ policy: CatchUpPolicy) async throws {
        let rig = try rig(catchUp: policy)
        // Down from before the 1st to the 4th at 09:00: three firings passed unseen.
        at("2027-03-04T09:00:00Z", rig)
        _ = try await rig.scheduler(owner: "host:1:a").passAndDrive()
        let schedule = try rig.schedule("daily")
        let missed = (1...4).map { SchedulerRig.seconds("2027-03-0\($0)T02:00:00Z") * 1_000 }
        #expect(schedule.misses.count == 1)
        #expect(schedule.misses.first?.missed.dueAtMillis == missed)
        #expect(schedule.misses.first?.missed.policy == policy)
        if policy == .skip {
            #expect(schedule.drills.isEmpty)
        } else {
            #expect(schedule.drills.map(\.dueAtMillis) == [Int64(rig.h.clock.now().timeIntervalSince1970 * 1_000)])
        }
        #expect(rig.lines.all.contains { $0.contains("4 firing(s) missed while no scheduler ran") })
    }

    @Test func standingApprovalsLetAnUnattendedDrillThroughItsApprovalStep() async throws {
        let rig = try SchedulerRig()
        rig.h.clock.set(Self.start)
        let gated = try rig.h.workflow("""
            {"name": "gated", "steps": [
              {"id": "go", "type": "approval", "with": {"approvers": "${runbook.approvers}", "required": 2}},
              {"id": "dns", "type": "sim.set", "with": {"key": "dns", "value": "dr"}}
            ]}
            """)
        for (name, approvers) in [("covered", ["alice", "bob"]), ("short", ["alice"])] {
            let d = ScheduleDefinition(name: name, workflow: "/w", runbook: "/r", cron: "0 2 * * *", timeZone: "UTC", mode: .drill, catchUp: .skip, approvedBy: approvers)
            _ = try rig.h.log.append([EventDraft(at: rig.h.clock.now(), actor: "oncall", body: .scheduleAdded(d))], to: ScheduleStream.id(name), expectedNext: 1, options: AppendOptions(now: rig.h.clock.now()))
        }
        let h = rig.h
        let s = Scheduler(
            store: h.log, registry: h.registry, clock: h.clock, ids: h.ids,
            configuration: SchedulerConfiguration(owner: "host:1:a", actor: "scheduler"),
            environment: SchedulerEnvironment(
                request: { d, firing in
                    var r = h.request(gated, mode: d.mode, by: "scheduler")
                    r.schedule = firing
                    return r
                },
                writeReport: { _ in nil }, notify: { DrillNotified(run: $0.run, format: "slack", delivered: true, detail: "") }, log: { _ in }),
            stop: StopRequest())
        at("2027-03-01T02:00:01Z", rig)
        _ = try await s.passAndDrive()  // "covered" runs; "short" is skipped: the service is taken
        try h.signal(ScheduleStream.id("covered"), .schedulePaused(Signal()), by: "oncall")
        at("2027-03-02T02:00:01Z", rig)
        _ = try await s.passAndDrive()
        let covered = try rig.schedule("covered")
        let run = try #require(covered.drills.first?.run)
        let events = try h.events(run)
        let grants = events.compactMap { e -> ApprovalGranted? in if case .approvalGranted(let g) = e.body { g } else { nil } }
        #expect(grants.map(\.by) == ["alice", "bob"])
        #expect(grants.allSatisfy { $0.comment?.contains("standing approval for the drills of schedule covered") == true })
        #expect(covered.drills.first?.finished?.passed == true)
        // One approver for two approvals: the drill waits for a person and is not reported finished.
        let short = try rig.schedule("short")
        #expect(short.skips.first?.blockedBy == run)
        let waiting = try #require(short.drills.last?.run)
        #expect(try h.log.fold(waiting)?.status == .waitingApproval)
        #expect(short.drills.last?.finished == nil)
    }

    /// A scheduler asked to stop starts no step; the next one carries the drill through, even
    /// when the schedule was removed meanwhile, and records and tells how it ended.
    @Test func aStoppedDrillIsFinishedByTheNextSchedulerEvenAfterItsScheduleIsRemoved() async throws {
        let rig = try rig()
        at("2027-03-01T02:00:05Z", rig)
        let stop = StopRequest()
        stop.request()
        _ = try await rig.scheduler(owner: "host:1:a", stop: stop).passAndDrive()
        let run = try #require(try rig.schedule("daily").drills.first?.run)
        let stopped = try #require(try rig.h.log.fold(run))
        #expect(stopped.status == .running)
        #expect(!(try rig.h.events(run)).contains { $0.type == "StepStarted" }, "no step was started after the stop")
        #expect(try rig.schedule("daily").drills.first?.finished == nil)

        try rig.h.signal(ScheduleStream.id("daily"), .scheduleRemoved(Signal()), by: "oncall")
        _ = try await rig.scheduler(owner: "host:2:b", gone: { $0 == "host:1:a" }).passAndDrive()
        let schedule = try rig.schedule("daily")
        #expect(schedule.removed)
        #expect(schedule.drills.count == 1)
        #expect(schedule.drills.first?.finished?.passed == true && schedule.drills.first?.notified != nil)
        #expect(try rig.h.log.fold(run)?.status == .rolledBack)
    }

    @Test func readinessOnlyKeepsTheChecksAndRefusesWhatDependsOnDroppedSteps() throws {
        let h = try Harness()
        let wf = try h.workflow("""
            {"name": "failover", "steps": [
              {"id": "health", "type": "sim.check", "with": {"key": "health", "equals": "ok"}},
              {"id": "go", "type": "approval"},
              {"id": "scale", "type": "sim.set", "with": {"key": "capacity", "value": "4"}},
              {"id": "writes", "type": "sim.pivot", "with": {"key": "writes", "value": "dr"}},
              {"id": "settle", "type": "wait", "with": {"duration": "1s"}},
              {"id": "lag", "type": "sim.check", "with": {"key": "writes"}}
            ]}
            """)
        let kinds = { (s: WorkflowStep) in h.registry[s.type]?.kind(with: s.with) }
        let readiness = try wf.readinessOnly(kindOf: kinds, file: "workflows/failover.json")
        #expect(readiness.steps.map(\.id) == ["health", "lag"])
        #expect(readiness.source["steps"]?.arrayValue?.count == 2)
        #expect(readiness.name == "failover (readiness)")

        let dependent = try h.workflow("""
            {"name": "dep", "steps": [
              {"id": "scale", "type": "sim.set", "with": {"key": "capacity", "value": "4"}},
              {"id": "check", "type": "sim.check", "with": {"key": "${steps.scale.output.key}"}}
            ]}
            """)
        let refused = #expect(throws: ValidationFailure.self) { try dependent.readinessOnly(kindOf: kinds, file: "workflows/dep.json") }
        #expect(refused?.issues.first?.path == "steps[1].with")
        #expect(refused?.issues.first?.message.contains("reads the output of scale") == true)
        let none = try h.workflow(#"{"name": "none", "steps": [{"id": "s", "type": "sim.set", "with": {"key": "a", "value": "b"}}]}"#)
        #expect(throws: ValidationFailure.self) { try none.readinessOnly(kindOf: kinds, file: "workflows/none.json") }
    }

    @Test func aReadinessRunChecksAndChangesNothing() async throws {
        let rig = try SchedulerRig()
        rig.h.clock.set(Self.start)
        try rig.add("weekly", cron: "0 2 * * *", mode: .readiness)
        let h = rig.h
        let wf = try h.workflow("""
            {"name": "failover", "steps": [
              {"id": "health", "type": "sim.check", "with": {"key": "health", "equals": "ok"}},
              {"id": "dns", "type": "sim.set", "with": {"key": "dns", "value": "dr"}}
            ]}
            """).readinessOnly(kindOf: { h.registry[$0.type]?.kind(with: $0.with) }, file: "w")
        var request = h.request(wf, mode: .readiness)
        request.schedule = ScheduledFiring(name: "weekly", dueAtMillis: 0)
        let run = try h.engine().start(request)
        let state = try await h.engine().drive(run)
        #expect(state.status == .succeeded)
        #expect(h.world.effects.isEmpty)
        #expect(state.plan?.steps.map(\.id) == ["health"])
    }

    @Test func aScheduleStreamThatBreaksItsRulesIsFoundByTheAuditor() throws {
        let rig = try rig()
        // A run recorded as started for a firing never recorded as due.
        try rig.h.signal(ScheduleStream.id("daily"), .drillStarted(DrillStarted(dueAtMillis: 5, run: "run-x")), by: "someone")
        let (report, _) = try Auditor.verify(rig.h.log, key: nil)
        #expect(report.findings.first?.kind == .illegalState)
        #expect(report.findings.first?.message.contains("not recorded as due first") == true)
        #expect(throws: FoldError.self) { try rig.h.log.schedule("daily") }
    }
}
