import CutoverCore
import CutoverStore

/// Every approval in the log, proven again offline: a signed one by the key its request
/// listed, over the run, the step and the request's hash; an unsigned one appended by the
/// approver itself (or, for a drill, a schedule's standing approval). `approve` refuses any
/// other, so one found here was written around it.
public enum ApprovalAudit {
    public static func findings(_ states: [String: RunState], requestHash: @escaping (Int64) -> String?) -> [Finding] {
        let proof = ApprovalProof(requestHash: requestHash, signatures: SSHApprovalSignatures())
        var found: [Finding] = []
        for state in states.values {
            for record in state.orderedSteps {
                for grant in record.grants {
                    if let why = state.unproven(grant, of: record, proof: proof) {
                        found.append(Finding(
                            kind: .unprovenApproval, seq: grant.seq,
                            message: "the approval of step \(record.id) of run \(state.runID) in the name of \(grant.by) (appended by \(grant.actor)) is not proven: \(why)"))
                    }
                }
            }
        }
        return found.sorted { ($0.seq ?? 0) < ($1.seq ?? 0) }
    }
}
