/// The JSON the commands write, declared once: `cutover help json` and docs/REFERENCE.md are
/// written from it, and a test holds every command's real output to it (each object has the
/// fields of its shape, and no other). Times are RFC 3339 UTC with milliseconds (`at`,
/// `startedAt`, `dueAt`); a field named `...Millis` is the same kind of time, or a duration,
/// in milliseconds.
enum JSONShapes {
    struct Shape {
        /// The value of the object's `kind`.
        let kind: String
        let writtenBy: String
        let fields: [(name: String, text: String)]
        /// Fields present only when they apply.
        let optional: Set<String>

        var names: Set<String> { Set(fields.map(\.name)) }
    }

    static let event = Shape(
        kind: "event", writtenBy: "history --json; start, resume and watch --json, one line as each event is appended",
        fields: [
            ("kind", "\"event\""), ("run", "the run's id"), ("seq", "the event's position in the whole log"),
            ("runSeq", "its position in the run, from 1"), ("type", "RunStarted, StepStarted, StepSucceeded, ApprovalGranted..."),
            ("step", "the step it is about, or null"), ("at", "when it was appended"), ("atMillis", "the same, in milliseconds since 1970"),
            ("actor", "who appended it: a person for signals and approvals, cutover@HOST for the engine"),
            ("hash", "its link in the hash chain (hex SHA-256)"), ("body", "what the event says, as recorded"),
        ], optional: [])

    static let summary = Shape(
        kind: "summary", writtenBy: "the last line of start, resume and watch --json; status --json (with the status fields)",
        fields: [
            ("kind", "\"summary\""), ("run", "the run's id"), ("state", "running, waiting-approval, paused, succeeded, failed, rolled-back, aborted, needs-attention, compensating"),
            ("verdict", "the state as people read it: \"drill passed\" for a drill rolled back as planned, \"drill failed\", \"stalled\" (status only)..."),
            ("mode", "live, drill or readiness"), ("workflow", "the workflow's name"), ("service", "the runbook's service"),
            ("startedBy", "who started it"), ("startedAt", "when"), ("startedAtMillis", "the same, in milliseconds"),
            ("durationMillis", "from the first event to the last"), ("workflowDigest", "SHA-256 of the workflow as run"),
            ("runbookDigest", "SHA-256 of the runbook as run"),
            ("steps", "each step: id, type, state, attempts, compensation, and durationMillis and error where they apply"),
            ("changes", "each change made: step, type, change (before → after), undone"),
            ("report", "the drill report (RTO, RPO) once measured"), ("planned", "whether its rollback was planned (a drill)"),
            ("reason", "why it ended so"), ("attention", "reason and decision, when a person must decide"),
            ("waitingFor", "the approval step waited on: step, required, approvedBy"),
            ("stalled", "status: true when nobody drives a run that should be moving"),
            ("driver", "status: the process driving it now, or null"), ("next", "status: the command that carries it on"),
            ("notes", "status: what else to know (a pause requested)"),
            ("shipping", "status, when CUTOVER_SHIP_TO names buckets: for each, {url, through, behindEvents, behindMillis, problem?}: how far behind the log here the shipped one is"),
            ("approvals", "status: step, required, approvedBy, mayApprove"),
        ], optional: ["report", "planned", "reason", "attention", "waitingFor", "stalled", "driver", "next", "notes", "shipping", "approvals"])

    static let listed = Shape(
        kind: "run", writtenBy: "list --json, one line per run",
        fields: [
            ("kind", "\"run\""), ("run", "the run's id"), ("state", "as in the summary"), ("verdict", "as in the summary"),
            ("service", "the runbook's service"), ("workflow", "the workflow's name"), ("mode", "live, drill or readiness"),
            ("startedBy", "who started it"), ("startedAt", "when"), ("startedAtMillis", "the same, in milliseconds"),
        ], optional: [])

    static let report = Shape(
        kind: "report", writtenBy: "report --json, one line per failover, drill or readiness run",
        fields: [
            ("kind", "\"report\""), ("run", "the run's id"), ("workflow", "the workflow's name"), ("service", "the runbook's service"),
            ("mode", "live, drill or readiness"), ("state", "as in the summary"), ("verdict", "as in the summary"),
            ("startedAt", "when"), ("startedAtMillis", "the same, in milliseconds"), ("plannedRollback", "a drill's planned rollback"),
            ("workflowDigest", "SHA-256 of the workflow as run"), ("runbookDigest", "SHA-256 of the runbook as run"),
            ("startedBy", "who started it"), ("approvers", "who approved, in order"),
            ("rtoUntil", "what ends the RTO"), ("approvalMillis", "time spent waiting for approvers, left out of the RTO"),
            ("rtoMillis", "RTO measured, approvals included"), ("rtoTargetMillis", "the runbook's target"), ("rtoPass", "RTO without approvals within the target"),
            ("rpoMillis", "RPO measured"), ("rpoBasis", "how"), ("rpoTargetMillis", "the runbook's target"), ("rpoPass", "within the target"),
            ("rehearsed", "promotions a drill proved possible instead of making"), ("schedule", "the schedule that started it"),
        ], optional: ["rtoMillis", "rtoTargetMillis", "rtoPass", "rpoMillis", "rpoBasis", "rpoTargetMillis", "rpoPass", "rehearsed", "schedule"])

    static let gap = Shape(
        kind: "gap", writtenBy: "report --json, one line per scheduled firing that did not become a run",
        fields: [
            ("kind", "\"gap\""), ("schedule", "the schedule's name"), ("workflow", "its workflow"), ("mode", "drill or readiness"),
            ("dueAt", "when it was due"), ("dueAtMillis", "the same, in milliseconds"), ("state", "skipped or missed"), ("reason", "why"),
        ], optional: [])

    static let all = [event, summary, listed, report, gap]

    /// `cutover help json`.
    static var text: String {
        var out = """
            The JSON the commands write: one object per line (JSON Lines), each with a "kind".
            Times are RFC 3339 UTC with milliseconds ("2026-12-02T19:40:00.123Z"); a field named
            ...Millis is the same time (or a duration) in milliseconds. Fields marked ? appear
            only when they apply. `start --json` writes the events of the run as they are
            appended, then its summary; nothing else goes to stdout. The jsonl export
            (`audit export --format jsonl`) is the audit bundle, described under `audit verify`.
            """
        for shape in all {
            out += "\n\n\"kind\": \"\(shape.kind)\" (\(shape.writtenBy)):\n"
            out += Reference.fieldList(shape.fields.map { ($0.name + (shape.optional.contains($0.name) ? "?" : ""), $0.text) })
        }
        return out
    }
}
