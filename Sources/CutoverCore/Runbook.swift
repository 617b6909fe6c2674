import Foundation

/// A workflow's binding to one service: its primary and DR targets, thresholds and approvers.
public struct Runbook: Sendable {
    public var file: String
    public var service: String
    /// Who may approve, with their keys where the runbook gives them.
    public var approverList: [Approver]
    public var approvers: [String] { approverList.map(\.name) }
    public var thresholds: [String: JSONValue]
    /// The safety rules evaluated before the mutating steps they guard.
    public var safety: [SafetyRule] = []
    /// The runbook as references see it (`${runbook.dr.endpoint}`), drill overrides applied
    /// for drills.
    public var source: JSONValue

    static let fields = ["service", "description", "owner", "procedure", "primary", "dr", "aws", "dns", "models", "monitor", "thresholds", "approvers", "notify", "alerts", "safety", "shipping", "drill"]
    static let thresholdFields: [String: ParameterField.FieldType] = [
        "rto": .duration, "rpo": .duration, "p95": .duration, "errorRate": .number(), "rtoUntil": .oneOf(["monitor", "dns"]),
    ]

    /// Stand-ins for `${run...}` while validating, before a run exists.
    static let runPlaceholders: [String: JSONValue] = [
        "id": .string("run-id"), "mode": .string("live"), "startedBy": .string("someone"), "service": .string("service"),
    ]

    /// Parses and validates a runbook, applying its `drill` overrides for drills and readiness runs.
    /// Every target in it (an object with a `provider`) is checked against that provider's schema.
    /// - Throws: `ValidationFailure` naming every problem in the file.
    public static func load(file: String, data: Data, mode: RunMode = .live, providers: ProviderSchemas) throws -> Runbook {
        var c = IssueCollector(file: file)
        var object = try c.parseObject(data, expecting: "a runbook object")
        c.rejectUnknown(object, known: fields, at: "")
        let service = object["service"]?.stringValue ?? ""
        if !Workflow.isIdentifier(service) {
            c.add("service", "expected a service name of letters, digits, \"-\" or \"_\", got \(object["service"]?.shortDescription ?? "nothing")")
        }
        for target in ["primary", "dr"] {
            switch object[target] {
            case .object: break
            case .none: c.add(target, "missing; expected an object describing the \(target == "dr" ? "DR" : "primary") targets")
            case .some(let v): c.add(target, "expected an object, got \(v.typeDescription)")
            }
        }
        validateSettings(object, at: "", into: &c)
        var rules = SafetyRule.parseAll(object["safety"], at: "safety", into: &c)
        var base = object
        base["drill"] = nil
        let baseProblems = checkTargets(.object(base), at: "", providers: providers)
        for (path, message) in baseProblems { c.add(path, message) }
        if let drill = object["drill"] {
            if let overrides = drill.objectValue {
                c.rejectUnknown(overrides, known: fields.filter { $0 != "service" && $0 != "drill" }, at: "drill")
                validateSettings(overrides, at: "drill", into: &c)
                if overrides["safety"] != nil {
                    let drillRules = SafetyRule.parseAll(overrides["safety"], at: "drill.safety", into: &c)
                    if mode.usesDrillSettings { rules = drillRules }
                }
                // Targets as drills see them: an override may complete or break one.
                let seen = Set(baseProblems.map(\.path))
                for (path, message) in checkTargets(.object(merge(base, overrides)), at: "", providers: providers) where !seen.contains(path) {
                    c.add(join("drill", path), message + " (with the drill overrides applied)")
                }
                if mode.usesDrillSettings { object = merge(object, overrides) }
            } else {
                c.add("drill", "expected an object of overrides for drills, got \(drill.typeDescription)")
            }
        }
        if !c.issues.isEmpty { throw ValidationFailure(c.issues) }
        object["drill"] = nil
        let approvers = object["approvers"].flatMap(Approver.list) ?? []
        var runbook = Runbook(
            file: file, service: service, approverList: approvers,
            thresholds: object["thresholds"]?.objectValue ?? [:], source: .object(object))
        runbook.safety = rules
        return runbook
    }

    private static func validateSettings(_ object: [String: JSONValue], at path: String, into c: inout IssueCollector) {
        if let s = object["shipping"] {
            if let o = s.objectValue {
                c.rejectUnknown(o, known: ["unshipped"], at: join(path, "shipping"))
                if let v = o["unshipped"], !["stop", "proceed"].contains(v.stringValue ?? "") {
                    c.add(join(join(path, "shipping"), "unshipped"), "expected \"stop\" (wait for a person before a change while the log cannot be shipped, the default) or \"proceed\", got \(v.shortDescription)")
                }
            } else {
                c.add(join(path, "shipping"), "expected an object like {\"unshipped\": \"stop\"}, got \(s.typeDescription)")
            }
        }
        if let t = object["thresholds"] {
            if let o = t.objectValue {
                c.rejectUnknown(o, known: thresholdFields.keys.sorted(), at: join(path, "thresholds"))
                for (key, type) in thresholdFields {
                    guard let v = o[key] else { continue }
                    if let problem = ParameterField(key, type).check(v) { c.add(join(join(path, "thresholds"), key), problem) }
                }
                if let e = o["errorRate"]?.doubleValue, !(0...1).contains(e) {
                    c.add(join(join(path, "thresholds"), "errorRate"), "expected a fraction from 0 to 1, got \(e)")
                }
            } else {
                c.add(join(path, "thresholds"), "expected an object like {\"rto\": \"15m\", \"rpo\": \"30s\"}, got \(t.typeDescription)")
            }
        }
        if let a = object["approvers"], let p = Approver.problem(a) {
            c.add(join(path, "approvers") + p.path, p.problem)
        }
        for key in ["primary", "dr", "aws", "dns", "models", "monitor", "notify"] {
            if let v = object[key], v.objectValue == nil, !path.isEmpty {
                c.add(join(path, key), "expected an object, got \(v.typeDescription)")
            }
        }
    }

    /// Problems with every target under `value`: objects that name a `provider`.
    static func checkTargets(_ value: JSONValue, at path: String, providers: ProviderSchemas) -> [(path: String, message: String)] {
        switch value {
        case .object(let members):
            if members["provider"] != nil { return providers.problems(in: members, at: path, from: .runbook) }
            return members.keys.sorted().flatMap { checkTargets(members[$0]!, at: join(path, $0), providers: providers) }
        case .array(let items):
            return items.indices.flatMap { checkTargets(items[$0], at: "\(path)[\($0)]", providers: providers) }
        default:
            return []
        }
    }

    /// Overrides merged into the base: objects merge key by key, anything else replaces. An
    /// override that names a `provider` is a whole target and replaces the base's (a drill
    /// may use another cloud's group, whose fields are not the first one's).
    static func merge(_ base: [String: JSONValue], _ overrides: [String: JSONValue]) -> [String: JSONValue] {
        var out = base
        for (key, value) in overrides {
            if let b = base[key]?.objectValue, let o = value.objectValue, o["provider"] == nil {
                out[key] = .object(merge(b, o))
            } else {
                out[key] = value
            }
        }
        return out
    }
}
