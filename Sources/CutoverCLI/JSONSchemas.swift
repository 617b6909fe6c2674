import CutoverCore

/// JSON Schemas (draft 2020-12) for workflow and runbook files, written from the step types'
/// schemas, the providers' target schemas and the loaders' field lists, for an editor to
/// complete and check the files with. A schema checks one file; what needs the pair (a
/// reference into the runbook, approvals against approvers, a window against a timeout) is
/// `cutover validate`'s.
enum JSONSchemas {
    static let draft = "https://json-schema.org/draft/2020-12/schema"

    /// A value that is exactly one `${...}` reference: it takes the referenced value with its
    /// type when the run resolves it, so it may stand for a number, a list or a target.
    static let reference: JSONValue = .object(["type": .string("string"), "pattern": .string("^\\$\\{[^}]+\\}$")])
    /// Text holding references among other text: they are replaced by their text, so only a
    /// text field (a string, a URL, a duration, a secret reference) may hold one.
    static let interpolated: JSONValue = .object(["type": .string("string"), "pattern": .string("\\$\\{[^}]+\\}")])
    static let identifier: JSONValue = .object(["type": .string("string"), "pattern": .string("^[A-Za-z0-9_-]+$")])
    static let duration: JSONValue = .object([
        "type": .string("string"), "pattern": .string("^([0-9]+(ms|s|m|h|d))+$"), "description": .string("a duration like \"30s\", \"5m\", \"1h30m\" or \"250ms\""),
    ])

    /// Names, or a name with an OpenSSH Ed25519 public key.
    static let approverList: JSONValue = .object([
        "type": .string("array"),
        "items": .object(["anyOf": .array([
            .object(["type": .string("string")]),
            .object([
                "type": .string("object"), "additionalProperties": .bool(false), "required": .array([.string("name")]),
                "properties": .object([
                    "name": .object(["type": .string("string")]),
                    "key": .object(["type": .string("string"), "pattern": .string("^ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI[A-Za-z0-9+/]{43}( .*)?$")]),
                ]),
            ]),
        ])]),
    ])

    static func describe(_ schema: JSONValue, _ text: String) -> JSONValue {
        guard var o = schema.objectValue, !text.isEmpty else { return schema }
        o["description"] = .string(text)
        return .object(o)
    }

    /// The schema of one field's value; `templated` lets a `${...}` reference stand for it.
    static func value(_ f: ParameterField, templated: Bool, providers: ProviderSchemas) -> JSONValue {
        let own: JSONValue
        switch f.type {
        case .string: own = .object(["type": .string("string")])
        case .integer(let min, let max):
            var o: [String: JSONValue] = ["type": .string("integer")]
            if let min { o["minimum"] = .int(min) }
            if let max { o["maximum"] = .int(max) }
            own = .object(o)
        case .number(let min, let max):
            var o: [String: JSONValue] = ["type": .string("number")]
            if let min { o["minimum"] = .double(min) }
            if let max { o["maximum"] = .double(max) }
            own = .object(o)
        case .boolean: own = .object(["type": .string("boolean")])
        case .duration: own = duration
        case .url: own = .object(["type": .string("string"), "pattern": .string("^https?://.+")])
        case .secret(let literal):
            own = .object(["type": .string("string"), "pattern": .string(literal ? "^(env:.+|file:.+|aws-sm:.+|gcp-sm:.+|https?://.+)$" : "^(env:.+|file:.+|aws-sm:.+|gcp-sm:.+)$")])
        case .stringList: own = .object(["type": .string("array"), "items": .object(["type": .string("string")])])
        case .approverList: own = Self.approverList
        case .integerList(let lo, let hi): own = .object(["type": .string("array"), "items": .object(["type": .string("integer"), "minimum": .int(lo), "maximum": .int(hi)])])
        case .oneOf(let values): own = .object(["enum": .array(values.map { .string($0) })])
        case .object, .action: own = .object(["type": .string("object")])
        case .target(let c): own = .object(["$ref": .string("#/$defs/target"), "properties": .object(["provider": .object(["enum": .array(providers.offering(c).map { .string($0) })])])])
        }
        let summary = f.summary + (f.defaultValue.map { " (default \($0.canonicalString))" } ?? "")
        guard templated else { return describe(own, summary) }
        // In a workflow a value may be a reference, resolved when the step runs: a whole value
        // for any type, references inside text only for text.
        return describe(.object(["anyOf": .array([own, f.takesText ? interpolated : reference])]), summary)
    }

    static func object(_ fields: [ParameterField], templated: Bool, providers: ProviderSchemas, extra: [String: JSONValue] = [:]) -> JSONValue {
        var properties: [String: JSONValue] = extra
        for f in fields { properties[f.name] = value(f, templated: templated, providers: providers) }
        return .object([
            "type": .string("object"), "additionalProperties": .bool(false), "properties": .object(properties),
            "required": .array(fields.filter(\.required).map { .string($0.name) }),
        ])
    }

    /// `#/$defs/target`: an object naming its provider, with that provider's fields; in a
    /// workflow (`templated`) those fields may hold references.
    static func target(_ providers: ProviderSchemas, templated: Bool) -> JSONValue {
        var cases: [JSONValue] = []
        for name in providers.names {
            guard let p = providers[name] else { continue }
            cases.append(.object([
                "if": .object(["properties": .object(["provider": .object(["const": .string(name)])])]),
                "then": object(p.fields, templated: templated, providers: providers, extra: ["provider": .object(["const": .string(name)])]),
            ]))
        }
        return .object([
            "type": .string("object"), "required": .array([.string("provider")]),
            "properties": .object(["provider": .object(["enum": .array(providers.names.map { .string($0) }), "description": .string(Reference.runbookTargetHelp)])]),
            "allOf": .array(cases),
        ])
    }

    static func workflow(_ registry: StepRegistry) -> JSONValue {
        var cases: [JSONValue] = []
        for name in registry.names {
            guard let t = registry[name] else { continue }
            cases.append(.object([
                "if": .object(["properties": .object(["type": .object(["const": .string(name)])]), "required": .array([.string("type")])]),
                "then": .object([
                    "properties": .object(["with": describe(object(t.parameters, templated: true, providers: registry.providers), t.summary)]),
                    // A type with required parameters needs its `with`.
                    "required": .array(t.parameters.contains(where: \.required) ? [.string("with")] : []),
                ]),
            ]))
        }
        let retry: JSONValue = .object([
            "type": .string("object"), "additionalProperties": .bool(false),
            "properties": .object([
                "attempts": .object(["type": .string("integer"), "minimum": .int(1), "maximum": .int(100)]),
                "backoff": duration, "maxBackoff": duration,
                "multiplier": .object(["type": .string("number"), "minimum": .int(1)]),
                "jitter": .object(["type": .string("number"), "minimum": .int(0), "maximum": .int(1)]),
            ]),
        ])
        let docs = Dictionary(uniqueKeysWithValues: Reference.stepFields)
        let step: JSONValue = .object([
            "type": .string("object"), "additionalProperties": .bool(false), "required": .array([.string("id"), .string("type")]),
            "properties": .object([
                "id": describe(identifier, docs["id"] ?? ""),
                "type": .object(["enum": .array(registry.names.map { .string($0) }), "description": .string(docs["type"] ?? "")]),
                "description": .object(["type": .string("string")]),
                "with": .object(["type": .string("object"), "description": .string(docs["with"] ?? "")]),
                "retry": describe(retry, docs["retry"] ?? ""), "timeout": describe(duration, docs["timeout"] ?? ""),
                "pivot": .object(["type": .string("boolean"), "description": .string(docs["pivot"] ?? "")]),
            ]),
            "allOf": .array(cases),
        ])
        let groupDocs = Dictionary(uniqueKeysWithValues: Reference.groupFields)
        let group: JSONValue = .object([
            "type": .string("object"), "additionalProperties": .bool(false), "required": .array([.string("id"), .string("parallel")]),
            "properties": .object([
                "id": describe(identifier, groupDocs["id"] ?? ""),
                "description": .object(["type": .string("string")]),
                "maxConcurrency": .object(["type": .string("integer"), "minimum": .int(1), "maximum": .int(1_000), "description": .string(groupDocs["maxConcurrency"] ?? "")]),
                "parallel": .object([
                    "type": .string("array"), "minItems": .int(1), "items": .object(["$ref": .string("#/$defs/step")]),
                    "description": .string(groupDocs["parallel"] ?? ""),
                ]),
            ]),
        ])
        let top = Dictionary(uniqueKeysWithValues: Reference.workflowFields)
        return .object([
            "$schema": .string(draft), "$id": .string("urn:cutover:schema:workflow"), "title": .string("cutover workflow"),
            "type": .string("object"), "additionalProperties": .bool(false), "required": .array([.string("name"), .string("steps")]),
            "properties": .object([
                "name": describe(identifier, top["name"] ?? ""),
                "version": .object(["type": .string("integer"), "minimum": .int(1)]),
                "description": .object(["type": .string("string")]),
                "parameters": .object(["type": .string("object"), "description": .string(top["parameters"] ?? "")]),
                "steps": .object([
                    "type": .string("array"), "minItems": .int(1),
                    "items": .object(["oneOf": .array([.object(["$ref": .string("#/$defs/step")]), .object(["$ref": .string("#/$defs/group")])])]),
                ]),
            ]),
            "$defs": .object(["step": step, "group": group, "target": target(registry.providers, templated: true)]),
        ])
    }

    static func runbook(_ registry: StepRegistry) -> JSONValue {
        // Any value: an object with a provider is a target; other objects and arrays hold values.
        let node: JSONValue = .object([
            "if": .object(["type": .string("object"), "required": .array([.string("provider")])]),
            "then": .object(["$ref": .string("#/$defs/target")]),
            "else": .object([
                "if": .object(["type": .string("object")]),
                "then": .object(["additionalProperties": .object(["$ref": .string("#/$defs/node")])]),
                "else": .object(["if": .object(["type": .string("array")]), "then": .object(["items": .object(["$ref": .string("#/$defs/node")])])]),
            ]),
        ])
        let side: JSONValue = .object([
            "type": .string("object"),
            "additionalProperties": .object(["$ref": .string("#/$defs/node")]),
        ])
        let thresholds: JSONValue = .object([
            "type": .string("object"), "additionalProperties": .bool(false),
            "properties": .object([
                "rto": duration, "rpo": duration, "p95": duration,
                "errorRate": .object(["type": .string("number"), "minimum": .int(0), "maximum": .int(1)]),
                "rtoUntil": .object(["enum": .array([.string("monitor"), .string("dns")])]),
            ]),
        ])
        var properties: [String: JSONValue] = [:]
        for (name, help) in Reference.runbookFields where name != "drill" {
            let schema: JSONValue = switch name {
            case "service": identifier
            case "description", "owner", "procedure": .object(["type": .string("string")])
            case "primary", "dr": side
            case "thresholds": thresholds
            case "approvers": Self.approverList
            default: .object(["$ref": .string("#/$defs/node")])
            }
            properties[name] = describe(schema, help)
        }
        // Drill overrides: the same fields but the service and the overrides themselves; an
        // object without a provider merges into the base's, so none is required.
        var overrides = properties
        overrides["service"] = nil
        properties["drill"] = describe(
            .object(["type": .string("object"), "additionalProperties": .bool(false), "properties": .object(overrides)]),
            Dictionary(uniqueKeysWithValues: Reference.runbookFields)["drill"] ?? "")
        return .object([
            "$schema": .string(draft), "$id": .string("urn:cutover:schema:runbook"), "title": .string("cutover runbook"),
            "type": .string("object"), "additionalProperties": .bool(false),
            "required": .array([.string("service"), .string("primary"), .string("dr")]),
            "properties": .object(properties),
            "$defs": .object(["node": node, "target": target(registry.providers, templated: false)]),
        ])
    }
}

extension HelpCommand {
    static func schema(_ args: Arguments, _ ctx: Context) throws -> Int32 {
        let kind = try args.positionals("workflow|runbook")[0]
        switch kind {
        case "workflow": ctx.console.json(JSONSchemas.workflow(ctx.registry))
        case "runbook": ctx.console.json(JSONSchemas.runbook(ctx.registry))
        default: throw UsageError("no schema for \"\(kind)\"; expected workflow or runbook")
        }
        return ExitCode.ok
    }
}
