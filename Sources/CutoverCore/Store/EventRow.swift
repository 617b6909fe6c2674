/// One stored event as its columns' bytes, borrowed from the store: valid only inside the
/// callback that received it. Reading the log this way copies nothing the reader does not need.
public struct EventRow {
    public let seq: Int64
    public let runSeq: Int64
    public let atMillis: Int64
    public let runID: UnsafeRawBufferPointer
    public let type: UnsafeRawBufferPointer
    public let actor: UnsafeRawBufferPointer
    public let body: UnsafeRawBufferPointer
    public let hash: UnsafeRawBufferPointer

    public init(
        seq: Int64, runSeq: Int64, atMillis: Int64, runID: UnsafeRawBufferPointer, type: UnsafeRawBufferPointer,
        actor: UnsafeRawBufferPointer, body: UnsafeRawBufferPointer, hash: UnsafeRawBufferPointer
    ) {
        self.seq = seq
        self.runSeq = runSeq
        self.atMillis = atMillis
        self.runID = runID
        self.type = type
        self.actor = actor
        self.body = body
        self.hash = hash
    }

    /// The row as an owned `StoredEvent` (copies every column).
    public var stored: StoredEvent {
        StoredEvent(
            seq: seq, runID: Self.text(runID), runSeq: runSeq, type: Self.text(type), atMillis: atMillis, actor: Self.text(actor),
            bodyJSON: Self.text(body), hash: Array(hash))
    }

    /// The row decoded into an `Event`.
    /// - Parameters:
    ///   - knownRun: the run id when the caller already has it as a string.
    ///   - keepingText: false to leave `bodyJSON` and `hash` empty, for a fold that reads
    ///     neither (the audit's, which has checked both already).
    /// - Throws: `EventDecodingError` when the type is unknown or the body does not match it.
    public func event(knownRun: String? = nil, keepingText: Bool = true) throws -> Event {
        let kind = try EventBody.kind(named: type)
        let body = try kind.decode(payload: self.body)
        return Event(
            seq: seq, runID: knownRun ?? Self.text(runID), runSeq: runSeq, atMillis: atMillis, actor: Self.text(actor), body: body,
            bodyJSON: keepingText ? Self.text(self.body) : "", hash: keepingText ? Array(hash) : [], kind: kind)
    }

    static func text(_ b: UnsafeRawBufferPointer) -> String { String(decoding: b, as: UTF8.self) }
}

/// An event as stored, before its body is decoded: owned copies of its columns.
public struct StoredEvent: Sendable, Equatable {
    public let seq: Int64
    public let runID: String
    public let runSeq: Int64
    public let type: String
    public let atMillis: Int64
    public let actor: String
    public let bodyJSON: String
    public let hash: [UInt8]

    public init(seq: Int64, runID: String, runSeq: Int64, type: String, atMillis: Int64, actor: String, bodyJSON: String, hash: [UInt8]) {
        self.seq = seq
        self.runID = runID
        self.runSeq = runSeq
        self.type = type
        self.atMillis = atMillis
        self.actor = actor
        self.bodyJSON = bodyJSON
        self.hash = hash
    }

    /// Lends the columns as an `EventRow` for the length of `body`.
    public func withRow<T>(_ body: (EventRow) throws -> T) rethrows -> T {
        var runID = runID, type = type, actor = actor, json = bodyJSON
        return try runID.withUTF8 { r in
            try type.withUTF8 { t in
                try actor.withUTF8 { a in
                    try json.withUTF8 { b in
                        try hash.withUnsafeBytes { h in
                            try body(EventRow(
                                seq: seq, runSeq: runSeq, atMillis: atMillis, runID: UnsafeRawBufferPointer(r), type: UnsafeRawBufferPointer(t),
                                actor: UnsafeRawBufferPointer(a), body: UnsafeRawBufferPointer(b), hash: h))
                        }
                    }
                }
            }
        }
    }
}

/// A position in the global order and the chain hash that ends there.
public struct ChainLink: Sendable, Equatable {
    public let seq: Int64
    public let hash: [UInt8]

    public init(seq: Int64, hash: [UInt8]) {
        self.seq = seq
        self.hash = hash
    }

    /// The link before the first event: position 0, thirty-two zero bytes.
    public static let genesis = ChainLink(seq: 0, hash: [UInt8](repeating: 0, count: 32))
}
