import CutoverCore
import CutoverEngine
import CutoverStore
import Foundation
import Testing
import TestSupport

/// An evaluator whose answers a test gives, one per look, the last one repeated.
final class ScriptedRules: SafetyEvaluating, @unchecked Sendable {
    // @unchecked: `answers` and `asked` are only touched under `lock`.
    private let lock = NSLock()
    private var answers: [Bool]
    private(set) var asked = 0

    init(_ answers: [Bool]) { self.answers = answers }

    func set(_ answers: [Bool]) { lock.withLock { self.answers = answers } }

    func evaluate(_ rule: SafetyRule, before step: PlannedStep, runbook: JSONValue, run: RunState, context: any StepContext, nowMillis: Int64) async -> SafetyFinding {
        lock.withLock {
            asked += 1
            let held = answers.count > 1 ? answers.removeFirst() : answers[0]
            return SafetyFinding(held: held, detail: held ? "DR serves" : "nobody serves")
        }
    }
}

@Suite struct SafetyRuleTests {
    static let workflow = """
        {"name": "w", "steps": [
          {"id": "health", "type": "sim.check", "with": {"key": "health", "equals": "ok"}},
          {"id": "dns", "type": "sim.set", "with": {"key": "dns", "value": "dr"}}
        ]}
        """

    func runbook(_ h: Harness, onFail: String, approvers: String = #"["alice", "bob"]"#) throws -> Runbook {
        let json = """
            {"service": "sim-service", "primary": {"endpoint": "http://primary"}, "dr": {"endpoint": "http://dr", "capacity": "4"},
             "thresholds": {"rto": "15m", "rpo": "30s"}, "approvers": \(approvers),
             "safety": [{"id": "serving", "rule": "resolves-to-serving", "before": ["sim.set"], "onFail": \(onFail)}]}
            """
        return try Runbook.load(file: "runbooks/sim.json", data: Data(json.utf8), providers: h.registry.providers)
    }

    func engine(_ h: Harness, _ rules: ScriptedRules, owner: String = "test:1") -> Engine {
        let base = h.engine(owner: owner)
        var configuration = base.configuration
        configuration.safety = rules
        return Engine(store: base.store, registry: base.registry, clock: base.clock, ids: base.ids, configuration: configuration)
    }

    func start(_ h: Harness, _ e: Engine, onFail: String, approvers: String = #"["alice", "bob"]"#) throws -> String {
        let rb = try runbook(h, onFail: onFail, approvers: approvers)
        let wf = try Workflow.load(file: "workflows/w.json", data: Data(Self.workflow.utf8), registry: h.registry, runbook: rb)
        return try e.start(Engine.StartRequest(workflow: wf, runbook: rb, mode: .live, startedBy: "oncall", workflowDigest: "t", runbookDigest: "t"))
    }

    func checks(_ h: Harness, _ run: String) throws -> [SafetyChecked] {
        try h.events(run).compactMap { if case .safetyChecked(let c) = $0.body { c } else { nil } }
    }

    @Test func aRuleThatWaitsIsLookedAtAgainUntilItHoldsAndOnlyThenTheStepStarts() async throws {
        let h = try Harness()
        let rules = ScriptedRules([false, false, true])
        let e = engine(h, rules)
        let run = try start(h, e, onFail: #"{"wait": "30s", "upTo": "10m"}"#)
        #expect(try e.state(of: run).plan?.steps.map { $0.safety ?? [] } == [[], ["serving"]], "only the mutating step of the guarded type")
        let state = try await e.drive(run)
        #expect(state.status == .succeeded)
        #expect(h.world["dns"] == "dr")
        let found = try checks(h, run)
        #expect(found.map(\.held) == [false, false, true])
        #expect(found.allSatisfy { $0.step == "dns" && $0.rule == "serving" })
        // Each look that failed set the next one 30 s on; the step started with the look that held.
        let events = try h.events(run)
        let looks = events.filter { $0.type == "SafetyChecked" }.map(\.atMillis)
        #expect(looks[1] - looks[0] == 30_000 && looks[2] - looks[1] == 30_000)
        let held = try #require(events.firstIndex { if case .safetyChecked(let c) = $0.body { c.held } else { false } })
        #expect(events[held + 1].type == "StepStarted" && events[held + 1].body.stepID == "dns")
        #expect(!events[..<held].contains { $0.type == "StepStarted" && $0.body.stepID == "dns" }, "nothing of the step before its rule held")
    }

    @Test func aRuleThatStopsWaitsForAPersonAndOnlyAnApproversOverrideCarriesOn() async throws {
        let h = try Harness()
        let rules = ScriptedRules([false])
        let e = engine(h, rules)
        let run = try start(h, e, onFail: #""stop""#)
        let stopped = try await e.drive(run)
        #expect(stopped.status == .needsAttention)
        #expect(stopped.attention?.reason == "safety rule serving does not hold before step dns: nobody serves")
        #expect(stopped.attention?.decision.contains("cutover override \(run) dns serving") == true)
        #expect(h.world["dns"] == "primary", "nothing changed")
        // The starter of a live run cannot override; neither can someone who writes in another's name.
        try h.signal(run, .safetyOverridden(SafetyOverridden(step: "dns", rule: "serving", by: "oncall", reason: "trust me")), by: "oncall")
        try h.signal(run, .safetyOverridden(SafetyOverridden(step: "dns", rule: "serving", by: "alice", reason: "forged")), by: "mallory")
        let still = try e.state(of: run)
        #expect(still.steps["dns"]?.overrides.isEmpty == true)
        #expect(try await e.drive(run).status == .needsAttention)
        // Alice, an approver, overrides: the run carries on; the rule is still looked at and logged.
        try h.signal(run, .safetyOverridden(SafetyOverridden(step: "dns", rule: "serving", by: "alice", reason: "DR verified by hand")), by: "alice")
        let state = try await e.drive(run)
        #expect(state.status == .succeeded)
        #expect(h.world["dns"] == "dr")
        let last = try #require(try checks(h, run).last)
        #expect(last.held == false && last.overriddenBy == "alice")
        #expect(try h.log.verifyChain().intact)
    }

    @Test func aWaitThatRunsOutStopsForAPersonAndAResumeLooksAgain() async throws {
        let h = try Harness()
        let rules = ScriptedRules([false])
        let e = engine(h, rules)
        let run = try start(h, e, onFail: #"{"wait": "1m", "upTo": "3m"}"#)
        let stopped = try await e.drive(run)
        #expect(stopped.status == .needsAttention)
        #expect(stopped.attention?.reason.contains("still so after 3m") == true, "\(stopped.attention?.reason ?? "")")
        #expect(try checks(h, run).count == 4, "looked at, then again at 1, 2 and 3 minutes")
        rules.set([true])
        try h.signal(run, .resumeRequested(Signal(reason: "DR fixed")), by: "bob")
        let state = try await e.drive(run)
        #expect(state.status == .succeeded)
        #expect(try checks(h, run).last?.held == true)
    }

    @Test func withoutAnEvaluatorAGuardedStepStopsRatherThanGoUnchecked() async throws {
        let h = try Harness()
        let e = h.engine()
        let run = try start(h, e, onFail: #"{"wait": "1m", "upTo": "3m"}"#)
        let state = try await e.drive(run)
        #expect(state.status == .needsAttention)
        #expect(state.attention?.reason.contains("cannot evaluate safety rule serving") == true)
        #expect(h.world["dns"] == "primary")
    }

    @Test func aGroupMemberWhoseRuleWaitsStartsLaterWhileItsSiblingGoesOn() async throws {
        let h = try Harness(world: ["a": "0", "b": "0", "health": "ok"])
        let rules = ScriptedRules([false, true, true])
        let e = engine(h, rules)
        let rb = try runbook(h, onFail: #"{"wait": "30s", "upTo": "10m"}"#)
        let json = """
            {"name": "g", "steps": [{"id": "both", "parallel": [
              {"id": "a", "type": "sim.set", "with": {"key": "a", "value": "1"}},
              {"id": "b", "type": "sim.set", "with": {"key": "b", "value": "1"}}
            ]}]}
            """
        let wf = try Workflow.load(file: "workflows/g.json", data: Data(json.utf8), registry: h.registry, runbook: rb)
        let run = try e.start(Engine.StartRequest(workflow: wf, runbook: rb, mode: .live, startedBy: "oncall", workflowDigest: "t", runbookDigest: "t"))
        let state = try await e.drive(run)
        #expect(state.status == .succeeded)
        #expect(h.world["a"] == "1" && h.world["b"] == "1")
        let events = try h.events(run)
        let order = events.compactMap { e -> String? in
            switch e.body {
            case .safetyChecked(let c): "\(c.step):\(c.held)"
            case .stepStarted(let p): "start:\(p.step)"
            default: nil
            }
        }
        #expect(order == ["a:false", "b:true", "start:b", "a:true", "start:a"], "\(order)")
    }

    @Test func anOverrideLetsOneAttemptStartAndTheNextIsLookedAtOnItsOwn() async throws {
        let h = try Harness()
        h.world.failExecute("dns", with: [StepError(code: "busy", message: "zone busy", retryable: true)])
        let rules = ScriptedRules([false])
        let e = engine(h, rules)
        let run = try start(h, e, onFail: #""stop""#)
        #expect(try await e.drive(run).status == .needsAttention)
        try h.signal(run, .safetyOverridden(SafetyOverridden(step: "dns", rule: "serving", by: "alice", reason: "DR checked by hand")), by: "alice")
        // The overridden attempt starts and fails; its retry meets the rule again, unanswered.
        let state = try await e.drive(run)
        #expect(state.status == .needsAttention, "\(state.status)")
        #expect(state.steps["dns"]?.attempts == 1)
        #expect(state.attention?.reason.contains("safety rule serving does not hold") == true)
        #expect(try checks(h, run).map { $0.overriddenBy ?? "-" } == ["-", "alice", "-"])
        #expect(h.world["dns"] == "primary")
    }

    @Test func whereApproversSignAnUnsignedOverrideDoesNotCount() async throws {
        let h = try Harness()
        let rules = ScriptedRules([false])
        let e = engine(h, rules)
        let key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIDw13dm3pRGf70Fco4jTwvhoeBmsSdFWHfgW/f33y3kL"
        let run = try start(h, e, onFail: #""stop""#, approvers: #"[{"name": "alice", "key": "\#(key)"}, "bob"]"#)
        #expect(try await e.drive(run).status == .needsAttention)
        let o = SafetyOverridden(step: "dns", rule: "serving", by: "bob", reason: "no key needed?")
        try h.signal(run, .safetyOverridden(o), by: "bob")
        let state = try e.state(of: run)
        #expect(state.overrideProblem(o, actor: "bob")?.contains("sign their approvals") == true)
        #expect(state.steps["dns"]?.overrides.isEmpty == true)
        #expect(!state.awaitsDriver, "nothing for a worker to take up")
        #expect(try await e.drive(run).status == .needsAttention)
    }

    @Test func aRunbookWithABadRuleIsRefusedByPath() throws {
        let h = try Harness()
        let json = """
            {"service": "s", "primary": {}, "dr": {},
             "safety": [{"id": "a", "rule": "vibes"}, {"id": "b", "rule": "change-rate", "max": -1, "onFail": {"wait": "1m"}}, {"id": "b", "rule": "replica-lag"}]}
            """
        #expect {
            try Runbook.load(file: "runbooks/bad.json", data: Data(json.utf8), providers: h.registry.providers)
        } throws: { error in
            let text = "\(error)"
            return text.contains("runbooks/bad.json") && text.contains("safety[0].rule") && text.contains("safety[1].within")
                && text.contains("safety[1].max") && text.contains("safety[1].onFail") && text.contains("safety[2].id") && text.contains("safety[2].replica")
        }
        // A rule guarding a type this build lacks is named when the workflow loads with it.
        let rb = try Runbook.load(
            file: "runbooks/typo.json", data: Data(#"{"service": "s", "primary": {}, "dr": {}, "safety": [{"id": "a", "rule": "change-rate", "max": 1, "within": "1h", "before": ["dns.swtich"]}]}"#.utf8),
            providers: h.registry.providers)
        #expect {
            try Workflow.load(file: "workflows/w.json", data: Data(Self.workflow.utf8), registry: h.registry, runbook: rb)
        } throws: { "\($0)".contains("runbooks/typo.json: safety[0].before[0]: rule a guards step type \"dns.swtich\"") }
    }
}
