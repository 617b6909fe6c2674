import Foundation

extension Workflow {
    /// Check steps that say nothing about whether DR could take over now: they ask people
    /// (`approval`), tell people (`notify`; the scheduler reports the result itself), only pass
    /// time (`wait`), or watch a cutover that a readiness run never makes (`cutover.monitor`).
    /// A team's own program or request (`exec`, `http.request`) may change anything: never run
    /// as a readiness check, nor by preflight.
    public static let notReadinessChecks: Set<String> = ["approval", "notify", "wait", "cutover.monitor", "exec", "http.request"]

    /// Whether `step`, of kind `kind`, is a readiness check: a check that is not a pivot and
    /// says something about whether DR could take over now.
    public static func isReadinessCheck(_ step: WorkflowStep, kind: StepKind?) -> Bool {
        kind == .check && !step.pivot && !notReadinessChecks.contains(step.type)
    }

    /// The ids among `ids` whose outputs `with` reads (`${steps.ID.`...).
    public static func outputsRead(by with: JSONValue, among ids: some Sequence<String>) -> [String] {
        let text = with.canonicalString
        return ids.filter { text.includes("${steps.\($0).") }
    }

    /// The workflow cut down to its readiness checks (DR health, replication lag, model
    /// digests...): only steps of kind `check` that are not in `notReadinessChecks`, so the run
    /// changes nothing. The snapshot keeps the steps kept, so the log shows what really ran.
    /// - Throws: `ValidationFailure` when no check is left, or a kept step reads the output of
    ///   a step that was dropped.
    public func readinessOnly(kindOf: (WorkflowStep) -> StepKind?, file: String) throws -> Workflow {
        let kept = steps.filter { Self.isReadinessCheck($0, kind: kindOf($0)) }
        let dropped = Set(steps.map(\.id)).subtracting(kept.map(\.id))
        var issues: [ValidationIssue] = []
        if kept.isEmpty {
            issues.append(ValidationIssue(
                file: file, path: "steps",
                message: "no readiness check in this workflow (health.http, replication.check, models.verify...): a readiness-only run would check nothing"))
        }
        // A readiness run checks one thing after another: a parallel group's checks are kept
        // where the group stood, as plain steps.
        let sourceSteps = Self.stepSources(source)
        for (path, item) in sourceSteps {
            guard let id = item["id"]?.stringValue, !dropped.contains(id) else { continue }
            for other in Self.outputsRead(by: item["with"] ?? .object([:]), among: dropped.sorted()) {
                issues.append(ValidationIssue(
                    file: file, path: "\(path).with",
                    message: "step \(id) reads the output of \(other), which a readiness-only run leaves out; make it independent of \(other) or schedule a full drill"))
            }
        }
        if !issues.isEmpty { throw ValidationFailure(issues) }
        var object = source.objectValue ?? [:]
        object["steps"] = .array(sourceSteps.map(\.step).filter { !dropped.contains($0["id"]?.stringValue ?? "") })
        object["name"] = .string("\(name) (readiness)")
        var out = self
        out.name = "\(name) (readiness)"
        out.steps = kept.map { var step = $0; step.group = nil; return step }
        out.groups = []
        out.source = .object(object)
        return out
    }
}
