import Foundation

/// A JSON value that may still be the text it was read from: the workflow and runbook
/// snapshots a run pins. Folding and auditing a run never look inside them, so a run read back
/// from the log keeps them as their (already checked) text, and the tree is built once, when
/// something first reads it. Equal when their values are equal; encoded as the value.
public struct JSONDocument: Sendable, Equatable, Codable {
    private let box: Box

    public init(_ value: JSONValue) { box = Box(value: value) }

    /// Text that `JSONMembers` has already checked to be valid JSON.
    init(checkedText: String) { box = Box(text: checkedText) }

    /// The value (parsed on first use when the document is still text).
    public var value: JSONValue { box.value }

    public subscript(key: String) -> JSONValue? { value[key] }

    public static func == (a: JSONDocument, b: JSONDocument) -> Bool { a.box === b.box || a.value == b.value }

    public init(from decoder: Decoder) throws {
        self.init(try decoder.singleValueContainer().decode(JSONValue.self))
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(value)
    }

    private final class Box: @unchecked Sendable {
        // @unchecked: `parsed` is written once, under `lock`; `text` never changes.
        private let text: String?
        private var parsed: JSONValue?
        private let lock = NSLock()

        init(value: JSONValue) {
            parsed = value
            text = nil
        }

        init(text: String) { self.text = text }

        var value: JSONValue {
            lock.withLock {
                if let parsed { return parsed }
                // Read as the `Codable` path reads a value (whole numbers as integers).
                guard let v = try? JSONValue.parse(text ?? "null").asDecodedByFoundation else {
                    preconditionFailure("JSONDocument: text JSONMembers had checked does not parse; JSONSkim and JSONParser disagree")
                }
                parsed = v
                return v
            }
        }
    }
}
