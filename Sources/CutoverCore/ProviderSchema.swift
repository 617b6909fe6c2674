/// What a step needs from the world, whichever cloud serves it: a group of instances to size,
/// a DNS zone, an object store, a database replica, the alerts that page people. A provider
/// offers one or more.
public struct Capability: Hashable, Sendable, CustomStringConvertible {
    public let name: String
    /// How error messages say it: "an instance group".
    public let noun: String

    public init(_ name: String, noun: String) {
        self.name = name
        self.noun = noun
    }

    public static let instanceGroup = Capability("instance-group", noun: "an instance group")
    public static let dnsZone = Capability("dns-zone", noun: "a DNS zone")
    public static let objectStore = Capability("object-store", noun: "an object store")
    public static let replica = Capability("replica", noun: "a database replica")
    public static let alerting = Capability("alerting", noun: "an alert manager")

    public var description: String { name }
}

/// The fields one provider's targets take (`{"provider": "route53", "hostedZone": ...}`),
/// checked when definitions are loaded, so a target that cannot work is refused by `validate`
/// instead of failing mid-run.
public struct ProviderSchema: Sendable {
    public let name: String
    public let summary: String
    public let capabilities: Set<Capability>
    /// Every field but `provider`, declared once.
    public let fields: [ParameterField]
    /// Checks across fields (one of two required, a value that needs another): the field each
    /// problem is about, and what is wrong with it.
    public let rules: @Sendable ([String: JSONValue]) -> [(field: String, problem: String)]

    public init(
        name: String, summary: String, capabilities: Set<Capability>, fields: [ParameterField],
        rules: @escaping @Sendable ([String: JSONValue]) -> [(field: String, problem: String)] = { _ in [] }
    ) {
        self.name = name
        self.summary = summary
        self.capabilities = capabilities
        self.fields = fields
        self.rules = rules
    }
}

/// The providers this build knows, by name: what validation checks targets against.
public struct ProviderSchemas: Sendable {
    public private(set) var byName: [String: ProviderSchema] = [:]

    public init(_ schemas: [ProviderSchema] = []) {
        for s in schemas { byName[s.name] = s }
    }

    public var names: [String] { byName.keys.sorted() }

    public subscript(name: String) -> ProviderSchema? { byName[name] }

    /// Names of the providers that offer `capability`.
    public func offering(_ capability: Capability) -> [String] {
        byName.values.filter { $0.capabilities.contains(capability) }.map(\.name).sorted()
    }

    /// Where a target is checked, which decides what a `${...}` in one of its fields means.
    public enum Origin: Sendable {
        /// A runbook: its values are used as written, so a reference there is a mistake.
        case runbook
        /// A workflow's `with`: references are resolved when the run starts the step, and
        /// the fields that hold one are checked then.
        case workflow
        /// A target the run resolved: everything is checked as it is.
        case resolved
    }

    /// Every problem with one target object at `path`: `provider` unknown, fields unknown,
    /// missing or of the wrong type, cross-field rules.
    public func problems(
        in target: [String: JSONValue], at path: String, needing capability: Capability? = nil, from origin: Origin = .resolved
    ) -> [(path: String, message: String)] {
        var out: [(String, String)] = []
        let offering = capability.map(offering) ?? names
        guard let name = target["provider"]?.stringValue else {
            out.append((join(path, "provider"), "expected the name of a provider (\(offering.joined(separator: ", "))), got \(target["provider"]?.shortDescription ?? "nothing")"))
            return out
        }
        guard let schema = byName[name] else {
            out.append((join(path, "provider"), "unknown provider \"\(name)\"\(Suggestion.hint(for: name, in: names)); this build knows \(names.joined(separator: ", "))"))
            return out
        }
        if let capability, !schema.capabilities.contains(capability) {
            out.append((join(path, "provider"), "\(name) is not \(capability.noun); expected a target of \(offering.joined(separator: ", "))"))
            return out
        }
        let known = schema.fields.map(\.name)
        for key in target.keys.sorted() where key != "provider" && !known.contains(key) {
            out.append((join(path, key), "unknown field for provider \(name)\(Suggestion.hint(for: key, in: known)); expected one of \(known.joined(separator: ", "))"))
        }
        for field in schema.fields {
            guard let value = target[field.name] else {
                if field.required { out.append((join(path, field.name), "missing; provider \(name) needs \(field.expectation)\(field.summary.isEmpty ? "" : " (\(field.summary))")")) }
                continue
            }
            if value.stringValue.map(Template.mayRefer) == true {
                switch origin {
                case .workflow: continue
                case .runbook:
                    out.append((join(path, field.name), "a runbook's values are used as written, never resolved: write the value itself (\"${...}\" works in workflows only)"))
                    continue
                case .resolved: break
                }
            }
            if let problem = field.check(value) { out.append((join(path, field.name), problem)) }
        }
        if out.isEmpty {
            for (field, problem) in schema.rules(target) { out.append((join(path, field), problem)) }
        }
        return out
    }
}

/// A target as a step receives it: the provider that serves it and that provider's fields,
/// already checked against its schema (at load, and again when the run resolves it).
public struct ProviderTarget: Sendable, Equatable, CustomStringConvertible {
    public let provider: String
    public let fields: [String: JSONValue]

    public init(provider: String, fields: [String: JSONValue]) {
        self.provider = provider
        self.fields = fields
    }

    public subscript(_ name: String) -> JSONValue? { fields[name] }

    /// A string field, or nil.
    public func string(_ name: String) -> String? { fields[name]?.stringValue }

    /// A field the schema made required.
    /// - Throws: `StepError.badParameters` naming the field when it is missing.
    public func required(_ name: String) throws -> String {
        guard let v = fields[name]?.stringValue, !v.isEmpty else {
            throw StepError.badParameters("provider \(provider) needs \(name)")
        }
        return v
    }

    public var description: String { provider }
}
