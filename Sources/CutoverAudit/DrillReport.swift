import CutoverCore
import Foundation

/// What a failover or drill measured against the runbook's targets: RTO (start to the monitor
/// passing, or to writes enabled and DNS switched, as the runbook's `thresholds.rtoUntil`
/// says) and RPO (the replication lag the DR replica had when it was promoted).
public struct DrillReport: Sendable {
    public var run: String
    public var workflow: String
    public var service: String
    public var mode: String
    public var state: String
    /// The state as people read it: a drill that rolled back as planned passed.
    public var verdict: RunVerdict
    public var workflowDigest: String
    public var runbookDigest: String
    public var startedBy: String
    /// Who approved each approval step, in order.
    public var approvers: [String]
    public var startedAtMillis: Int64
    public var plannedRollback: Bool
    public var rtoMillis: Int64?
    public var approvalMillis: Int64
    public var rtoUntil: String
    public var rtoTargetMillis: Int64?
    public var rpoMillis: Int64?
    public var rpoBasis: String?
    public var rpoTargetMillis: Int64?
    /// Promotions a drill proved possible instead of making (they could not be undone).
    public var rehearsed: [String] = []

    /// RTO is judged without the time spent waiting for approvers, who are people, not the system.
    public var rtoPass: Bool? {
        guard let rto = rtoMillis, let target = rtoTargetMillis else { return nil }
        return rto - approvalMillis <= target
    }

    public var rpoPass: Bool? {
        guard let rpo = rpoMillis, let target = rpoTargetMillis else { return nil }
        return rpo <= target
    }

    public init?(_ s: RunState) {
        guard let plan = s.plan, let start = s.startedAtMillis else { return nil }
        run = s.runID
        workflow = plan.workflow
        service = plan.scope
        mode = plan.mode.rawValue
        state = s.status.rawValue
        verdict = s.verdict
        workflowDigest = plan.workflowDigest
        runbookDigest = plan.runbookDigest
        startedBy = plan.startedBy
        // The steps of the few types the report reads, in plan order, looked up by type in
        // the plan (a plan may hold thousands of steps; their records are not copied).
        func done(_ type: String) -> [StepRecord] {
            plan.steps.compactMap { $0.type == type ? s.steps[$0.id].flatMap { $0.phase == .succeeded ? $0 : nil } : nil }
        }
        approvers = plan.steps.filter { s.steps[$0.id]?.approvalRequest != nil }.flatMap { s.countedApprovers($0.id) }
        startedAtMillis = start
        plannedRollback = s.outcome?.planned == true
        let thresholds = plan.runbookSnapshot["thresholds"]
        rtoTargetMillis = thresholds?["rto"]?.stringValue.flatMap(DurationText.parse)?.milliseconds
        rpoTargetMillis = thresholds?["rpo"]?.stringValue.flatMap(DurationText.parse)?.milliseconds
        let until = thresholds?["rtoUntil"]?.stringValue ?? "monitor"
        let promotions = done("writes.enable")
        var end: StepRecord?
        if until == "dns" {
            // Writes enabled and DNS switched: the later of the two.
            if let w = promotions.last, let d = done("dns.switch").last { end = (w.finishedMillis ?? 0) > (d.finishedMillis ?? 0) ? w : d }
            rtoUntil = "writes enabled and DNS switched"
        } else {
            end = done("cutover.monitor").last
            rtoUntil = "the cutover monitor passed"
        }
        if let end, let finished = end.finishedMillis {
            rtoMillis = finished - start
            approvalMillis = done("approval").filter { ($0.finishedMillis ?? 0) <= finished }
                .reduce(0) { $0 + (($1.finishedMillis ?? 0) - ($1.firstStartedMillis ?? 0)) }
        } else {
            approvalMillis = 0
        }
        // RPO: what the DR replica had not received when it was promoted (a promotion made, if
        // any; else one a drill rehearsed).
        let made = promotions.last { $0.output?["rehearsed"]?.boolValue != true }
        if let w = made ?? promotions.last, let out = w.output {
            let when = made == nil ? "when its promotion was rehearsed" : "at promotion"
            let behind = out["offsetBehind"]?.intValue
            let silent = out["secondsSinceMasterIO"]?.intValue
            if behind == 0 {
                rpoMillis = 0
                rpoBasis = "the replica had every byte of the primary's stream \(when)"
            } else if let silent {
                rpoMillis = silent * 1_000
                rpoBasis = "the replica had last heard from the primary \(silent)s before \(made == nil ? "its rehearsed promotion" : "promotion")" + (behind.map { " and was \($0) bytes behind" } ?? "")
            }
        }
        rehearsed = promotions.filter { $0.output?["rehearsed"]?.boolValue == true }
            .map { $0.output?["replica"]?.stringValue ?? $0.id }
        if rpoMillis == nil, let check = done("replication.check").last, let lag = check.output?["lagMillis"]?.intValue {
            rpoMillis = lag
            rpoBasis = "replication lag measured by \(check.id) (no promotion in this run)"
        }
    }

    public var json: JSONValue {
        var o: [String: JSONValue] = [
            "run": .string(run), "workflow": .string(workflow), "service": .string(service), "mode": .string(mode),
            "kind": .string("report"),
            "state": .string(state), "verdict": .string(verdict.text), "startedAt": .string(TimeText.rfc3339(startedAtMillis)),
            "startedAtMillis": .int(startedAtMillis), "plannedRollback": .bool(plannedRollback),
            "workflowDigest": .string(workflowDigest), "runbookDigest": .string(runbookDigest), "startedBy": .string(startedBy),
            "approvers": .array(approvers.map { .string($0) }),
            "rtoUntil": .string(rtoUntil), "approvalMillis": .int(approvalMillis),
        ]
        if let v = rtoMillis { o["rtoMillis"] = .int(v) }
        if let v = rtoTargetMillis { o["rtoTargetMillis"] = .int(v) }
        if let v = rtoPass { o["rtoPass"] = .bool(v) }
        if let v = rpoMillis { o["rpoMillis"] = .int(v) }
        if let v = rpoBasis { o["rpoBasis"] = .string(v) }
        if let v = rpoTargetMillis { o["rpoTargetMillis"] = .int(v) }
        if let v = rpoPass { o["rpoPass"] = .bool(v) }
        if !rehearsed.isEmpty { o["rehearsed"] = .array(rehearsed.map { .string($0) }) }
        return .object(o)
    }

    static func fmt(_ ms: Int64) -> String { DurationText.format(.milliseconds(ms)) }

    /// Two lines for the terminal.
    public var lines: [String] {
        var out: [String] = []
        if let rto = rtoMillis {
            var l = "RTO \(Self.fmt(rto - approvalMillis))"
            if approvalMillis > 0 { l += " (+\(Self.fmt(approvalMillis)) waiting for approval)" }
            l += ", until \(rtoUntil)"
            if let t = rtoTargetMillis { l += "; target \(Self.fmt(t)): \(rtoPass == true ? "PASS" : "FAIL")" }
            out.append(l)
        } else {
            out.append("RTO not measured: \(rtoUntil.hasPrefix("writes") ? "writes were not enabled and DNS not switched" : "no cutover monitor passed") in this run")
        }
        if let rpo = rpoMillis {
            var l = "RPO \(Self.fmt(rpo)): \(rpoBasis ?? "")"
            if let t = rpoTargetMillis { l += "; target \(Self.fmt(t)): \(rpoPass == true ? "PASS" : "FAIL")" }
            out.append(l)
        } else {
            out.append("RPO not measured: no promotion or replication check in this run")
        }
        for r in rehearsed {
            out.append("Promotion of \(TerminalText.escaped(r)) rehearsed, not made: it was proved possible (streaming, replaying, privileged), and cannot be undone without rebuilding the replica")
        }
        return out
    }
}
