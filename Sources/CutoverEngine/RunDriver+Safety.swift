import CutoverCore
import Foundation

extension RunDriver {
    /// The rules guarding the next attempt of `id`, looked at now: the `SafetyChecked` of each,
    /// and whether the step may start. A rule that does not hold waits (a durable time to look
    /// again) or stops the step for a person, unless an approver overrode it for this step.
    /// The checks go into the log with the step's start when all clear, so the step costs no
    /// commit of its own for them.
    func safetyChecks(_ id: String, attempt: Int) async -> (bodies: [EventBody], clear: Bool) {
        guard let planned = state.planned(id), let ids = planned.safety, !ids.isEmpty, let plan = state.plan else { return ([], true) }
        let rules = SafetyRule.rules(inRunbook: plan.runbookSnapshot.value)
        var bodies: [EventBody] = []
        var clear = true
        for ruleID in ids {
            let now = nowMillis
            let finding: SafetyFinding
            if let rule = rules.first(where: { $0.id == ruleID }), let evaluator = config.safety {
                // Secrets of the targets the rule reads, as a step's are read before it runs.
                try? await vault.fetch(referencesIn: rule.targets(in: plan.runbookSnapshot.value))
                finding = await evaluator.evaluate(rule, before: planned, runbook: plan.runbookSnapshot.value, run: state, context: context(id, attempt: attempt), nowMillis: now)
            } else {
                finding = SafetyFinding(held: false, detail: "this process cannot evaluate safety rule \(ruleID) (no evaluator, or the runbook snapshot lacks it)")
            }
            let detail = vault.redact(finding.detail)
            let record = state.steps[id]
            if finding.held {
                bodies.append(.safetyChecked(SafetyChecked(step: id, rule: ruleID, held: true, detail: detail)))
            } else if let by = record?.overrides[ruleID] {
                bodies.append(.safetyChecked(SafetyChecked(step: id, rule: ruleID, held: false, detail: detail, overriddenBy: by)))
            } else {
                clear = false
                let rule = rules.first { $0.id == ruleID }
                switch rule?.onFail ?? .stop {
                case .stop:
                    bodies.append(.safetyChecked(SafetyChecked(step: id, rule: ruleID, held: false, detail: detail, stops: true)))
                case .wait(let every, let upTo):
                    let since = record?.safetyFailingSince[ruleID] ?? now
                    if now + every.milliseconds > since + upTo.milliseconds {
                        let waited = DurationText.format(.milliseconds(now - since))
                        bodies.append(.safetyChecked(SafetyChecked(
                            step: id, rule: ruleID, held: false, detail: "\(detail) (still so after \(waited) of looking again every \(DurationText.format(every)))", stops: true)))
                    } else {
                        bodies.append(.safetyChecked(SafetyChecked(step: id, rule: ruleID, held: false, detail: detail, recheckAtMillis: now + every.milliseconds)))
                    }
                }
            }
        }
        return (bodies, clear)
    }

    /// Whether a change-rate rule guards `id`.
    func countsChanges(_ id: String) -> Bool {
        guard let ids = state.planned(id)?.safety, let plan = state.plan else { return false }
        return SafetyRule.rules(inRunbook: plan.runbookSnapshot.value).contains { ids.contains($0.id) && $0.kind == .changeRate }
    }
}
