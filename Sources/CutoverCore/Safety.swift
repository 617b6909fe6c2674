import Foundation

/// A runbook's safety rule: a condition evaluated by the driver before every mutating step it
/// guards, right before the step's `StepStarted`, each evaluation recorded as `SafetyChecked`.
/// Before a mutating call the order is fixed: the rules, then (once the log ships) shipping,
/// then the engine's proof that the run is held, then the call.
public struct SafetyRule: Sendable, Equatable {
    public enum Kind: String, Sendable, CaseIterable {
        /// The service's name resolves (at the runbook's nameserver) to the address of a side
        /// whose endpoint answers its health check: someone is being served.
        case resolvesToServing = "resolves-to-serving"
        /// The replica's link to its primary is up and it heard from it within the RPO.
        case replicaLag = "replica-lag"
        /// At most `max` steps of the guarded types changed something in the last `within`,
        /// counted from the log over every run of this service.
        case changeRate = "change-rate"
    }

    /// What happens when the rule does not hold.
    public enum OnFail: Sendable, Equatable {
        /// Stop for a person (`needs-attention`), who fixes the cause and resumes, or overrides.
        case stop
        /// Look again every `every`, for up to `upTo` since the first failure; then stop.
        case wait(every: Duration, upTo: Duration)
    }

    public var id: String
    public var kind: Kind
    /// The step types the rule guards; nil guards every mutating step.
    public var before: [String]?
    public var onFail: OnFail
    /// The rule's own fields as written (`name`, `replica`, `max`, ...).
    public var fields: [String: JSONValue]

    /// Whether the rule guards a step of `type` that is mutating or not.
    public func guards(type: String, mutating: Bool) -> Bool {
        guard mutating else { return false }
        return before.map { $0.contains(type) } ?? true
    }

    static let common = ["id", "rule", "before", "onFail"]
    static let own: [Kind: [String: ParameterField.FieldType]] = [
        .resolvesToServing: ["name": .string, "nameserver": .string, "healthPath": .string],
        .replicaLag: ["primary": .string, "replica": .string, "rpo": .duration],
        .changeRate: ["max": .integer(min: 0, max: 1_000), "within": .duration],
    ]
    static let required: [Kind: [String]] = [.resolvesToServing: [], .replicaLag: ["replica"], .changeRate: ["max", "within"]]

    /// Reads a runbook's `safety` list, every problem named by its path.
    static func parseAll(_ value: JSONValue?, at path: String, into c: inout IssueCollector) -> [SafetyRule] {
        guard let value else { return [] }
        guard let list = value.arrayValue else {
            c.add(path, "expected a list of safety rules, got \(value.typeDescription)")
            return []
        }
        var rules: [SafetyRule] = []
        var seen: Set<String> = []
        for (i, item) in list.enumerated() {
            let at = "\(path)[\(i)]"
            guard let object = item.objectValue else {
                c.add(at, "expected a rule object like {\"id\": \"serving\", \"rule\": \"resolves-to-serving\"}, got \(item.typeDescription)")
                continue
            }
            let id = object["id"]?.stringValue ?? ""
            if !Workflow.isIdentifier(id) {
                c.add(join(at, "id"), "expected an id of letters, digits, \"-\" or \"_\", got \(object["id"]?.shortDescription ?? "nothing")")
            } else if !seen.insert(id).inserted {
                c.add(join(at, "id"), "duplicate rule id \"\(id)\"")
            }
            guard let kind = object["rule"]?.stringValue.flatMap(Kind.init(rawValue:)) else {
                c.add(join(at, "rule"), "expected one of \(Kind.allCases.map(\.rawValue).joined(separator: ", ")), got \(object["rule"]?.shortDescription ?? "nothing")")
                continue
            }
            let fields = own[kind] ?? [:]
            c.rejectUnknown(object, known: common + fields.keys.sorted(), at: at)
            for name in required[kind] ?? [] where object[name] == nil {
                c.add(join(at, name), "missing; the \(kind.rawValue) rule needs it")
            }
            for (name, type) in fields {
                guard let v = object[name] else { continue }
                if let problem = ParameterField(name, type).check(v) { c.add(join(at, name), problem) }
            }
            var before: [String]?
            if let b = object["before"] {
                if let types = b.arrayValue?.compactMap(\.stringValue), types.count == b.arrayValue?.count, !types.isEmpty {
                    before = types
                } else {
                    c.add(join(at, "before"), "expected a non-empty list of step types (like [\"dns.switch\"]), got \(b.shortDescription)")
                }
            }
            var onFail = OnFail.stop
            switch object["onFail"] {
            case .none, .some(.string("stop")): break
            case .some(.object(let o)):
                c.rejectUnknown(o, known: ["wait", "upTo"], at: join(at, "onFail"))
                let every = o["wait"]?.stringValue.flatMap(DurationText.parse)
                let upTo = o["upTo"]?.stringValue.flatMap(DurationText.parse)
                if let every, let upTo, every > .zero, upTo >= every {
                    onFail = .wait(every: every, upTo: upTo)
                } else {
                    c.add(join(at, "onFail"), "expected {\"wait\": \"30s\", \"upTo\": \"10m\"} (a look every `wait`, for at most `upTo`), got \(object["onFail"]!.shortDescription)")
                }
            case .some(let v):
                c.add(join(at, "onFail"), "expected \"stop\" or {\"wait\": \"30s\", \"upTo\": \"10m\"}, got \(v.shortDescription)")
            }
            var own = object
            for k in common { own[k] = nil }
            rules.append(SafetyRule(id: id, kind: kind, before: before, onFail: onFail, fields: own))
        }
        return rules
    }

    /// What of the runbook the rule reads (the replica target), for reading its secrets first.
    public func targets(in runbook: JSONValue) -> JSONValue {
        guard kind == .replicaLag, let path = fields["replica"]?.stringValue else { return .object(fields) }
        var node: JSONValue? = runbook
        for part in path.split(separator: ".") { node = node?[String(part)] }
        return node ?? .null
    }

    /// The rules of a runbook as its snapshot in a run's start keeps them (already checked).
    public static func rules(inRunbook source: JSONValue) -> [SafetyRule] {
        var c = IssueCollector(file: "")
        return parseAll(source["safety"], at: "safety", into: &c)
    }
}

/// What one evaluation of a rule found.
public struct SafetyFinding: Sendable, Equatable {
    public var held: Bool
    /// What was looked at and what it said, for people (`recommendations.example.com → 203.0.113.10, primary, serving`).
    public var detail: String

    public init(held: Bool, detail: String) {
        self.held = held
        self.detail = detail
    }
}

/// Evaluates safety rules for a driver: reads only, changes nothing. A rule whose target does
/// not answer does not hold (the finding says why).
public protocol SafetyEvaluating: Sendable {
    /// `context`: the step's, for reading the secrets a target names (never for a change).
    func evaluate(_ rule: SafetyRule, before step: PlannedStep, runbook: JSONValue, run: RunState, context: any StepContext, nowMillis: Int64) async -> SafetyFinding
}

/// `SafetyChecked`: one evaluation of a rule before a step's attempt.
public struct SafetyChecked: EventPayload, Equatable {
    public var step: String
    public var rule: String
    public var held: Bool
    public var detail: String
    /// When it does not hold and waits: when it is looked at again.
    public var recheckAtMillis: Int64?
    /// When it does not hold and the step stops for a person: the wait ran out, or the rule stops.
    public var stops: Bool?
    /// It did not hold, and a person's override let the step go on.
    public var overriddenBy: String?

    public init(step: String, rule: String, held: Bool, detail: String, recheckAtMillis: Int64? = nil, stops: Bool? = nil, overriddenBy: String? = nil) {
        self.step = step
        self.rule = rule
        self.held = held
        self.detail = detail
        self.recheckAtMillis = recheckAtMillis
        self.stops = stops
        self.overriddenBy = overriddenBy
    }
}

/// `SafetyOverridden`: an approver lets a step go on although a rule does not hold. Counts
/// only when appended by the approver, a listed one if the runbook lists any, and, for a
/// live run, not the person who started it (the same rules as an approval).
public struct SafetyOverridden: EventPayload, Equatable {
    public var step: String
    public var rule: String
    public var by: String
    public var reason: String

    public init(step: String, rule: String, by: String, reason: String) {
        self.step = step
        self.rule = rule
        self.by = by
        self.reason = reason
    }
}

extension SafetyChecked { public var stepID: String? { step } }
extension SafetyOverridden { public var stepID: String? { step } }

/// Ships the log off this machine for a driver, right before a step's first change: every
/// event up to `through` is in every destination when it returns.
public protocol LogShipper: Sendable {
    /// - Throws: what kept a destination from holding the log (named, with what to do).
    func ship(through seq: Int64, _ proof: RunProof) async throws
}
