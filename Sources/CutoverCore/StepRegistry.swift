/// A step type with its parameter and output types erased to JSON, so the engine can run
/// any registered type from a workflow.
public struct AnyStepType: Sendable {
    public let name: String
    /// The kind when the parameters do not change it; see `kind(with:)`.
    public let kind: StepKind
    public let schema: StepSchema
    public let compensation: String?
    public let summary: String
    public let observation: String?
    private let kindWith: @Sendable ([String: JSONValue]) -> StepKind
    private let crossProblems: @Sendable ([String: JSONValue], Duration?) -> [(field: String, problem: String)]
    private let executeJSON: @Sendable (JSONValue, any StepContext) async throws -> JSONValue
    private let observeJSON: @Sendable (JSONValue, any StepContext) async throws -> JSONValue?
    private let compensateJSON: @Sendable (JSONValue, JSONValue, any StepContext) async throws -> Void
    private let preflightJSON: @Sendable (JSONValue, any StepContext) async throws -> String?
    private let changeJSON: @Sendable (JSONValue) -> String?

    public init<S: StepType>(_ step: S) {
        name = S.name
        kind = S.kind
        schema = S.schema
        compensation = S.compensation
        summary = S.summary
        observation = S.observation
        kindWith = { S.kind(with: $0) }
        crossProblems = { S.problems(with: $0, timeout: $1) }
        executeJSON = { p, ctx in
            try Self.encode(try await step.execute(try Self.parameters(p, of: S.self), ctx))
        }
        observeJSON = { p, ctx in
            guard let out = try await step.observe(try Self.parameters(p, of: S.self), ctx) else { return nil }
            return try Self.encode(out)
        }
        compensateJSON = { p, output, ctx in
            let params = try Self.parameters(p, of: S.self)
            guard let previous = try? output.decode(S.Output.self) else {
                throw StepError(
                    code: "bad-output",
                    message: "the recorded output of step \(ctx.stepID) cannot be read as \(S.name) output; restore by hand",
                    retryable: false)
            }
            try await step.compensate(params, previous, ctx)
        }
        preflightJSON = { p, ctx in try await step.preflight(try Self.parameters(p, of: S.self), ctx) }
        changeJSON = { output in (try? output.decode(S.Output.self)).flatMap { S.change($0) } }
    }

    /// What a step of this type changed, from the output it recorded (`StepType.change`);
    /// nil for an output this type cannot read or a change not worth a line.
    public func change(_ output: JSONValue) -> String? { changeJSON(output) }

    /// The type's rules across fields, on resolved values.
    public func problems(with: [String: JSONValue], timeout: Duration?) -> [(field: String, problem: String)] {
        crossProblems(with, timeout)
    }

    public func execute(_ parameters: JSONValue, _ ctx: any StepContext) async throws -> JSONValue {
        try await executeJSON(parameters, ctx)
    }

    public func observe(_ parameters: JSONValue, _ ctx: any StepContext) async throws -> JSONValue? {
        try await observeJSON(parameters, ctx)
    }

    public func compensate(_ parameters: JSONValue, output: JSONValue, _ ctx: any StepContext) async throws {
        try await compensateJSON(parameters, output, ctx)
    }

    /// What preflight reads for the step; see `StepType.preflight`.
    public func preflight(_ parameters: JSONValue, _ ctx: any StepContext) async throws -> String? {
        try await preflightJSON(parameters, ctx)
    }

    /// The fields of `with`, in declaration order.
    public var parameters: [ParameterField] { schema.fields }

    /// The kind of one step of this type, from its `with`.
    public func kind(with parameters: [String: JSONValue]) -> StepKind { kindWith(parameters) }

    private static func parameters<S: StepType>(_ value: JSONValue, of: S.Type) throws -> StepParameters {
        guard let object = value.objectValue else { throw StepError.badParameters("\(S.name): expected an object of parameters, got \(value.typeDescription)") }
        // Validation refuses unknown parameters before a run starts; meeting one here means the
        // run's workflow was loaded by a build whose step type differs from this one.
        let unknown = object.keys.filter { !S.schema.names.contains($0) }.sorted()
        if !unknown.isEmpty {
            throw StepError(
                code: "parameters-of-another-build",
                message: "\(S.name) in this build takes no \(unknown.joined(separator: ", ")): the run was started by a cutover build whose \(S.name) differs; resume or roll it back with that build (see the README on moving runbooks)",
                retryable: false)
        }
        return try StepParameters(object, step: S.name, schema: S.schema)
    }

    private static func encode<T: Encodable>(_ value: T) throws -> JSONValue {
        try JSONValue.encode(value)
    }
}

/// The step types a workflow may use, by name, and the providers their targets may name.
public struct StepRegistry: Sendable {
    public private(set) var types: [String: AnyStepType] = [:]
    /// What runbook targets are checked against when definitions load.
    public var providers: ProviderSchemas

    public init(_ types: [AnyStepType] = [], providers: ProviderSchemas = ProviderSchemas()) {
        self.providers = providers
        for t in types { register(t) }
    }

    public mutating func register(_ type: AnyStepType) {
        types[type.name] = type
    }

    public subscript(name: String) -> AnyStepType? { types[name] }

    public var names: [String] { types.keys.sorted() }
}

/// Short text for a Swift DecodingError: the path and what was wrong.
public enum DecodingErrorText {
    public static func describe(_ error: Error) -> String {
        guard let e = error as? DecodingError else { return "\(error)" }
        func path(_ c: DecodingError.Context) -> String {
            let p = c.codingPath.map { $0.intValue.map { "[\($0)]" } ?? ".\($0.stringValue)" }.joined()
            return p.isEmpty ? "" : "\(p.hasPrefix(".") ? String(p.dropFirst()) : p): "
        }
        switch e {
        case .keyNotFound(let key, let c): return "\(path(c))missing \"\(key.stringValue)\""
        case .typeMismatch(_, let c), .valueNotFound(_, let c), .dataCorrupted(let c):
            return "\(path(c))\(c.debugDescription)"
        @unknown default: return "\(e)"
        }
    }
}
