import CutoverAudit
import CutoverCore
import Foundation

/// How a run is shown when a command ends and in `cutover status`.
enum Summary {
    /// The run's summary object (`status --json`, the last line of `start --json`).
    static func json(_ s: RunState, changes: [StepChange] = []) -> JSONValue {
        let plan = s.plan
        var o: [String: JSONValue] = [
            "kind": .string("summary"),
            "run": .string(s.runID), "state": .string(s.status.rawValue), "verdict": .string(s.verdict.text),
            "workflowDigest": .string(plan?.workflowDigest ?? ""), "runbookDigest": .string(plan?.runbookDigest ?? ""),
            "startedAtMillis": .int(s.startedAtMillis ?? 0),
            "changes": .array(changes.map(\.json)),
            "mode": .string(plan?.mode.rawValue ?? ""), "workflow": .string(plan?.workflow ?? ""),
            "service": .string(plan?.scope ?? ""), "startedBy": .string(plan?.startedBy ?? ""),
            "startedAt": .string(iso(s.startedAtMillis)), "durationMillis": .int((s.lastEventMillis ?? 0) - (s.startedAtMillis ?? 0)),
            "steps": .array(s.orderedSteps.map { step in
                var o: [String: JSONValue] = [
                    "id": .string(step.id), "type": .string(s.planned(step.id)?.type ?? ""), "state": .string(step.phase.rawValue),
                    "attempts": .int(Int64(step.attempts)), "compensation": .string(step.compensation.rawValue),
                ]
                if let e = step.lastError, step.phase != .succeeded { o["error"] = .string(e.message) }
                if let g = s.planned(step.id)?.group { o["group"] = .string(g) }
                if let f = step.firstStartedMillis, let e = step.finishedMillis { o["durationMillis"] = .int(e - f) }
                return .object(o)
            }),
        ]
        if let report = DrillReport(s), report.rtoMillis != nil || report.rpoMillis != nil { o["report"] = report.json }
        if let planned = s.outcome?.planned { o["planned"] = .bool(planned) }
        if let parent = plan?.parent { o["parent"] = .object(["run": .string(parent.run), "step": .string(parent.step)]) }
        if let reason = s.outcome?.reason { o["reason"] = .string(reason) }
        if let a = s.attention { o["attention"] = .object(["reason": .string(a.reason), "decision": .string(a.decision)]) }
        if s.status == .waitingApproval, let step = s.orderedSteps.first(where: { $0.phase == .running && $0.approvalRequest != nil }) {
            o["waitingFor"] = .object([
                "step": .string(step.id), "required": .int(Int64(step.approvalRequest!.required)),
                "approvedBy": .array(s.countedApprovers(step.id).map(JSONValue.string)),
            ])
        }
        return .object(o)
    }

    static func print(_ s: RunState, _ ctx: Context, json: Bool, view: RunView? = nil) {
        if json {
            ctx.console.json(Self.json(s, changes: s.changes(ctx.registry)))
            return
        }
        let c = ctx.console
        let took = DurationText.format(.milliseconds((s.lastEventMillis ?? 0) - (s.startedAtMillis ?? 0)))
        let drill = s.plan?.mode == .drill
        switch s.status {
        case .succeeded:
            c.out(c.paint("✓ succeeded", .green) + " in \(took)")
        case .rolledBack where s.outcome?.planned == true:
            c.out(c.paint("✓ drill passed and rolled back as planned", .green) + " in \(took)")
        case .rolledBack:
            c.out(c.paint(drill ? "✗ drill failed; rolled back" : "✗ failed; rolled back", .red) + " in \(took): \(s.outcome?.reason ?? s.rollback?.reason ?? "")")
        case .failed:
            c.out(c.paint("✗ failed", .red) + ": \(s.outcome?.reason ?? "")")
        case .aborted:
            c.out(c.paint("✗ aborted", .red) + ": \(s.outcome?.reason ?? ""); what had changed was restored")
        case .needsAttention:
            c.out(c.paint("! needs attention", .yellow) + ": \(s.attention?.reason ?? "")")
            c.out("  Decide: \(s.attention?.decision ?? "")")
        case .waitingApproval where view?.verdict.text == "approved":
            c.out(c.paint("✓ approved", .green) + " by \(view?.approvals?.counted.map { TerminalText.escaped($0) }.joined(separator: ", ") ?? ""): `cutover resume \(s.runID)` carries it on")
        case .waitingApproval:
            c.out(c.paint("⏸ waiting for approval", .yellow) + ": `cutover approve \(s.runID)` (as an approver of the runbook), then `cutover resume \(s.runID)`")
        case .paused:
            c.out(c.paint("⏸ paused", .yellow) + ": `cutover resume \(s.runID)` carries on")
        case .running where view?.stalled == true, .compensating where view?.stalled == true:
            c.out(c.paint("! stalled", .red) + ": no process drives this run; `cutover resume \(s.runID)` carries it on from where it stopped")
        case .running, .compensating:
            c.out("\(s.status.rawValue)\(view?.driver.map { " (driven by \(TerminalText.escaped($0)))" } ?? ""): `cutover watch \(s.runID)` follows it")
        }
        if let report = DrillReport(s), report.rtoMillis != nil || (s.status.isTerminal && report.rpoMillis != nil) {
            for line in report.lines {
                let failed = line.contains(": FAIL")
                c.out("  " + (failed ? c.paint(line, .red) : line))
            }
        }
        printChanges(s.changes(ctx.registry), c)
        if let parent = s.plan?.parent {
            c.out(c.paint("  child run of \(TerminalText.escaped(parent.run)), step \(TerminalText.escaped(parent.step)): rolled back with its parent", .dim))
        }
        c.out(c.paint("  run \(s.runID) · history: cutover history \(s.runID)", .dim))
    }

    /// What the run changed, each step's before → after.
    static func printChanges(_ changes: [StepChange], _ c: Console) {
        guard !changes.isEmpty else { return }
        c.out("")
        c.out("Changes:")
        for ch in changes {
            c.out("  \(TerminalText.escaped(ch.step)): \(TerminalText.escaped(ch.text))" + (ch.undone ? c.paint(" (undone)", .dim) : ""))
        }
    }

    static func iso(_ millis: Int64?) -> String { millis.map(TimeText.rfc3339) ?? "" }
}
