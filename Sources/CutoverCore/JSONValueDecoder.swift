import Foundation

/// Decodes `Decodable` values straight from a `JSONValue`, without writing the value out as
/// text for `JSONDecoder` to read back (every step's parameters and output go through here).
///
/// It gives what `JSONDecoder` gives for the value's canonical text, errors included: the
/// same `DecodingError` case, coding path and description, because `DecodingErrorText`
/// shows those to the people who wrote the workflow. `Date`, `Data`, `URL` and `Decimal`,
/// which `JSONDecoder` treats specially, are still read by `JSONDecoder`.
struct JSONValueDecoder: Decoder {
    let value: JSONValue
    let codingPath: [any CodingKey]
    var userInfo: [CodingUserInfoKey: Any] { [:] }

    /// Decodes a `T` from `value`.
    /// - Throws: `DecodingError` as `JSONDecoder` would for `value.canonicalString`.
    static func decode<T: Decodable>(_ type: T.Type, from value: JSONValue) throws -> T {
        try unbox(value, as: T.self, at: [])
    }

    /// Decodes one value found at `path`.
    static func unbox<T: Decodable>(_ value: JSONValue, as type: T.Type, at path: [any CodingKey]) throws -> T {
        // Element types of arrays and dictionaries arrive here generically; the common ones
        // skip a nested decoder.
        if T.self == String.self { return try string(value, at: path) as! T }
        if T.self == Int.self { return try integer(value, as: Int.self, at: path) as! T }
        if T.self == Int64.self { return try integer(value, as: Int64.self, at: path) as! T }
        if T.self == Bool.self { return try bool(value, at: path) as! T }
        if T.self == JSONValue.self {
            // What JSONValue's own init(from:) makes of the canonical text, without the try?
            // chain that throws an error for every value that is not a string.
            return value.asDecodedByFoundation as! T
        }
        if T.self == Date.self || T.self == Data.self || T.self == URL.self || T.self == Decimal.self {
            return try JSONDecoder().decode(T.self, from: Data(value.canonicalBytes))
        }
        return try T(from: JSONValueDecoder(value: value, codingPath: path))
    }

    func container<Key: CodingKey>(keyedBy type: Key.Type) throws -> KeyedDecodingContainer<Key> {
        switch value.asSeenInText {
        case .object(let members):
            return KeyedDecodingContainer(JSONValueKeyedDecoding<Key>(members: members, codingPath: codingPath))
        case .null:
            throw DecodingError.valueNotFound(
                [String: Any].self,
                .init(codingPath: codingPath, debugDescription: "Cannot get keyed decoding container -- found null value instead"))
        case let other:
            throw Self.mismatch([String: Any].self, other, at: codingPath)
        }
    }

    func unkeyedContainer() throws -> any UnkeyedDecodingContainer {
        switch value.asSeenInText {
        case .array(let items):
            return JSONValueUnkeyedDecoding(items: items, codingPath: codingPath)
        case .null:
            throw DecodingError.valueNotFound(
                [Any].self,
                .init(codingPath: codingPath, debugDescription: "Cannot get unkeyed decoding container -- found null value instead"))
        case let other:
            throw Self.mismatch([Any].self, other, at: codingPath)
        }
    }

    func singleValueContainer() throws -> any SingleValueDecodingContainer { self }
}

extension JSONValueDecoder: SingleValueDecodingContainer {
    func decodeNil() -> Bool { value.asSeenInText == .null }
    func decode(_ type: Bool.Type) throws -> Bool { try Self.bool(value, at: codingPath) }
    func decode(_ type: String.Type) throws -> String { try Self.string(value, at: codingPath) }
    func decode(_ type: Double.Type) throws -> Double { try Self.double(value, at: codingPath) }
    func decode(_ type: Float.Type) throws -> Float { try Self.float(value, at: codingPath) }
    func decode(_ type: Int.Type) throws -> Int { try Self.integer(value, as: type, at: codingPath) }
    func decode(_ type: Int8.Type) throws -> Int8 { try Self.integer(value, as: type, at: codingPath) }
    func decode(_ type: Int16.Type) throws -> Int16 { try Self.integer(value, as: type, at: codingPath) }
    func decode(_ type: Int32.Type) throws -> Int32 { try Self.integer(value, as: type, at: codingPath) }
    func decode(_ type: Int64.Type) throws -> Int64 { try Self.integer(value, as: type, at: codingPath) }
    func decode(_ type: UInt.Type) throws -> UInt { try Self.integer(value, as: type, at: codingPath) }
    func decode(_ type: UInt8.Type) throws -> UInt8 { try Self.integer(value, as: type, at: codingPath) }
    func decode(_ type: UInt16.Type) throws -> UInt16 { try Self.integer(value, as: type, at: codingPath) }
    func decode(_ type: UInt32.Type) throws -> UInt32 { try Self.integer(value, as: type, at: codingPath) }
    func decode(_ type: UInt64.Type) throws -> UInt64 { try Self.integer(value, as: type, at: codingPath) }
    func decode<T: Decodable>(_ type: T.Type) throws -> T { try Self.unbox(value, as: T.self, at: codingPath) }
}

/// The coding key of an array element or of a superclass, spelled as `JSONDecoder` and
/// `JSONEncoder` spell them ("Index 3", "super") so that coding paths read the same.
struct JSONCodingKey: CodingKey {
    let stringValue: String
    let intValue: Int?

    init(stringValue: String) {
        self.stringValue = stringValue
        intValue = nil
    }

    init(intValue: Int) {
        stringValue = "Index \(intValue)"
        self.intValue = intValue
    }

    /// A member of a `[String: X]`, keyed as the standard library keys one: a member named
    /// like a number also has that number as its int value.
    init(member: String) {
        stringValue = member
        intValue = Int(member)
    }

    static let superKey = JSONCodingKey(stringValue: "super")
}
