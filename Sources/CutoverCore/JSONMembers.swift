/// The members of one JSON object, read straight from its bytes: the whole text is checked
/// as strictly as `JSONParser` checks it (syntax, escapes, UTF-8, duplicate keys at every
/// level, nesting depth), but no tree is built. Each member's value stays a byte range until a
/// reader asks for it as a string, an integer, a tree, or its text. Valid only while the bytes
/// it was made from are.
///
/// Payload readers use it to decode the frequent and the large events without the tree and
/// the `Codable` machinery; whatever they do not recognise they leave to the ordinary path.
public struct JSONMembers {
    private let b: UnsafeBufferPointer<UInt8>
    private var keys: [Range<Int>] = []
    private var values: [Range<Int>] = []

    /// Nil unless `bytes` is exactly one valid JSON object (surrounding whitespace allowed).
    public init?(_ bytes: UnsafeRawBufferPointer) {
        b = UnsafeBufferPointer(start: bytes.baseAddress?.assumingMemoryBound(to: UInt8.self), count: bytes.count)
        var scan = JSONSkim(b: b)
        scan.skipSpace()
        guard scan.i < b.count, b[scan.i] == UInt8(ascii: "{"), let members = scan.object(collect: true) else { return nil }
        scan.skipSpace()
        guard scan.i == b.count else { return nil }
        keys = members.keys
        values = members.values
    }

    public var count: Int { keys.count }

    /// The bytes of `key`'s value, if the object has that key (spelled without escapes).
    public func raw(_ key: StaticString) -> UnsafeBufferPointer<UInt8>? {
        let k = UnsafeBufferPointer(start: key.utf8Start, count: key.utf8CodeUnitCount)
        for (n, r) in keys.enumerated() where r.count == k.count && UnsafeBufferPointer(rebasing: b[r]).elementsEqual(k) {
            return UnsafeBufferPointer(rebasing: b[values[n]])
        }
        return nil
    }

    /// Whether every key of the object is one of `known` (readers leave anything else to the
    /// ordinary path, which says what is wrong or what it ignores).
    public func has(only known: [StaticString]) -> Bool {
        keys.allSatisfy { r in
            known.contains { k in r.count == k.utf8CodeUnitCount && UnsafeBufferPointer(rebasing: b[r]).elementsEqual(UnsafeBufferPointer(start: k.utf8Start, count: k.utf8CodeUnitCount)) }
        }
    }

    /// A string value; nil when missing or not a string.
    public func string(_ key: StaticString) -> String? {
        guard let v = raw(key), v.first == UInt8(ascii: "\"") else { return nil }
        let inner = UnsafeBufferPointer(rebasing: v[(v.startIndex + 1)..<(v.endIndex - 1)])
        // Already checked: without escapes the bytes are the string.
        if !inner.contains(UInt8(ascii: "\\")) { return String(decoding: inner, as: UTF8.self) }
        return (try? JSONParser.parse(v))?.stringValue
    }

    /// An integer written as plain digits; nil when missing, fractional, or out of range.
    public func int(_ key: StaticString) -> Int64? {
        guard let v = raw(key), let first = v.first, first == UInt8(ascii: "-") || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(first),
            v.allSatisfy({ $0 == UInt8(ascii: "-") || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) })
        else { return nil }
        return Int64(String(decoding: v, as: UTF8.self))
    }

    public func bool(_ key: StaticString) -> Bool? {
        switch raw(key).map({ String(decoding: $0, as: UTF8.self) }) {
        case "true": true
        case "false": false
        default: nil
        }
    }

    /// Whether `key` is missing or null (how `Codable` reads an absent optional).
    public func isAbsent(_ key: StaticString) -> Bool {
        guard let v = raw(key) else { return true }
        return v.elementsEqual("null".utf8)
    }

    public func double(_ key: StaticString) -> Double? {
        guard let v = raw(key), let first = v.first, first == UInt8(ascii: "-") || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(first) else {
            return nil
        }
        return Double(String(decoding: v, as: UTF8.self))
    }

    /// An object value's own members.
    public func members(_ key: StaticString) -> JSONMembers? {
        guard let v = raw(key), v.first == UInt8(ascii: "{") else { return nil }
        return JSONMembers(UnsafeRawBufferPointer(v))
    }

    /// The elements of an array value, each an object; nil when any is not.
    public func objects(_ key: StaticString) -> [JSONMembers]? {
        guard let v = raw(key), v.first == UInt8(ascii: "[") else { return nil }
        var scan = JSONSkim(b: v)
        guard let ranges = scan.array(collect: true) else { return nil }
        var out: [JSONMembers] = []
        out.reserveCapacity(ranges.count)
        for r in ranges {
            guard let m = JSONMembers(UnsafeRawBufferPointer(UnsafeBufferPointer(rebasing: v[r]))) else { return nil }
            out.append(m)
        }
        return out
    }

    /// The elements of an array value, each a string; nil when any is not.
    public func strings(_ key: StaticString) -> [String]? {
        guard let v = raw(key), v.first == UInt8(ascii: "["), case .array(let items)? = try? JSONParser.parse(v) else { return nil }
        var out: [String] = []
        for item in items {
            guard case .string(let s) = item else { return nil }
            out.append(s)
        }
        return out
    }

    /// The value as a tree.
    public func value(_ key: StaticString) -> JSONValue? {
        raw(key).flatMap { try? JSONParser.parse($0) }
    }

    /// The value's text exactly as it stands (already checked to be valid JSON).
    public func text(_ key: StaticString) -> String? {
        raw(key).map { String(decoding: $0, as: UTF8.self) }
    }
}
