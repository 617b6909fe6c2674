import CutoverCore
import Foundation
import Testing

/// Numbers and the shapes Codable types are made of, through `JSONValue.decode`/`encode`,
/// against the Foundation path they replaced.
@Suite struct JSONValueNumberCodingTests {
    struct Widths: Codable, Sendable, Equatable {
        var i: Int, i8: Int8, i16: Int16, i32: Int32, i64: Int64
        var u: UInt, u8: UInt8, u16: UInt16, u32: UInt32, u64: UInt64
        var f: Float, d: Double, b: Bool
    }

    enum Colour: String, Codable, Sendable { case red, green }

    struct Inner: Codable, Sendable, Equatable {
        var id: Int
        var weight: Double?
    }

    struct Shapes: Codable, Sendable, Equatable {
        var name: String
        var note: String?
        var tags: [String]
        var counts: [String: Int]
        var nested: Inner?
        var items: [Inner]
        var colour: Colour
        var colours: [Colour]?
        var extra: JSONValue
        var maybe: [Int?]
        var grid: [[Double]]
    }

    /// Hand-written coding through nested containers, super coders and `decodeNil`.
    struct Containers: Codable, Sendable, Equatable {
        var a: Int
        var list: [String?]
        var inner: Inner

        enum Keys: String, CodingKey { case box, list }
        enum BoxKeys: String, CodingKey { case a }

        init(a: Int, list: [String?], inner: Inner) {
            self.a = a
            self.list = list
            self.inner = inner
        }

        init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: Keys.self)
            a = try c.nestedContainer(keyedBy: BoxKeys.self, forKey: .box).decode(Int.self, forKey: .a)
            var u = try c.nestedUnkeyedContainer(forKey: .list)
            list = []
            while !u.isAtEnd { list.append(try u.decodeNil() ? nil : try u.decode(String.self)) }
            inner = try Inner(from: c.superDecoder())
        }

        func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: Keys.self)
            var box = c.nestedContainer(keyedBy: BoxKeys.self, forKey: .box)
            try box.encode(a, forKey: .a)
            var u = c.nestedUnkeyedContainer(forKey: .list)
            for item in list { if let item { try u.encode(item) } else { try u.encodeNil() } }
            try inner.encode(to: c.superEncoder())
        }
    }

    static let widths = #"{"i":-1,"i8":-128,"i16":32767,"i32":-2147483648,"i64":9223372036854775807,"#
        + #""u":1,"u8":255,"u16":65535,"u32":4294967295,"u64":9223372036854775807,"f":0.1,"d":-2.5e-7,"b":false"#

    static let decoding: [DecodingCase] = [
        .init(Widths.self, widths + "}"),
        .init(Widths.self, widths.replacingOccurrences(of: #""i8":-128"#, with: #""i8":-129"#) + "}"),
        .init(Widths.self, widths.replacingOccurrences(of: #""u8":255"#, with: #""u8":-1"#) + "}"),
        .init(Widths.self, widths.replacingOccurrences(of: #""i":-1"#, with: #""i":2.5"#) + "}"),
        .init(Widths.self, widths.replacingOccurrences(of: #""f":0.1"#, with: #""f":1e300"#) + "}"),
        .init(Widths.self, widths.replacingOccurrences(of: #""f":0.1"#, with: #""f":1e-50"#) + "}"),
        .init(Widths.self, widths.replacingOccurrences(of: #""f":0.1"#, with: #""f":16777217"#) + "}"),
        .init(Widths.self, widths.replacingOccurrences(of: #""b":false"#, with: #""b":0"#) + "}"),
        .init([Int].self, "[3.0, 1e15, -0.0, 1e2]"),
        .init([Int64].self, "[1.2345678901234568e18]"),
        .init([Int].self, "[1e20]"),
        .init([Int].self, "[0.5]"),
        .init([Int8].self, "[300]"),
        .init([UInt64].self, "[18446744073709551615]"),
        .init([Double].self, #"[3, -0.0, 0.5, 1e20, 9223372036854775807, 5e-324]"#),
        .init([Double].self, #"["3"]"#),
        .init([Float].self, "[0.1, 3, 1e20, 3.4028235e38]"),
        .init([Double?].self, "[null, 1]"),
        .init([Int].self, "[null]"),
        .init([String].self, #"["a\"b\\c\n\u0001é😀/"]"#),
        .init([String: Int].self, #"{"a":1,"b":"2"}"#),
        .init([String: [Int]].self, #"{"a":[1],"b":null}"#),
        .init([Colour].self, #"["red","blue"]"#),
        .init(Colour.self, "1"),
        .init(Shapes.self, #"{"name":"n","tags":[],"counts":{"a":1},"items":[{"id":1,"weight":0.5},{"id":2,"weight":null}],"#
            + #""colour":"green","extra":{"k":[1.0,2.5]},"maybe":[1,null],"grid":[[1,2.5],[]]}"#),
        .init(Shapes.self, #"{"name":"n","tags":[],"counts":{},"items":[{"weight":1}],"colour":"red","extra":null,"maybe":[],"grid":[]}"#),
        .init(Shapes.self, #"{"name":"n","tags":[],"counts":{},"items":[],"colour":"red","extra":1,"maybe":[],"grid":[[null]]}"#),
        .init(Shapes.self, #"{"name":"n","tags":{},"counts":{},"items":[],"colour":"red","extra":1,"maybe":[],"grid":[]}"#),
        .init(Shapes.self, "null"),
        .init(Containers.self, #"{"box":{"a":1},"list":["x",null],"super":{"id":7}}"#),
        .init(Containers.self, #"{"box":null,"list":[]}"#),
        .init(Containers.self, #"{"box":{"a":1},"list":5}"#),
        .init(Containers.self, #"{"box":{"a":1},"list":[]}"#),
    ]

    @Test(arguments: decoding)
    func decodingMatchesFoundation(_ c: DecodingCase) {
        #expect(c.differences() == [])
    }

    static let encoding: [EncodingCase] = [
        .init([3.0, -0.0, 0.5, 1e20, 1e15, 1e16, 999_999_999_999_999.0, 123_456_789_012_345.6, 1.2345678901234568e18]),
        .init([Double.greatestFiniteMagnitude, .leastNonzeroMagnitude, 1e-7, -1e21, 9.3e18]),
        .init([Float(0.1), 3, 1e20, -0.0, 16_777_216, .greatestFiniteMagnitude]),
        .init([Int64.max, Int64.min]),
        .init([UInt64.max, UInt64(Int64.max)]),
        .init([Int8.min], "Int8.min"),
        .init([Double.nan], "NaN"),
        .init(["a": [1.0, .infinity]], "infinity in a dictionary"),
        .init([Float.nan], "Float NaN"),
        .init(3.0, "top-level 3.0"),
        .init(Widths(i: 1, i8: 2, i16: 3, i32: 4, i64: 5, u: 6, u8: 7, u16: 8, u32: 9, u64: .max, f: 1.5, d: 2, b: true)),
        .init(Inner(id: 1, weight: nil), "Inner without its optional"),
        .init([Int?.none, 1], "nil in an array"),
        .init(Optional<Int>.none, "top-level nil"),
        .init(Containers(a: 1, list: ["x", nil], inner: Inner(id: 2, weight: 0.25))),
        .init(JSONValue.object(["a": .double(3.0), "b": .array([.double(-0.0), .double(0.5), .int(7)])]), "JSONValue with doubles"),
        .init(JSONValue.array([.double(.nan)]), "JSONValue with NaN"),
        .init(Date(timeIntervalSinceReferenceDate: 1.5), "Date"),
        .init(["d": Data([1, 2, 3])], "Data in a dictionary"),
        .init(URL(string: "https://example.com/a")!, "URL"),
    ]

    @Test(arguments: encoding)
    func encodingMatchesFoundation(_ c: EncodingCase) {
        #expect(c.differences() == [])
    }

    @Test func wholeDoublesEncodeAsIntegersAsTheParserReadJSONEncodersText() throws {
        #expect(try JSONValue.encode(3.0) == .int(3))
        #expect(try JSONValue.encode(-0.0) == .int(0))
        #expect(try JSONValue.encode(0.5) == .double(0.5))
        #expect(try JSONValue.encode(1e20) == .double(1e20))
        #expect(try JSONValue.encode(1e15) == .int(1_000_000_000_000_000))
        #expect(try JSONValue.encode(Int64.max) == .int(.max))
        #expect(try JSONValue.encode(UInt64.max) == .double(Double(UInt64.max)))
        #expect(throws: EncodingError.self) { try JSONValue.encode(Double.nan) }
    }

    @Test func integersRefuseFractionsAndOutOfRangeValues() throws {
        #expect(try JSONValue.double(3.0).decode(Int.self) == 3)
        #expect(try JSONValue.int(3).decode(Double.self) == 3)
        #expect(try JSONValue.double(1.2345678901234568e18).decode(Int64.self) == 1_234_567_890_123_456_800)
        #expect(throws: DecodingError.self) { try JSONValue.double(0.5).decode(Int.self) }
        #expect(throws: DecodingError.self) { try JSONValue.int(300).decode(Int8.self) }
        #expect(throws: DecodingError.self) { try JSONValue.int(-1).decode(UInt.self) }
        #expect(throws: DecodingError.self) { try JSONValue.double(1e20).decode(Int64.self) }
    }
}
