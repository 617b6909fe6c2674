import CutoverAudit
import CutoverCore
import Foundation

/// A scheduled run's result as the channel hears it: whether it passed, RTO and RPO against
/// the runbook's targets, and where the HTML report is. Renders Slack-style and PagerDuty
/// Events v2 payloads; secrets (the routing key) are handed in, never kept.
public struct DrillNotice: Sendable {
    public let run: String
    public let schedule: String
    public let service: String
    public let mode: RunMode
    public let status: RunStatus
    public let report: DrillReport?
    public let reportPath: String?
    /// The runbook's `notify` settings as snapshotted into the run.
    public let notify: JSONValue?
    public var finished: DrillFinished

    public init(state: RunState, schedule: String, report reportPath: String?) {
        run = state.runID
        self.schedule = schedule
        service = state.plan?.scope ?? "?"
        mode = state.plan?.mode ?? .drill
        status = state.status
        report = DrillReport(state)
        self.reportPath = reportPath
        notify = state.plan?.runbookSnapshot["notify"]
        let r = report
        let verdictsPass = r?.rtoPass != false && r?.rpoPass != false
        let passed: Bool
        var parts: [String] = []
        switch mode {
        case .readiness:
            passed = status == .succeeded && r?.rpoPass != false
            let checks = state.orderedSteps.filter { $0.phase == .succeeded }.count
            parts.append(status == .succeeded ? "ready: \(checks) check(s) passed" : "NOT ready: \(status.rawValue)")
        default:
            passed = status == .rolledBack && state.outcome?.planned == true && verdictsPass
            parts.append(status == .rolledBack && state.outcome?.planned == true ? "failed over and back as planned" : "\(status.rawValue)")
        }
        if let failed = state.orderedSteps.first(where: { $0.phase == .failed }), let e = failed.lastError {
            parts.append("step \(failed.id) failed: \(e.message)")
        } else if let reason = state.outcome?.reason ?? state.attention?.reason, !passed {
            parts.append(reason)
        }
        if mode != .readiness, let r { parts.append(Self.measure("RTO", r.rtoMillis.map { $0 - r.approvalMillis }, r.rtoTargetMillis, r.rtoPass)) }
        if let r { parts.append(Self.measure(mode == .readiness ? "replication lag" : "RPO", r.rpoMillis, r.rpoTargetMillis, r.rpoPass)) }
        finished = DrillFinished(run: run, status: status.rawValue, passed: passed, summary: parts.joined(separator: "; "), report: reportPath)
    }

    static func measure(_ name: String, _ value: Int64?, _ target: Int64?, _ pass: Bool?) -> String {
        guard let value else { return "\(name) not measured" }
        var s = "\(name) \(DurationText.format(.milliseconds(value)))"
        if let target { s += " (target \(DurationText.format(.milliseconds(target))): \(pass == true ? "pass" : "FAIL"))" }
        return s
    }

    /// `slack` (default) or `pagerduty`, from the runbook's `notify.format`.
    public var format: String { notify?["format"]?.stringValue ?? "slack" }

    var headline: String {
        let what = mode == .readiness ? "readiness check" : "drill"
        return "\(finished.passed ? "✅" : "❌") Scheduled \(what) of \(service) (\(schedule)) \(finished.passed ? "passed" : "did not pass"): \(run)"
    }

    /// A Slack-style message: `text` for any webhook that reads it, `blocks` for Slack.
    public func slackPayload() -> JSONValue {
        var fields: [JSONValue] = [.object(["type": .string("mrkdwn"), "text": .string("*Status*\n\(status.rawValue)")])]
        if mode != .readiness, let r = report {
            fields.append(.object(["type": .string("mrkdwn"), "text": .string("*RTO*\n\(Self.measure("", r.rtoMillis.map { $0 - r.approvalMillis }, r.rtoTargetMillis, r.rtoPass).trimmingCharacters(in: .whitespaces))")]))
        }
        if let r = report {
            fields.append(.object(["type": .string("mrkdwn"), "text": .string("*\(mode == .readiness ? "Replication lag" : "RPO")*\n\(Self.measure("", r.rpoMillis, r.rpoTargetMillis, r.rpoPass).trimmingCharacters(in: .whitespaces))")]))
        }
        var blocks: [JSONValue] = [
            .object(["type": .string("section"), "text": .object(["type": .string("mrkdwn"), "text": .string(headline)])]),
            .object(["type": .string("section"), "fields": .array(fields)]),
        ]
        if let reportPath {
            blocks.append(.object(["type": .string("context"), "elements": .array([.object(["type": .string("mrkdwn"), "text": .string("Report: \(reportPath)")])])]))
        }
        return .object(["text": .string("\(headline). \(finished.summary)\(reportPath.map { ". Report: \($0)" } ?? "")"), "blocks": .array(blocks)])
    }

    /// A PagerDuty Events v2 event: a drill that did not pass triggers an alert for the
    /// schedule; one that passed resolves it (a passing drill pages nobody).
    public func pagerDutyPayload(routingKey: String) -> JSONValue {
        var o: [String: JSONValue] = [
            "routing_key": .string(routingKey),
            "event_action": .string(finished.passed ? "resolve" : "trigger"),
            "dedup_key": .string("cutover-schedule-\(service)-\(schedule)"),
        ]
        if !finished.passed {
            var details: [String: JSONValue] = ["run": .string(run), "status": .string(status.rawValue), "summary": .string(finished.summary)]
            if let r = report { details["measured"] = r.json }
            o["payload"] = .object([
                "summary": .string(String("\(headline). \(finished.summary)".prefix(1_024))),
                "source": .string("cutover scheduler"),
                "severity": .string("error"),
                "component": .string(service),
                "group": .string(schedule),
                "custom_details": .object(details),
            ])
        }
        if let reportPath { o["links"] = .array([.object(["href": .string(reportPath.hasPrefix("/") ? "file://\(reportPath)" : reportPath), "text": .string("cutover report for \(run)")])]) }
        return .object(o)
    }
}
