/// A step type with its parameter and output types erased to JSON, so the engine can run
/// any registered type from a workflow.
public struct AnyStepType: Sendable {
    public let name: String
    public let kind: StepKind
    public let parameters: [ParameterField]
    public let compensation: String?
    private let executeJSON: @Sendable (JSONValue, any StepContext) async throws -> JSONValue
    private let observeJSON: @Sendable (JSONValue, any StepContext) async throws -> JSONValue?
    private let compensateJSON: @Sendable (JSONValue, JSONValue, any StepContext) async throws -> Void

    public init<S: StepType>(_ step: S) {
        name = S.name
        kind = S.kind
        parameters = S.parameters
        compensation = S.compensation
        executeJSON = { p, ctx in
            try Self.encode(try await step.execute(try Self.decode(p, as: S.Parameters.self), ctx))
        }
        observeJSON = { p, ctx in
            guard let out = try await step.observe(try Self.decode(p, as: S.Parameters.self), ctx) else { return nil }
            return try Self.encode(out)
        }
        compensateJSON = { p, output, ctx in
            let params = try Self.decode(p, as: S.Parameters.self)
            guard let previous = try? output.decode(S.Output.self) else {
                throw StepError(
                    code: "bad-output",
                    message: "the recorded output of step \(ctx.stepID) cannot be read as \(S.name) output; restore by hand",
                    retryable: false)
            }
            try await step.compensate(params, previous, ctx)
        }
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

    private static func decode<T: Decodable>(_ value: JSONValue, as: T.Type) throws -> T {
        do {
            return try value.decode(T.self)
        } catch {
            throw StepError.badParameters("parameters do not match the step type: \(DecodingErrorText.describe(error))")
        }
    }

    private static func encode<T: Encodable>(_ value: T) throws -> JSONValue {
        try JSONValue.encode(value)
    }
}

/// The step types a workflow may use, by name.
public struct StepRegistry: Sendable {
    public private(set) var types: [String: AnyStepType] = [:]

    public init(_ types: [AnyStepType] = []) {
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
