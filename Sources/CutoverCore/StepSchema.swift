import Foundation

/// One parameter of a step type, declared once: its name, type, default, help and whether it
/// is a secret. Validation reads its `field`; the step reads its typed value with
/// `try p[Self.capacity]`; `plan` shows its default.
public struct Param<Value: Sendable>: Sendable, ParamDeclaration {
    public let field: ParameterField
    private let convert: @Sendable (JSONValue) -> Value?
    private let absent: (@Sendable () -> Value)?

    init(_ field: ParameterField, absent: (@Sendable () -> Value)?, _ convert: @escaping @Sendable (JSONValue) -> Value?) {
        var field = field
        field.required = absent == nil
        self.field = field
        self.absent = absent
        self.convert = convert
    }

    /// The value in `values`, its default when missing.
    /// - Throws: `StepError.badParameters` naming the field when it is missing or of the
    ///   wrong type (a `${...}` that resolved to something else).
    func read(from values: [String: JSONValue], step: String) throws -> Value {
        guard let value = values[field.name], value != .null else {
            guard let absent else { throw StepError.badParameters("\(field.name): missing; \(step) needs \(field.expectation)") }
            return absent()
        }
        if let problem = field.check(value) { throw StepError.badParameters("\(field.name): \(problem)") }
        guard let v = convert(value) else { throw StepError.badParameters("\(field.name): expected \(field.expectation), got \(value.shortDescription)") }
        return v
    }
}

/// A default as `Param` keeps it: nil when there is none (the field is required).
private func always<V: Sendable>(_ value: V?) -> (@Sendable () -> V)? {
    guard let value else { return nil }
    return { value }
}

/// What a step schema lists: any parameter, whatever its Swift type.
public protocol ParamDeclaration: Sendable {
    var field: ParameterField { get }
}

extension Param where Value == String {
    public static func string(_ name: String, default d: String? = nil, _ help: String) -> Self {
        Self(ParameterField(name, .string, help, default: d.map(JSONValue.string)), absent: always(d)) { $0.stringValue }
    }
    public static func url(_ name: String, _ help: String) -> Self {
        Self(ParameterField(name, .url, help), absent: nil) { $0.stringValue }
    }
    /// A secret reference (`env:NAME`, `file:/path`, `aws-sm:`, `gcp-sm:`); the step resolves it with `ctx.secret`.
    public static func secret(_ name: String, literalAllowed: Bool = false, _ help: String) -> Self {
        Self(ParameterField(name, .secret(literalAllowed: literalAllowed), help), absent: nil) { $0.stringValue }
    }
    public static func oneOf(_ name: String, _ values: [String], default d: String, _ help: String) -> Self {
        Self(ParameterField(name, .oneOf(values), help, default: .string(d)), absent: { d }) { $0.stringValue }
    }
}

extension Param where Value == String? {
    public static func string(_ name: String, _ help: String) -> Self {
        Self(ParameterField(name, .string, help), absent: { nil }) { $0.stringValue }
    }
    public static func secret(_ name: String, literalAllowed: Bool = false, _ help: String) -> Self {
        Self(ParameterField(name, .secret(literalAllowed: literalAllowed), help), absent: { nil }) { $0.stringValue }
    }
}

extension Param where Value == Int {
    /// Every integer parameter has bounds: a value far outside what makes sense is a typo.
    public static func integer(_ name: String, _ range: ClosedRange<Int64>, default d: Int? = nil, _ help: String) -> Self {
        Self(ParameterField(name, .integer(min: range.lowerBound, max: range.upperBound), help, default: d.map { .int(Int64($0)) }), absent: always(d)) {
            $0.intValue.map(Int.init)
        }
    }
}

extension Param where Value == Int? {
    public static func integer(_ name: String, _ range: ClosedRange<Int64>, _ help: String) -> Self {
        Self(ParameterField(name, .integer(min: range.lowerBound, max: range.upperBound), help), absent: { nil }) { $0.intValue.map(Int.init) }
    }
}

extension Param where Value == Bool {
    public static func boolean(_ name: String, default d: Bool, _ help: String) -> Self {
        Self(ParameterField(name, .boolean, help, default: .bool(d)), absent: { d }) { $0.boolValue }
    }
}

extension Param where Value == [Int] {
    /// Exit codes: integers from 0 to 255.
    public static func codes(_ name: String, default d: [Int], _ help: String) -> Self { integers(name, 0, 255, default: d, help) }

    /// HTTP status codes: integers from 100 to 599.
    public static func statuses(_ name: String, default d: [Int], _ help: String) -> Self { integers(name, 100, 599, default: d, help) }

    static func integers(_ name: String, _ lo: Int64, _ hi: Int64, default d: [Int], _ help: String) -> Self {
        Self(ParameterField(name, .integerList(min: lo, max: hi), help, default: .array(d.map { .int(Int64($0)) })), absent: { d }) {
            $0.arrayValue?.compactMap { $0.intValue.map(Int.init) }
        }
    }
}

extension Param where Value == Double {
    public static func number(_ name: String, _ range: ClosedRange<Double>, default d: Double, _ help: String) -> Self {
        Self(ParameterField(name, .number(min: range.lowerBound, max: range.upperBound), help, default: .double(d)), absent: { d }) { $0.doubleValue }
    }
}

extension Param where Value == Duration {
    public static func duration(_ name: String, default d: String? = nil, _ help: String) -> Self {
        let parsed = d.flatMap(DurationText.parse)
        precondition(d == nil || parsed != nil, "the default of \(name) is not a duration")
        return Self(ParameterField(name, .duration, help, default: d.map(JSONValue.string)), absent: always(parsed)) {
            $0.stringValue.flatMap(DurationText.parse)
        }
    }
}

extension Param where Value == Duration? {
    public static func duration(_ name: String, _ help: String) -> Self {
        Self(ParameterField(name, .duration, help), absent: { nil }) { $0.stringValue.flatMap(DurationText.parse) }
    }
}

extension Param where Value == [String] {
    public static func stringList(_ name: String, _ help: String) -> Self {
        Self(ParameterField(name, .stringList, help), absent: nil) { $0.arrayValue?.compactMap(\.stringValue) }
    }
}

extension Param where Value == [String]? {
    public static func stringList(_ name: String, _ help: String) -> Self {
        Self(ParameterField(name, .stringList, help), absent: { nil }) { $0.arrayValue?.compactMap(\.stringValue) }
    }
}

extension Param where Value == [Approver]? {
    public static func approvers(_ name: String, _ help: String) -> Self {
        Self(ParameterField(name, .approverList, help), absent: { nil }) { Approver.list($0) }
    }
}

extension Param where Value == JSONValue {
    /// A free-form JSON object (a request body).
    public static func object(_ name: String, _ help: String) -> Self {
        Self(ParameterField(name, .object, help), absent: nil) { $0.objectValue != nil ? $0 : nil }
    }
}

extension Param where Value == JSONValue? {
    /// A free-form JSON object, nil when not given.
    public static func optionalObject(_ name: String, _ help: String) -> Self {
        Self(ParameterField(name, .object, help), absent: { nil }) { $0.objectValue != nil ? $0 : nil }
    }
}

extension Param where Value == JSONValue? {
    /// What the step runs to read its before-state, observe or compensate.
    public static func action(_ name: String, _ help: String) -> Self {
        Self(ParameterField(name, .action, help), absent: { nil }) { $0.objectValue != nil ? $0 : nil }
    }
}

extension Param where Value == ProviderTarget {
    /// A target whose provider offers `capability`, usually `"${runbook.dr.gpuGroup}"`.
    public static func target(_ name: String, _ capability: Capability, _ help: String) -> Self {
        Self(ParameterField(name, .target(capability), help), absent: nil) { value in
            guard var fields = value.objectValue, let provider = fields.removeValue(forKey: "provider")?.stringValue else { return nil }
            return ProviderTarget(provider: provider, fields: fields)
        }
    }
}

/// A step type's parameters, in the order `plan` and the reference show them.
public struct StepSchema: Sendable {
    public let fields: [ParameterField]

    public init(_ parameters: any ParamDeclaration...) {
        fields = parameters.map(\.field)
        precondition(Set(fields.map(\.name)).count == fields.count, "a step schema names a parameter twice")
    }

    public var names: [String] { fields.map(\.name) }
}

/// The resolved `with` of one step, read through its type's declared parameters.
public struct StepParameters: Sendable {
    /// The step type's name, for error messages.
    public let step: String
    public let values: [String: JSONValue]

    /// Checks every declared field of `schema` in `values` at once.
    /// - Throws: `StepError.badParameters` naming each field that is missing or of the wrong type.
    public init(_ values: [String: JSONValue], step: String, schema: StepSchema) throws {
        var problems: [String] = []
        for field in schema.fields {
            guard let v = values[field.name], v != .null else {
                if field.required { problems.append("\(field.name): missing; \(step) needs \(field.expectation)") }
                continue
            }
            if let problem = field.check(v) { problems.append("\(field.name): \(problem)") }
        }
        if !problems.isEmpty { throw StepError.badParameters(problems.joined(separator: "; ")) }
        self.step = step
        self.values = values
    }

    /// Parameters from a JSON object, checked against `T`'s schema (for tests and tools).
    public init<T: StepType>(_ json: JSONValue, for type: T.Type) throws {
        try self.init(json.objectValue ?? [:], step: T.name, schema: T.schema)
    }

    public subscript<Value>(_ param: Param<Value>) -> Value {
        get throws { try param.read(from: values, step: step) }
    }
}
