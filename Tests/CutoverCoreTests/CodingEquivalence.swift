import CutoverCore
import Foundation
import Testing

/// One type and one JSON input, decoded and re-encoded both by `JSONValue.decode`/`encode`
/// and by the Foundation path they replaced (`JSONDecoder` on the canonical text,
/// `JSONEncoder` then `JSONValue.parse`).
struct DecodingCase: Sendable, CustomTestStringConvertible {
    let testDescription: String
    /// What differs between the two paths; empty when they agree.
    let differences: @Sendable () -> [String]

    init<T: Codable & Sendable>(_ type: T.Type, _ json: String) {
        self.init(type, Self.fixture(json), json)
    }

    init<T: Codable & Sendable>(_ type: T.Type, _ value: JSONValue, _ label: String? = nil) {
        testDescription = "\(T.self) from \(label ?? value.canonicalString)"
        differences = { CodingEquivalence.differences(T.self, value, same: { _, _ in true }) }
    }

    /// For Equatable types the decoded values are compared directly too.
    init<T: Codable & Sendable & Equatable>(_ type: T.Type, _ json: String) {
        self.init(type, Self.fixture(json), json)
    }

    init<T: Codable & Sendable & Equatable>(_ type: T.Type, _ value: JSONValue, _ label: String? = nil) {
        testDescription = "\(T.self) from \(label ?? value.canonicalString)"
        differences = { CodingEquivalence.differences(T.self, value, same: { $0 == $1 }) }
    }

    private static func fixture(_ json: String) -> JSONValue {
        do { return try JSONValue.parse(json) } catch { fatalError("fixture is not JSON: \(json)") }
    }
}

/// One value encoded by `JSONValue.encode` and by `JSONEncoder` then `JSONValue.parse`.
struct EncodingCase: Sendable, CustomTestStringConvertible {
    let testDescription: String
    let differences: @Sendable () -> [String]

    init<T: Encodable & Sendable>(_ value: T, _ label: String? = nil) {
        testDescription = label ?? "\(T.self) \(value)"
        differences = { CodingEquivalence.encodingDifferences(value) }
    }
}

enum CodingEquivalence {
    static func differences<T: Codable>(_ type: T.Type, _ value: JSONValue, same: (T, T) -> Bool) -> [String] {
        let old = Result { try JSONDecoder().decode(T.self, from: Data(value.canonicalString.utf8)) }
        let new = Result { try value.decode(T.self) }
        switch (old, new) {
        case (.success(let o), .success(let n)):
            var out: [String] = []
            if !same(o, n) { out.append("decoded values differ: Foundation \(o), ours \(n)") }
            // The same value seen through Foundation's encoder, so non-Equatable types compare too.
            if let a = try? viaFoundation(o), let b = try? viaFoundation(n), a != b {
                out.append("decoded values encode differently: Foundation \(a.canonicalString), ours \(b.canonicalString)")
            }
            return out + encodingDifferences(n)
        case (.failure(let o), .failure(let n)):
            let a = shape(o)
            let b = shape(n)
            return a == b ? [] : ["errors differ: Foundation \(a), ours \(b)"]
        case (.success(let o), .failure(let n)):
            return ["Foundation decoded \(o), ours threw \(shape(n))"]
        case (.failure(let o), .success(let n)):
            return ["Foundation threw \(shape(o)), ours decoded \(n)"]
        }
    }

    static func encodingDifferences<T: Encodable>(_ value: T) -> [String] {
        let old = Result { try viaFoundation(value) }
        let new = Result { try JSONValue.encode(value) }
        switch (old, new) {
        case (.success(let a), .success(let b)):
            return a == b && a.canonicalString == b.canonicalString ? [] : ["encoded differently: Foundation \(a), ours \(b)"]
        case (.failure(let a), .failure(let b)):
            return shape(a) == shape(b) ? [] : ["encoding errors differ: Foundation \(shape(a)), ours \(shape(b))"]
        case (.success(let a), .failure(let b)):
            return ["Foundation encoded \(a), ours threw \(shape(b))"]
        case (.failure(let a), .success(let b)):
            return ["Foundation threw \(shape(a)), ours encoded \(b)"]
        }
    }

    static func viaFoundation<T: Encodable>(_ value: T) throws -> JSONValue {
        try JSONValue.parse(JSONEncoder().encode(value))
    }

    /// The parts of an error callers see: its case, its coding path and its description.
    static func shape(_ error: any Error) -> String {
        func path(_ keys: [any CodingKey]) -> String {
            keys.map { $0.intValue.map { "[\($0)]" } ?? ".\($0.stringValue)" }.joined()
        }
        switch error {
        case DecodingError.keyNotFound(let key, let c):
            return "keyNotFound \(key.stringValue) at '\(path(c.codingPath))': \(c.debugDescription)"
        case DecodingError.typeMismatch(let type, let c):
            return "typeMismatch \(type) at '\(path(c.codingPath))': \(c.debugDescription)"
        case DecodingError.valueNotFound(let type, let c):
            return "valueNotFound \(type) at '\(path(c.codingPath))': \(c.debugDescription)"
        case DecodingError.dataCorrupted(let c):
            return "dataCorrupted at '\(path(c.codingPath))': \(c.debugDescription)"
        case EncodingError.invalidValue(_, let c):
            return "invalidValue at '\(path(c.codingPath))': \(c.debugDescription)"
        default:
            return "\(type(of: error)): \(error)"
        }
    }
}
