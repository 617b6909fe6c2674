/// What an encoder or a container member holds so far. Nested containers and super
/// encoders are handed out before they are filled, so they are kept by reference and read
/// once the outermost value has finished encoding.
enum JSONValueEncoderSlot {
    case value(JSONValue)
    case object(JSONValueEncoderObject)
    case array(JSONValueEncoderArray)
    case encoder(JSONValueEncoder)

    var resolved: JSONValue {
        switch self {
        case .value(let v): return v
        case .object(let o): return o.resolved
        case .array(let a): return a.resolved
        // A super encoder nothing was encoded into is an empty object, as in JSONEncoder.
        case .encoder(let e): return e.slot?.resolved ?? .object([:])
        }
    }
}

/// An object being encoded: finished members, plus nested containers still being filled.
final class JSONValueEncoderObject {
    private var members: [String: JSONValue] = [:]
    private var pending: [String: JSONValueEncoderSlot] = [:]

    func set(_ value: JSONValue, for key: String) {
        members[key] = value
        if !pending.isEmpty { pending[key] = nil }
    }

    func setPending(_ slot: JSONValueEncoderSlot, for key: String) {
        pending[key] = slot
        members[key] = nil
    }

    var resolved: JSONValue {
        guard !pending.isEmpty else { return .object(members) }
        var out = members
        for (key, slot) in pending { out[key] = slot.resolved }
        return .object(out)
    }
}

/// An array being encoded: finished items, plus nested containers still being filled.
final class JSONValueEncoderArray {
    private(set) var items: [JSONValue] = []
    private var pending: [(index: Int, slot: JSONValueEncoderSlot)] = []

    func append(_ value: JSONValue) { items.append(value) }

    func appendPending(_ slot: JSONValueEncoderSlot) {
        pending.append((items.count, slot))
        items.append(.null)
    }

    var resolved: JSONValue {
        guard !pending.isEmpty else { return .array(items) }
        var out = items
        for (index, slot) in pending { out[index] = slot.resolved }
        return .array(out)
    }
}

/// Members of an object, by key. A later value for the same key replaces the earlier one.
struct JSONValueKeyedEncoding<Key: CodingKey>: KeyedEncodingContainerProtocol {
    let object: JSONValueEncoderObject
    let codingPath: [any CodingKey]

    private func set(_ value: JSONValue, _ key: Key) { object.set(value, for: key.stringValue) }

    mutating func encodeNil(forKey key: Key) { set(.null, key) }
    mutating func encode(_ value: Bool, forKey key: Key) { set(.bool(value), key) }
    mutating func encode(_ value: String, forKey key: Key) { set(.string(value), key) }
    mutating func encode(_ value: Double, forKey key: Key) throws {
        set(try JSONValueEncoder.double(value, at: codingPath + [key]), key)
    }
    mutating func encode(_ value: Float, forKey key: Key) throws {
        set(try JSONValueEncoder.float(value, at: codingPath + [key]), key)
    }
    mutating func encode(_ value: Int, forKey key: Key) { set(JSONValueEncoder.integer(value), key) }
    mutating func encode(_ value: Int8, forKey key: Key) { set(JSONValueEncoder.integer(value), key) }
    mutating func encode(_ value: Int16, forKey key: Key) { set(JSONValueEncoder.integer(value), key) }
    mutating func encode(_ value: Int32, forKey key: Key) { set(JSONValueEncoder.integer(value), key) }
    mutating func encode(_ value: Int64, forKey key: Key) { set(JSONValueEncoder.integer(value), key) }
    mutating func encode(_ value: UInt, forKey key: Key) { set(JSONValueEncoder.integer(value), key) }
    mutating func encode(_ value: UInt8, forKey key: Key) { set(JSONValueEncoder.integer(value), key) }
    mutating func encode(_ value: UInt16, forKey key: Key) { set(JSONValueEncoder.integer(value), key) }
    mutating func encode(_ value: UInt32, forKey key: Key) { set(JSONValueEncoder.integer(value), key) }
    mutating func encode(_ value: UInt64, forKey key: Key) { set(JSONValueEncoder.integer(value), key) }

    mutating func encode<T: Encodable>(_ value: T, forKey key: Key) throws {
        set(try JSONValueEncoder.box(value, at: codingPath + [key]) ?? .object([:]), key)
    }

    mutating func nestedContainer<NestedKey: CodingKey>(
        keyedBy keyType: NestedKey.Type, forKey key: Key
    ) -> KeyedEncodingContainer<NestedKey> {
        let nested = JSONValueEncoderObject()
        object.setPending(.object(nested), for: key.stringValue)
        return KeyedEncodingContainer(JSONValueKeyedEncoding<NestedKey>(object: nested, codingPath: codingPath + [key]))
    }

    mutating func nestedUnkeyedContainer(forKey key: Key) -> any UnkeyedEncodingContainer {
        let nested = JSONValueEncoderArray()
        object.setPending(.array(nested), for: key.stringValue)
        return JSONValueUnkeyedEncoding(array: nested, codingPath: codingPath + [key])
    }

    mutating func superEncoder() -> any Encoder {
        let encoder = JSONValueEncoder(codingPath: codingPath + [JSONCodingKey.superKey])
        object.setPending(.encoder(encoder), for: JSONCodingKey.superKey.stringValue)
        return encoder
    }

    mutating func superEncoder(forKey key: Key) -> any Encoder {
        let encoder = JSONValueEncoder(codingPath: codingPath + [key])
        object.setPending(.encoder(encoder), for: key.stringValue)
        return encoder
    }
}

/// Items of an array, in the order they are encoded.
struct JSONValueUnkeyedEncoding: UnkeyedEncodingContainer {
    let array: JSONValueEncoderArray
    let codingPath: [any CodingKey]

    var count: Int { array.items.count }

    /// The path of the item about to be appended.
    private var path: [any CodingKey] { codingPath + [JSONCodingKey(intValue: count)] }

    mutating func encodeNil() { array.append(.null) }
    mutating func encode(_ value: Bool) { array.append(.bool(value)) }
    mutating func encode(_ value: String) { array.append(.string(value)) }
    mutating func encode(_ value: Double) throws { array.append(try JSONValueEncoder.double(value, at: path)) }
    mutating func encode(_ value: Float) throws { array.append(try JSONValueEncoder.float(value, at: path)) }
    mutating func encode(_ value: Int) { array.append(JSONValueEncoder.integer(value)) }
    mutating func encode(_ value: Int8) { array.append(JSONValueEncoder.integer(value)) }
    mutating func encode(_ value: Int16) { array.append(JSONValueEncoder.integer(value)) }
    mutating func encode(_ value: Int32) { array.append(JSONValueEncoder.integer(value)) }
    mutating func encode(_ value: Int64) { array.append(JSONValueEncoder.integer(value)) }
    mutating func encode(_ value: UInt) { array.append(JSONValueEncoder.integer(value)) }
    mutating func encode(_ value: UInt8) { array.append(JSONValueEncoder.integer(value)) }
    mutating func encode(_ value: UInt16) { array.append(JSONValueEncoder.integer(value)) }
    mutating func encode(_ value: UInt32) { array.append(JSONValueEncoder.integer(value)) }
    mutating func encode(_ value: UInt64) { array.append(JSONValueEncoder.integer(value)) }

    mutating func encode<T: Encodable>(_ value: T) throws {
        array.append(try JSONValueEncoder.box(value, at: path) ?? .object([:]))
    }

    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type) -> KeyedEncodingContainer<NestedKey> {
        let nested = JSONValueEncoderObject()
        let at = path
        array.appendPending(.object(nested))
        return KeyedEncodingContainer(JSONValueKeyedEncoding<NestedKey>(object: nested, codingPath: at))
    }

    mutating func nestedUnkeyedContainer() -> any UnkeyedEncodingContainer {
        let nested = JSONValueEncoderArray()
        let at = path
        array.appendPending(.array(nested))
        return JSONValueUnkeyedEncoding(array: nested, codingPath: at)
    }

    mutating func superEncoder() -> any Encoder {
        let encoder = JSONValueEncoder(codingPath: path)
        array.appendPending(.encoder(encoder))
        return encoder
    }
}
