/// Scalars read the way `JSONDecoder` reads them from canonical text: integers accept any
/// number whose decimal text is a whole number in range, floating-point fields accept
/// integers, and nothing converts between strings, booleans and numbers.
extension JSONValueDecoder {
    static func bool(_ value: JSONValue, at path: @autoclosure () -> [any CodingKey]) throws -> Bool {
        switch value.asSeenInText {
        case .bool(let b): return b
        case let other: throw wrongValue(Bool.self, other, at: path())
        }
    }

    static func string(_ value: JSONValue, at path: @autoclosure () -> [any CodingKey]) throws -> String {
        switch value.asSeenInText {
        case .string(let s): return s
        case let other: throw wrongValue(String.self, other, at: path())
        }
    }

    static func integer<T: FixedWidthInteger>(
        _ value: JSONValue, as type: T.Type, at path: @autoclosure () -> [any CodingKey]
    ) throws -> T {
        switch value.asSeenInText {
        case .int(let i):
            if let n = T(exactly: i) { return n }
        case .double(let d):
            // JSONDecoder reads "1.2345678901234568e+18" as the decimal it spells, not as the
            // nearest double, so the integer comes from the text too.
            if let n = exactInteger(d.description, as: T.self) { return n }
        case let other:
            throw wrongValue(T.self, other, at: path())
        }
        throw numberDoesNotFit()
    }

    static func double(_ value: JSONValue, at path: @autoclosure () -> [any CodingKey]) throws -> Double {
        switch value.asSeenInText {
        case .int(let i): return Double(i)
        case .double(let d): return d
        case let other: throw wrongValue(Double.self, other, at: path())
        }
    }

    static func float(_ value: JSONValue, at path: @autoclosure () -> [any CodingKey]) throws -> Float {
        switch value.asSeenInText {
        case .int(let i):
            return Float(i)
        case .double(let d):
            // Parsed from the text, as JSONDecoder does, rather than rounded twice via Double;
            // overflow to infinity and underflow to zero are refused like JSONDecoder refuses them.
            if let f = Float(d.description), f.isFinite, f != 0 { return f }
            throw numberDoesNotFit()
        case let other:
            throw wrongValue(Float.self, other, at: path())
        }
    }

    /// The error for a value of the wrong JSON type, or for null where a value is needed.
    static func wrongValue(_ type: Any.Type, _ value: JSONValue, at path: [any CodingKey]) -> DecodingError {
        if case .null = value {
            return .valueNotFound(
                type, .init(codingPath: path, debugDescription: "Cannot get value of type \(type) -- found null value instead"))
        }
        return mismatch(type, value, at: path)
    }

    static func mismatch(_ type: Any.Type, _ value: JSONValue, at path: [any CodingKey]) -> DecodingError {
        let found: String
        switch value {
        case .null: found = "null"
        case .bool: found = "bool"
        case .int, .double: found = "number"
        case .string: found = "a string"
        case .array: found = "an array"
        case .object: found = "a dictionary"
        }
        return .typeMismatch(type, .init(codingPath: path, debugDescription: "Expected to decode \(type) but found \(found) instead."))
    }

    /// JSONDecoder reports a number that does not fit the field as corrupt data at the top,
    /// with no path; callers compare errors with it, so this one says the same.
    static func numberDoesNotFit() -> DecodingError {
        .dataCorrupted(.init(codingPath: [], debugDescription: "The given data was not valid JSON."))
    }

    /// The integer a decimal number's text spells exactly ("1.5e+3" is 1500), or nil when it
    /// has a fraction or is out of `T`'s range.
    static func exactInteger<T: FixedWidthInteger>(_ text: String, as type: T.Type) -> T? {
        var body = Substring(text)
        let negative = body.first == "-"
        if negative { body = body.dropFirst() }
        var exponent = 0
        if let e = body.firstIndex(where: { $0 == "e" || $0 == "E" }) {
            guard let x = Int(body[body.index(after: e)...]) else { return nil }
            exponent = x
            body = body[..<e]
        }
        var digits = body.utf8.filter { $0 != UInt8(ascii: ".") }
        if let dot = body.firstIndex(of: ".") { exponent -= body.distance(from: dot, to: body.endIndex) - 1 }
        guard digits.allSatisfy({ (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) }) else { return nil }
        digits = Array(digits.drop { $0 == UInt8(ascii: "0") })
        if digits.isEmpty { return 0 }
        if exponent < 0 {
            let cut = -exponent
            guard cut < digits.count, digits.suffix(cut).allSatisfy({ $0 == UInt8(ascii: "0") }) else { return nil }
            digits.removeLast(cut)
        } else {
            guard exponent <= 40 else { return nil }
            digits += repeatElement(UInt8(ascii: "0"), count: exponent)
        }
        var n: T = 0
        for d in digits {
            let (shifted, o1) = n.multipliedReportingOverflow(by: 10)
            let digit = T(d - UInt8(ascii: "0"))
            let (next, o2) = negative ? shifted.subtractingReportingOverflow(digit) : shifted.addingReportingOverflow(digit)
            guard !o1, !o2 else { return nil }
            n = next
        }
        return n
    }
}

extension JSONValue {
    /// The value as its canonical text reads back: non-finite numbers are written as null,
    /// whole numbers under 1e15 as integers (so -0.0 reads as 0).
    var asSeenInText: JSONValue {
        guard case .double(let d) = self else { return self }
        if !d.isFinite { return .null }
        if d.rounded() == d, abs(d) < 1e15 { return .int(Int64(d)) }
        return self
    }

    /// What JSONValue's own `init(from:)` makes of the canonical text under `JSONDecoder`:
    /// every number whose text spells a whole Int64 becomes `.int`, non-finite ones `.null`.
    var asDecodedByFoundation: JSONValue {
        guard containsDouble else { return self }
        switch self {
        case .double(let d):
            let seen = asSeenInText
            guard case .double = seen else { return seen }
            return JSONValueDecoder.exactInteger(d.description, as: Int64.self).map { .int($0) } ?? seen
        case .array(let items): return .array(items.map(\.asDecodedByFoundation))
        case .object(let members): return .object(members.mapValues(\.asDecodedByFoundation))
        default: return self
        }
    }

    /// Whether a `.double` appears anywhere in the value: most values have none, and then
    /// they need no rebuilding on the way in or out.
    var containsDouble: Bool {
        switch self {
        case .double: return true
        case .array(let items): return items.contains { $0.containsDouble }
        case .object(let members): return members.values.contains { $0.containsDouble }
        default: return false
        }
    }
}
