import Foundation

/// Encodes `Encodable` values straight into a `JSONValue`: the value `JSONValue.parse`
/// would make of the text `JSONEncoder` writes, without writing or parsing the text.
///
/// So whole doubles come out as `.int` (JSONEncoder writes 3.0 as `3`), integers beyond
/// Int64 as `.double`, non-finite numbers throw, and optionals encoded with
/// `encodeIfPresent` leave their key out. `Date`, `Data`, `URL` and `Decimal`, which
/// `JSONEncoder` treats specially, are still written by `JSONEncoder`.
final class JSONValueEncoder: Encoder {
    let codingPath: [any CodingKey]
    var userInfo: [CodingUserInfoKey: Any] { [:] }
    /// What this encoder's value has encoded so far; nil until it encodes something.
    var slot: JSONValueEncoderSlot?

    init(codingPath: [any CodingKey]) {
        self.codingPath = codingPath
    }

    /// Encodes `value` as a JSON value.
    /// - Throws: `EncodingError.invalidValue` for a non-finite number, or for a value that
    ///   encodes nothing at all, as JSONEncoder does.
    static func encode<T: Encodable>(_ value: T) throws -> JSONValue {
        guard let encoded = try box(value, at: []) else {
            throw EncodingError.invalidValue(value, .init(codingPath: [], debugDescription: "Top-level \(T.self) did not encode any values."))
        }
        return encoded
    }

    /// Encodes one value found at `path`; nil when it encoded nothing.
    static func box<T: Encodable>(_ value: T, at path: [any CodingKey]) throws -> JSONValue? {
        // Element types of arrays and dictionaries arrive here generically; the common ones
        // skip a nested encoder (the scalars told apart by their type, no dynamic cast; the
        // values that make their own JSON by one conformance check).
        if T.self == String.self { return .string(unsafeBitCast(value, to: String.self)) }
        if T.self == Int.self { return integer(unsafeBitCast(value, to: Int.self)) }
        if T.self == Int64.self { return integer(unsafeBitCast(value, to: Int64.self)) }
        if T.self == Bool.self { return .bool(unsafeBitCast(value, to: Bool.self)) }
        if T.self == JSONValue.self { return try unsafeBitCast(value, to: JSONValue.self).asWrittenByFoundation(at: path) }
        if let direct = value as? any JSONValueConvertible { return try direct.jsonValue() }
        if T.self == Date.self || T.self == Data.self || T.self == URL.self || T.self == Decimal.self {
            return try JSONValue.parse(JSONEncoder().encode(value))
        }
        let encoder = JSONValueEncoder(codingPath: path)
        try value.encode(to: encoder)
        return encoder.slot?.resolved
    }

    func container<Key: CodingKey>(keyedBy type: Key.Type) -> KeyedEncodingContainer<Key> {
        let object: JSONValueEncoderObject
        if case .object(let existing) = slot {
            object = existing
        } else {
            object = JSONValueEncoderObject()
            slot = .object(object)
        }
        return KeyedEncodingContainer(JSONValueKeyedEncoding<Key>(object: object, codingPath: codingPath))
    }

    func unkeyedContainer() -> any UnkeyedEncodingContainer {
        let array: JSONValueEncoderArray
        if case .array(let existing) = slot {
            array = existing
        } else {
            array = JSONValueEncoderArray()
            slot = .array(array)
        }
        return JSONValueUnkeyedEncoding(array: array, codingPath: codingPath)
    }

    func singleValueContainer() -> any SingleValueEncodingContainer { JSONValueSingleEncoding(encoder: self) }

    // MARK: Numbers as JSONEncoder writes them and JSONParser reads them back

    static func integer<T: FixedWidthInteger>(_ n: T) -> JSONValue {
        if let i = Int64(exactly: n) { return .int(i) }
        // Too big for Int64: the parser reads the digits as a double.
        return .double(Double(String(n))!)
    }

    static func double(_ d: Double, at path: @autoclosure () -> [any CodingKey]) throws -> JSONValue {
        guard d.isFinite else { throw nonFinite(d, at: path()) }
        if d.rounded() == d, abs(d) < 1e15 { return .int(Int64(d)) }
        return fromWritten(d.description)
    }

    static func float(_ f: Float, at path: @autoclosure () -> [any CodingKey]) throws -> JSONValue {
        guard f.isFinite else { throw nonFinite(f, at: path()) }
        // JSONEncoder writes a Float's own shortest text (0.1, not 0.10000000149011612).
        return fromWritten(f.description)
    }

    private static func nonFinite<F: BinaryFloatingPoint>(_ value: F, at path: [any CodingKey]) -> EncodingError {
        .invalidValue(value, .init(codingPath: path, debugDescription: "Unable to encode \(F.self).\(value) directly in JSON."))
    }

    /// JSONEncoder writes a number's description without a trailing ".0"; the parser reads
    /// text without a fraction or exponent that fits Int64 as `.int`, anything else as `.double`.
    private static func fromWritten(_ description: String) -> JSONValue {
        var text = Substring(description)
        if text.hasSuffix(".0") { text = text.dropLast(2) }
        if !text.contains(where: { $0 == "." || $0 == "e" || $0 == "E" }), let i = Int64(text) { return .int(i) }
        return .double(Double(text)!)
    }
}

/// The single value of an encoder: whatever was encoded last wins.
struct JSONValueSingleEncoding: SingleValueEncodingContainer {
    let encoder: JSONValueEncoder
    var codingPath: [any CodingKey] { encoder.codingPath }

    private func set(_ value: JSONValue) { encoder.slot = .value(value) }

    func encodeNil() { set(.null) }
    func encode(_ value: Bool) { set(.bool(value)) }
    func encode(_ value: String) { set(.string(value)) }
    func encode(_ value: Double) throws { set(try JSONValueEncoder.double(value, at: codingPath)) }
    func encode(_ value: Float) throws { set(try JSONValueEncoder.float(value, at: codingPath)) }
    func encode(_ value: Int) { set(JSONValueEncoder.integer(value)) }
    func encode(_ value: Int8) { set(JSONValueEncoder.integer(value)) }
    func encode(_ value: Int16) { set(JSONValueEncoder.integer(value)) }
    func encode(_ value: Int32) { set(JSONValueEncoder.integer(value)) }
    func encode(_ value: Int64) { set(JSONValueEncoder.integer(value)) }
    func encode(_ value: UInt) { set(JSONValueEncoder.integer(value)) }
    func encode(_ value: UInt8) { set(JSONValueEncoder.integer(value)) }
    func encode(_ value: UInt16) { set(JSONValueEncoder.integer(value)) }
    func encode(_ value: UInt32) { set(JSONValueEncoder.integer(value)) }
    func encode(_ value: UInt64) { set(JSONValueEncoder.integer(value)) }

    func encode<T: Encodable>(_ value: T) throws {
        set(try JSONValueEncoder.box(value, at: codingPath) ?? .object([:]))
    }
}

extension JSONValue {
    /// What `JSONValue.parse(JSONEncoder().encode(self))` gives: whole doubles in Int64's
    /// range written without a fraction come back as `.int`.
    /// - Throws: `EncodingError.invalidValue` for a non-finite double, at its path.
    func asWrittenByFoundation(at path: [any CodingKey]) throws -> JSONValue {
        guard containsDouble else { return self }
        switch self {
        case .double(let d):
            return try JSONValueEncoder.double(d, at: path)
        case .array(let items):
            return .array(try items.enumerated().map { try $1.asWrittenByFoundation(at: path + [JSONCodingKey(intValue: $0)]) })
        case .object(let members):
            var out: [String: JSONValue] = [:]
            out.reserveCapacity(members.count)
            for (key, value) in members { out[key] = try value.asWrittenByFoundation(at: path + [JSONCodingKey(member: key)]) }
            return .object(out)
        default:
            return self
        }
    }
}

/// A value that makes its own `JSONValue`, the one `JSONValueEncoder` would make of it
/// through its `Codable` conformance, without the encoder's containers: for values a run
/// writes by the thousand (a plan's steps). Foundation's `JSONEncoder` still uses `Codable`,
/// and a test holds the two equal (`EventBody.codablePayload`).
protocol JSONValueConvertible: Encodable {
    func jsonValue() throws -> JSONValue
}

extension PlannedStep: JSONValueConvertible {
    func jsonValue() throws -> JSONValue {
        var members: [String: JSONValue] = [
            "id": .string(id), "type": .string(type), "kind": .string(kind.rawValue), "pivot": .bool(pivot), "retry": try retry.jsonValue(),
        ]
        if let timeoutMillis { members["timeoutMillis"] = .int(timeoutMillis) }
        if let group { members["group"] = .string(group) }
        if let safety { members["safety"] = .array(safety.map(JSONValue.string)) }
        return .object(members)
    }
}

extension RetryPolicy: JSONValueConvertible {
    func jsonValue() throws -> JSONValue {
        .object([
            "attempts": JSONValueEncoder.integer(attempts), "initialBackoffMillis": .int(initialBackoffMillis),
            "multiplier": try JSONValueEncoder.double(multiplier, at: [JSONCodingKey(stringValue: "multiplier")]),
            "maxBackoffMillis": .int(maxBackoffMillis), "jitter": try JSONValueEncoder.double(jitter, at: [JSONCodingKey(stringValue: "jitter")]),
            "nonRetryable": .array(nonRetryable.map(JSONValue.string)),
        ])
    }
}
