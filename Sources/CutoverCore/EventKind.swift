/// What every event payload is: JSON both ways, and the step it is about, if any.
public protocol EventPayload: Codable, Sendable {
    var stepID: String? { get }
}

extension EventPayload {
    public var stepID: String? { nil }
}

/// A payload, frequent or large, that reads itself straight from its checked bytes.
public protocol BytesReadablePayload: EventPayload {
    /// Nil leaves it to the ordinary `Codable` path, which must then give the same value (a
    /// test holds each reader to it) or say what is wrong.
    static func read(_ members: JSONMembers) -> Self?
}

/// One kind of event: the name stored in the log's `type` column, and how its payload is
/// read and written (through `JSONValue` and cutover's own coders: no text round trip, no
/// Foundation). Built only by `kind(_:_:_:)`, from the body's case in both directions. A class:
/// every `Event` holds its kind, and copying one reference is cheaper than copying the entry.
public final class EventKind: Sendable {
    public let name: String
    let nameBytes: [UInt8]
    let matches: @Sendable (EventBody) -> Bool
    private let decodeValue: @Sendable (JSONValue) throws -> EventBody
    /// The payload read from checked bytes without a tree, when its type has a reader.
    let read: (@Sendable (JSONMembers) -> EventBody?)?
    private let encodePayload: @Sendable (EventBody) throws -> JSONValue
    let stepID: @Sendable (EventBody) -> String?
    let foundationEncodable: @Sendable (EventBody) -> any Encodable

    private init(
        name: String, matches: @escaping @Sendable (EventBody) -> Bool, decodeValue: @escaping @Sendable (JSONValue) throws -> EventBody,
        read: (@Sendable (JSONMembers) -> EventBody?)?, encodePayload: @escaping @Sendable (EventBody) throws -> JSONValue,
        stepID: @escaping @Sendable (EventBody) -> String?, foundationEncodable: @escaping @Sendable (EventBody) -> any Encodable
    ) {
        self.name = name
        nameBytes = Array(name.utf8)
        self.matches = matches
        self.decodeValue = decodeValue
        self.read = read
        self.encodePayload = encodePayload
        self.stepID = stepID
        self.foundationEncodable = foundationEncodable
    }

    /// A body of this kind from its payload as a tree, through `Codable` (cutover's own decoder).
    /// - Throws: `DecodingError` when the value does not match the payload's type.
    public func decode(_ value: JSONValue) throws -> EventBody { try decodeValue(value) }

    /// A body of this kind from its payload's bytes: through the payload's own reader when it
    /// has one and the bytes are in the shape it knows, else through `JSONValue` and `Codable`.
    /// - Throws: `EventDecodingError` when the payload does not match the kind.
    public func decode(payload: UnsafeRawBufferPointer) throws -> EventBody {
        if let read, let members = JSONMembers(payload), let body = read(members) { return body }
        do {
            return try decode(try JSONParser.parse(UnsafeBufferPointer(start: payload.baseAddress?.assumingMemoryBound(to: UInt8.self), count: payload.count)))
        } catch {
            throw EventDecodingError(type: name, reason: "payload does not match the type (\(error))")
        }
    }

    /// The payload of `body` (a body of this kind) as JSON, through cutover's own encoder.
    /// - Throws: `EncodingError` when the payload has a value JSON cannot hold.
    public func encode(_ body: EventBody) throws -> JSONValue { try encodePayload(body) }

    /// The entry for payload `P` under `name`: `make` wraps a payload in its case, `take`
    /// unwraps it (nil for any other case).
    static func kind<P: EventPayload>(
        _ name: String, _ make: @escaping @Sendable (P) -> EventBody, _ take: @escaping @Sendable (EventBody) -> P?
    ) -> EventKind {
        entry(name, make, take, read: nil)
    }

    /// The entry for a payload that reads itself from bytes.
    static func kind<P: BytesReadablePayload>(
        _ name: String, _ make: @escaping @Sendable (P) -> EventBody, _ take: @escaping @Sendable (EventBody) -> P?
    ) -> EventKind {
        entry(name, make, take, read: { P.read($0).map(make) })
    }

    private static func entry<P: EventPayload>(
        _ name: String, _ make: @escaping @Sendable (P) -> EventBody, _ take: @escaping @Sendable (EventBody) -> P?,
        read: (@Sendable (JSONMembers) -> EventBody?)?
    ) -> EventKind {
        EventKind(
            name: name,
            matches: { take($0) != nil },
            decodeValue: { make(try $0.decode(P.self)) },
            read: read,
            encodePayload: { try JSONValue.encode(take($0)!) },
            stepID: { take($0)?.stepID },
            foundationEncodable: { take($0)! })
    }
}
