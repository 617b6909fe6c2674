/// What every event payload is: JSON both ways, and the step it is about, if any.
public protocol EventPayload: Codable, Sendable {
    var stepID: String? { get }
}

extension EventPayload {
    public var stepID: String? { nil }
}

/// One kind of event: the name stored in the log's `type` column, and how its payload is
/// read and written (through `JSONValue` and cutover's own coders: no text round trip, no
/// Foundation). Built only by `kind(_:_:_:)`, from the body's case in both directions.
public struct EventKind: Sendable {
    public let name: String
    let matches: @Sendable (EventBody) -> Bool
    let decode: @Sendable (JSONValue) throws -> EventBody
    private let encodePayload: @Sendable (EventBody) throws -> JSONValue
    let stepID: @Sendable (EventBody) -> String?
    let foundationEncodable: @Sendable (EventBody) -> any Encodable

    /// The payload of `body` (a body of this kind) as JSON, through cutover's own encoder.
    /// - Throws: `EncodingError` when the payload has a value JSON cannot hold.
    public func encode(_ body: EventBody) throws -> JSONValue { try encodePayload(body) }

    /// The entry for payload `P` under `name`: `make` wraps a payload in its case, `take`
    /// unwraps it (nil for any other case).
    static func kind<P: EventPayload>(
        _ name: String, _ make: @escaping @Sendable (P) -> EventBody, _ take: @escaping @Sendable (EventBody) -> P?
    ) -> EventKind {
        EventKind(
            name: name,
            matches: { take($0) != nil },
            decode: { make(try $0.decode(P.self)) },
            encodePayload: { try JSONValue.encode(take($0)!) },
            stepID: { take($0)?.stepID },
            foundationEncodable: { take($0)! })
    }
}
