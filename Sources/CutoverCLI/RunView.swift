import CutoverCore
import CutoverStore
import Foundation

/// A run as `status`, `list` and `watch` show it: its verdict, who drives it, and what a
/// person does next. A run that should be moving with no live process driving it is
/// `stalled`; an approval step shows the approvals counted against those required; a pause
/// asked for but not yet in force is said.
struct RunView {
    let state: RunState
    let verdict: RunVerdict
    /// The process driving the run now, when one holds a live lease.
    let driver: String?
    let stalled: Bool
    /// The approval step waited on: approvals counted, required, and who may still approve.
    let approvals: (step: String, counted: [String], required: Int, others: [String])?
    /// Lines worth a person's attention beside the state (a pause requested, a stall).
    let notes: [String]
    /// The command that carries the run on, when a person must type one.
    let next: String?

    init(_ state: RunState, store: any EventStore, now: Date = Date()) throws {
        self.state = state
        let run = state.runID
        let holder = try store.leaseHolder(run: run)
        let live = holder.flatMap { $0.expires > now && !ProcessIdentity.isGone($0.owner) ? $0.owner : nil }
        driver = live
        var verdict = state.verdict
        var notes: [String] = []
        var next: String?
        var approvals: (String, [String], Int, [String])?
        if let step = state.orderedSteps.first(where: { $0.phase == .running && $0.approvalRequest != nil }), let request = step.approvalRequest,
            state.status == .waitingApproval
        {
            let counted = state.countedApprovers(step.id, proof: ApprovalProof(log: store, signatures: SSHApprovalSignatures()))
            let others = request.approvers.filter { !counted.contains($0) && !request.excluded.contains($0) }
            approvals = (step.id, counted, request.required, others)
        }
        self.approvals = approvals
        switch state.status {
        case .running where live == nil, .compensating where live == nil:
            verdict = RunVerdict("stalled", .bad)
            notes.append("no process drives this run: the one that did stopped (\(holder.map { "last held by \($0.owner)" } ?? "no lease left"))")
            next = "cutover resume \(run)"
        case .waitingApproval:
            if let (_, counted, required, _) = approvals {
                if counted.count >= required {
                    verdict = RunVerdict(live == nil ? "approved" : "running", live == nil ? .waiting : .busy)
                    if live == nil { next = "cutover resume \(run)" }
                } else {
                    verdict = RunVerdict("waiting-approval (\(counted.count) of \(required))", .waiting)
                    let signed = state.orderedSteps.first { $0.phase == .running && $0.approvalRequest != nil }?.approvalRequest?.keys?.isEmpty == false
                    next = "cutover approve \(run)" + (signed ? " --key FILE" : "")
                }
            }
        case .paused:
            next = "cutover resume \(run)"
        case .needsAttention:
            next = state.attention?.decision
        default:
            break
        }
        if let by = state.pauseRequest, state.status != .paused, !state.status.isTerminal {
            notes.append("pause requested by \(by): it takes effect at the next step boundary or wait")
        }
        self.verdict = verdict
        self.stalled = verdict.text == "stalled"
        self.notes = notes
        self.next = next
    }

    /// The fields `status --json` adds to the summary.
    var json: [String: JSONValue] {
        var o: [String: JSONValue] = ["verdict": .string(verdict.text), "stalled": .bool(stalled), "driver": driver.map(JSONValue.string) ?? .null]
        if let next { o["next"] = .string(next) }
        if !notes.isEmpty { o["notes"] = .array(notes.map(JSONValue.string)) }
        if let a = approvals {
            o["approvals"] = .object([
                "step": .string(a.step), "required": .int(Int64(a.required)), "approvedBy": .array(a.counted.map(JSONValue.string)),
                "mayApprove": .array(a.others.map(JSONValue.string)),
            ])
        }
        return o
    }

    static func tone(_ t: RunVerdict.Tone) -> Console.Tone {
        switch t {
        case .good: .green
        case .bad: .red
        case .waiting: .yellow
        case .busy: .cyan
        }
    }
}
