import Foundation

/// A reusable definition: ordered steps with their types, parameters, retry and timeout.
public struct Workflow: Sendable {
    public var name: String
    public var version: Int
    public var description: String?
    public var parameters: [String: JSONValue]
    /// Every step in plan order, the members of a parallel group where the group stands.
    public var steps: [WorkflowStep]
    /// The parallel groups, in plan order; their members are in `steps`, side by side.
    public var groups: [WorkflowGroup] = []
    /// The file as parsed; snapshotted into `RunStarted`.
    public var source: JSONValue
}

/// Steps that run at the same time: `{"id": ..., "parallel": [steps...], "maxConcurrency": N}`.
public struct WorkflowGroup: Sendable, Equatable {
    public var id: String
    public var description: String?
    /// How many members may be in flight at once.
    public var maxConcurrency: Int
    /// The members' ids, as written.
    public var members: [String]

    public var planned: PlannedGroup { PlannedGroup(id: id, maxConcurrency: maxConcurrency) }
}

public struct WorkflowStep: Sendable {
    public var id: String
    public var type: String
    public var description: String?
    public var with: [String: JSONValue]
    public var retry: RetryPolicy
    public var timeout: Duration?
    public var pivot: Bool
    /// The parallel group this step is a member of.
    public var group: String?

    /// The step as the fold and the decision see it.
    public func planned(kind: StepKind) -> PlannedStep {
        PlannedStep(id: id, type: type, kind: kind, pivot: pivot, retry: retry, timeoutMillis: timeout?.milliseconds, group: group)
    }
}

extension Workflow {
    static let fields = ["name", "version", "description", "parameters", "steps"]
    static let stepFields = ["id", "type", "description", "with", "retry", "timeout", "pivot"]
    static let groupFields = ["id", "description", "parallel", "maxConcurrency"]
    static let retryFields = ["attempts", "backoff", "multiplier", "maxBackoff", "jitter", "nonRetryable"]

    /// Parses and validates a workflow, reporting every problem in the file at once.
    ///
    /// With a runbook, `${runbook...}` references are checked to exist and, where a value
    /// is one reference, its resolved value is type-checked.
    /// - Throws: `ValidationFailure` naming the file, JSON path and expectation of each problem.
    public static func load(
        file: String, data: Data, registry: StepRegistry, runbook: Runbook? = nil
    ) throws -> Workflow {
        var c = IssueCollector(file: file)
        let object = try c.parseObject(data, expecting: "a workflow object")
        c.rejectUnknown(object, known: fields, at: "")
        let name = object["name"]?.stringValue ?? ""
        if name.isEmpty { c.add("name", "expected a non-empty string, got \(object["name"]?.shortDescription ?? "nothing")") }
        var version = 1
        if let v = object["version"] {
            if case .int(let i) = v, i > 0 { version = Int(i) } else { c.add("version", "expected a positive integer, got \(v.shortDescription)") }
        }
        var parameters: [String: JSONValue] = [:]
        if let p = object["parameters"] {
            if let o = p.objectValue { parameters = o } else { c.add("parameters", "expected an object, got \(p.typeDescription)") }
        }
        var steps: [WorkflowStep] = []
        var groups: [WorkflowGroup] = []
        switch object["steps"] {
        case .array(let items) where !items.isEmpty:
            // Sets: a 10,000-step workflow validates in linear time. `earlier` holds the steps
            // that have finished before a step starts (what its references may read); `taken`
            // every id so far, groups' included.
            var earlier: Set<String> = []
            var taken: Set<String> = []
            for (i, item) in items.enumerated() {
                let path = "steps[\(i)]"
                if item.objectValue?["parallel"] != nil {
                    let members = validateGroup(
                        item, at: path, earlier: earlier, taken: &taken, registry: registry, runbook: runbook, parameters: parameters, into: &c)
                    if let (group, members) = members {
                        groups.append(group)
                        steps += members
                    }
                    // A step after the group may read any member's output: all have finished.
                    for member in item["parallel"]?.arrayValue ?? [] { if let id = member["id"]?.stringValue { earlier.insert(id) } }
                    continue
                }
                if let step = validateStep(item, at: path, earlier: earlier, taken: taken, registry: registry, runbook: runbook, parameters: parameters, into: &c) {
                    steps.append(step)
                }
                if let id = item["id"]?.stringValue {
                    earlier.insert(id)
                    taken.insert(id)
                }
            }
        case .some(let other):
            c.add("steps", "expected a non-empty array of steps, got \(other.shortDescription)")
        case .none:
            c.add("steps", "missing; expected a non-empty array of steps")
        }
        // A rule guarding a type this build lacks would guard nothing: a typo must not
        // switch a safety rule off.
        for (i, rule) in (runbook?.safety ?? []).enumerated() {
            for (j, type) in (rule.before ?? []).enumerated() where registry[type] == nil {
                c.add(
                    "", "runbook \(runbook!.file): safety[\(i)].before[\(j)]: rule \(rule.id) guards step type \"\(type)\", which this build does not have; known: \(registry.names.joined(separator: ", "))")
            }
        }
        if !c.issues.isEmpty { throw ValidationFailure(c.issues) }
        return Workflow(
            name: name, version: version, description: object["description"]?.stringValue,
            parameters: parameters, steps: steps, groups: groups, source: .object(object))
    }

    /// A parallel group and its members. Members run at the same time, so each may refer only
    /// to steps that finished before the group, never to a sibling.
    private static func validateGroup(
        _ item: JSONValue, at path: String, earlier: Set<String>, taken: inout Set<String>, registry: StepRegistry, runbook: Runbook?,
        parameters: [String: JSONValue], into c: inout IssueCollector
    ) -> (WorkflowGroup, [WorkflowStep])? {
        guard let object = item.objectValue else { return nil }
        let before = c.issues.count
        c.rejectUnknown(object, known: groupFields, at: path)
        let id = checkID(object, at: path, of: "parallel group", taken: taken, into: &c)
        if isIdentifier(id) { taken.insert(id) }
        guard case .array(let items) = object["parallel"], !items.isEmpty else {
            c.add(join(path, "parallel"), "expected a non-empty array of steps that run at the same time, got \(object["parallel"]?.shortDescription ?? "nothing")")
            return nil
        }
        var limit = items.count
        if let m = object["maxConcurrency"] {
            if case .int(let n) = m, n >= 1, n <= 1_000 { limit = Int(n) } else {
                c.add(join(path, "maxConcurrency"), "expected an integer from 1 to 1000 (how many of the group's steps may run at once), got \(m.shortDescription)")
            }
        }
        var members: [WorkflowStep] = []
        for (j, member) in items.enumerated() {
            let memberPath = join(path, "parallel[\(j)]")
            if member.objectValue?["parallel"] != nil {
                c.add(join(memberPath, "parallel"), "a parallel group cannot hold another group; put its steps in this group, or make it a group of its own before or after this one")
                continue
            }
            if var step = validateStep(member, at: memberPath, earlier: earlier, taken: taken, registry: registry, runbook: runbook, parameters: parameters, into: &c) {
                step.group = id
                members.append(step)
            }
            if let mid = member["id"]?.stringValue { taken.insert(mid) }
        }
        guard c.issues.count == before else { return nil }
        return (WorkflowGroup(id: id, description: object["description"]?.stringValue, maxConcurrency: min(limit, items.count), members: members.map(\.id)), members)
    }

    /// The id of a step or group object; a problem named when it is not an identifier or is
    /// taken already.
    private static func checkID(_ object: [String: JSONValue], at path: String, of what: String, taken: Set<String>, into c: inout IssueCollector) -> String {
        let id = object["id"]?.stringValue ?? ""
        if !isIdentifier(id) {
            c.add(join(path, "id"), "expected an id of letters, digits, \"-\" or \"_\" for the \(what), got \(object["id"]?.shortDescription ?? "nothing")")
        } else if taken.contains(id) {
            c.add(join(path, "id"), "duplicate \(what) id \"\(id)\"; step and group ids must be unique within a workflow")
        }
        return id
    }

    /// Each step's object in a workflow's source (or a run's snapshot of it), in plan order,
    /// with its JSON path: a parallel group's members where the group stands.
    public static func stepSources(_ source: JSONValue) -> [(path: String, step: JSONValue)] {
        var out: [(path: String, step: JSONValue)] = []
        for (i, item) in (source["steps"]?.arrayValue ?? []).enumerated() {
            if let members = item["parallel"]?.arrayValue {
                for (j, m) in members.enumerated() { out.append(("steps[\(i)].parallel[\(j)]", m)) }
            } else {
                out.append(("steps[\(i)]", item))
            }
        }
        return out
    }

    private static func validateStep(
        _ item: JSONValue, at path: String, earlier: Set<String>, taken: Set<String>, registry: StepRegistry, runbook: Runbook?,
        parameters: [String: JSONValue], into c: inout IssueCollector
    ) -> WorkflowStep? {
        guard let object = item.objectValue else {
            c.add(path, "expected a step object, got \(item.typeDescription)")
            return nil
        }
        let before = c.issues.count
        c.rejectUnknown(object, known: stepFields, at: path)
        let id = checkID(object, at: path, of: "step", taken: taken, into: &c)
        let typeName = object["type"]?.stringValue ?? ""
        let type = registry[typeName]
        if type == nil {
            let found = object["type"]?.shortDescription ?? "nothing"
            c.add(join(path, "type"), "unknown step type \(found)\(Suggestion.hint(for: typeName, in: registry.names)); known types: \(registry.names.joined(separator: ", "))")
        }
        let with = object["with"]?.objectValue ?? [:]
        if let w = object["with"], w.objectValue == nil { c.add(join(path, "with"), "expected an object, got \(w.typeDescription)") }
        var resolved: [String: JSONValue] = [:]
        if let type {
            resolved = validateParameters(
                with, of: type, at: join(path, "with"), earlier: earlier, runbook: runbook, parameters: parameters,
                providers: registry.providers, into: &c)
        }
        let retry = validateRetry(object["retry"], at: join(path, "retry"), into: &c)
        var timeout: Duration?
        if let t = object["timeout"] {
            if let d = t.stringValue.flatMap(DurationText.parse), d > .zero { timeout = d } else {
                c.add(join(path, "timeout"), "expected a duration like \"30s\" or \"5m\", got \(t.shortDescription)")
            }
        }
        // Rules across fields, once each field passed alone.
        if let type, c.issues.count == before {
            for (field, problem) in type.problems(with: resolved, timeout: timeout) {
                c.add(field == "timeout" ? join(path, "timeout") : join(join(path, "with"), field), problem)
            }
        }
        let kind = type?.kind(with: with)
        var pivot = kind == .pivot
        if let p = object["pivot"] {
            if let b = p.boolValue { pivot = b } else { c.add(join(path, "pivot"), "expected true or false, got \(p.shortDescription)") }
        }
        if pivot, kind == .check {
            c.add(join(path, "pivot"), "a \(typeName) step only reads and cannot be a pivot; mark the step that enables writes instead")
        }
        guard c.issues.count == before else { return nil }
        return WorkflowStep(
            id: id, type: typeName, description: object["description"]?.stringValue, with: with,
            retry: retry, timeout: timeout, pivot: pivot)
    }

    /// - Returns: the values as resolved where they could be (as written otherwise).
    @discardableResult
    private static func validateParameters(
        _ with: [String: JSONValue], of type: AnyStepType, at path: String, earlier: Set<String>, runbook: Runbook?,
        parameters: [String: JSONValue], providers: ProviderSchemas, into c: inout IssueCollector
    ) -> [String: JSONValue] {
        var out = with
        let known = type.parameters.map(\.name)
        for key in with.keys.sorted() where !known.contains(key) {
            c.add(join(path, key), "unknown parameter of \(type.name)\(Suggestion.hint(for: key, in: known)); expected one of \(known.joined(separator: ", "))")
        }
        for field in type.parameters {
            let fieldPath = join(path, field.name)
            guard let value = with[field.name] else {
                if field.required { c.add(fieldPath, "missing; \(type.name) needs \(field.expectation)\(field.summary.isEmpty ? "" : " (\(field.summary))")") }
                continue
            }
            if let problem = checkReferences(in: value, earlier: earlier, runbook: runbook, parameters: parameters, deferred: field.type == .action) {
                c.add(fieldPath, problem)
                continue
            }
            // Text around a reference makes text, which only a text field can hold.
            if !field.takesText, let text = value.stringValue, Template.mayRefer(text),
                case .success(let refs) = Template.references(in: text), refs.count != 1 || refs[0].text != text
            {
                c.add(fieldPath, "\(value.shortDescription) is text with references in it, but \(field.name) takes \(field.expectation): give one reference as the whole value, like \"${parameters.\(field.name)}\"")
                continue
            }
            // A value that is one reference is type-checked once it can be resolved.
            var resolved = value
            if value.stringValue.map(Template.mayRefer) == true {
                guard let runbook, let r = try? Template.resolve(value, in: Template.Scope(runbook: runbook.source, parameters: parameters, run: Runbook.runPlaceholders)),
                    !containsStepReference(value)
                else { continue }
                resolved = r
                out[field.name] = r
            }
            // Where a resolved value came from, so the person knows which file to fix.
            let source = value.stringValue?.includes("${runbook.") == true ? " in \(runbook?.file ?? "the runbook")" : ""
            if let problem = field.check(resolved) {
                c.add(fieldPath, problem + (resolved == value ? "" : " (from \(value.shortDescription)\(source))"))
            } else if case .target(let capability) = field.type, let target = resolved.objectValue {
                if let name = target["provider"]?.stringValue, let schema = providers[name], !schema.capabilities.contains(capability) {
                    c.add(fieldPath, "\(resolved == value ? "this" : value.shortDescription) is a \(name) target\(source), which is not \(capability.noun); \(type.name) needs one of \(providers.offering(capability).joined(separator: ", "))")
                } else {
                    // Written here, or from a runbook or a workflow parameter: checked in full
                    // (a runbook that failed its own checks never gets this far).
                    let from = resolved == value ? "" : " (in \(value.shortDescription)\(source))"
                    for (p, m) in providers.problems(in: target, at: fieldPath, needing: capability, from: .workflow) { c.add(p, m + from) }
                }
            }
        }
        return out
    }

    private static func containsStepReference(_ value: JSONValue) -> Bool {
        value.stringValue?.includes("${steps.") ?? false
    }

    /// Nil when every reference in `value` is well formed and points somewhere that exists.
    private static func checkReferences(
        in value: JSONValue, earlier: Set<String>, runbook: Runbook?, parameters: [String: JSONValue], deferred: Bool = false
    ) -> String? {
        switch value {
        case .string(let s) where Template.mayRefer(s):
            switch Template.references(in: s) {
            case .failure(let e): return e.message
            case .success(let refs):
                for ref in refs {
                    switch ref.root {
                    case "steps":
                        let step = ref.path[0]
                        if !earlier.contains(step) {
                            return "\(ref.text) refers to step \"\(step)\", which does not run before this one\(Suggestion.hint(for: step, in: earlier.sorted()))"
                        }
                    case "parameters":
                        if parameters[ref.path[0]] == nil {
                            return "\(ref.text): no such workflow parameter\(Suggestion.hint(for: ref.path[0], in: parameters.keys))"
                        }
                    case "before", "output":
                        if !deferred {
                            return "\(ref.text): ${before...} and ${output...} are the step's own before-state and output, for the before, observe and compensate of exec and http.request only"
                        }
                    case "run":
                        if Runbook.runPlaceholders[ref.path[0]] == nil || ref.path.count != 1 {
                            return "\(ref.text): expected one of ${run.id}, ${run.mode}, ${run.startedBy}, ${run.service}"
                        }
                    default:
                        if let runbook {
                            do { _ = try Template.lookup(ref, in: Template.Scope(runbook: runbook.source)) } catch {
                                return "\(error) in runbook \(runbook.file)"
                            }
                        }
                    }
                }
                return nil
            }
        case .array(let items):
            return items.lazy.compactMap { checkReferences(in: $0, earlier: earlier, runbook: runbook, parameters: parameters, deferred: deferred) }.first
        case .object(let members):
            return members.keys.sorted().lazy.compactMap {
                checkReferences(in: members[$0]!, earlier: earlier, runbook: runbook, parameters: parameters, deferred: deferred)
            }.first
        default: return nil
        }
    }

    private static func validateRetry(_ value: JSONValue?, at path: String, into c: inout IssueCollector) -> RetryPolicy {
        var policy = RetryPolicy.default
        guard let value else { return policy }
        guard let o = value.objectValue else {
            c.add(path, "expected an object like {\"attempts\": 3, \"backoff\": \"1s\"}, got \(value.shortDescription)")
            return policy
        }
        c.rejectUnknown(o, known: retryFields, at: path)
        if let v = o["attempts"] {
            if case .int(let i) = v, i >= 1, i <= 100 { policy.attempts = Int(i) } else { c.add(join(path, "attempts"), "expected an integer from 1 to 100, got \(v.shortDescription)") }
        }
        for (key, set) in [("backoff", { (p: inout RetryPolicy, ms: Int64) in p.initialBackoffMillis = ms }),
                           ("maxBackoff", { (p: inout RetryPolicy, ms: Int64) in p.maxBackoffMillis = ms })] {
            if let v = o[key] {
                if let d = v.stringValue.flatMap(DurationText.parse) { set(&policy, d.milliseconds) } else { c.add(join(path, key), "expected a duration like \"1s\", got \(v.shortDescription)") }
            }
        }
        if let v = o["multiplier"] {
            if let m = v.doubleValue, m >= 1 { policy.multiplier = m } else { c.add(join(path, "multiplier"), "expected a number of at least 1, got \(v.shortDescription)") }
        }
        if let v = o["jitter"] {
            if let j = v.doubleValue, (0...1).contains(j) { policy.jitter = j } else { c.add(join(path, "jitter"), "expected a number from 0 to 1, got \(v.shortDescription)") }
        }
        if let v = o["nonRetryable"] {
            if let a = v.arrayValue, let codes = Optional(a.compactMap(\.stringValue)), codes.count == a.count { policy.nonRetryable = codes } else { c.add(join(path, "nonRetryable"), "expected an array of error codes, got \(v.shortDescription)") }
        }
        if policy.maxBackoffMillis < policy.initialBackoffMillis {
            c.add(join(path, "maxBackoff"), "must not be shorter than backoff")
        }
        return policy
    }

    public static func isIdentifier(_ s: String) -> Bool {
        // ASCII only, so bytes and characters are one and the same.
        !s.isEmpty && s.utf8.count <= 64 && s.utf8.allSatisfy { b in
            (b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x5a) || (b >= 0x61 && b <= 0x7a) || b == 0x2d || b == 0x5f
        }
    }
}
