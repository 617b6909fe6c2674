import CutoverCore

/// The bytes the chain hash covers, the one place they are written: for the store when it
/// appends, for the verifier and the audit when they check, for the bench.
///
/// An event's canonical bytes are its fields as canonical JSON (keys sorted, no spaces,
/// strings escaped minimally, the body as stored):
/// `{"actor":…,"at":…,"body":…,"run":…,"runSeq":…,"seq":…,"type":…}`, and its hash is
/// `SHA-256(previous hash || canonical bytes)`. An auditor can recompute it from the stored
/// columns with nothing but this description (`scripts/fixtures/grow_log.py` does, in Python).
public struct CanonicalEvent {
    private var text = CanonicalJSON(capacity: 4_096)

    public init() {}

    /// The link given to `write`, then the canonical bytes: one buffer to hash.
    public var buffer: [UInt8] { text.bytes }

    /// The canonical bytes alone, without the link.
    public var canonicalCount: Int { text.bytes.count - linkCount }
    private var linkCount = 0

    /// Writes `link` followed by the row's canonical bytes (its stored hash is not read).
    public mutating func write(_ r: EventRow, after link: UnsafeRawBufferPointer) {
        text.removeAll()
        text.appendRaw(link)
        linkCount = link.count
        text.append("{\"actor\":")
        text.appendQuoted(r.actor)
        text.append(",\"at\":")
        text.append(r.atMillis)
        text.append(",\"body\":")
        text.appendRaw(r.body)
        text.append(",\"run\":")
        text.appendQuoted(r.runID)
        text.append(",\"runSeq\":")
        text.append(r.runSeq)
        text.append(",\"seq\":")
        text.append(r.seq)
        text.append(",\"type\":")
        text.appendQuoted(r.type)
        text.append("}")
    }

    /// The canonical bytes of one event, as a new array (for tests and one-off checks).
    public static func bytes(
        seq: Int64, runID: String, runSeq: Int64, atMillis: Int64, actor: String, type: String, bodyJSON: String
    ) -> [UInt8] {
        var writer = CanonicalEvent()
        StoredEvent(seq: seq, runID: runID, runSeq: runSeq, type: type, atMillis: atMillis, actor: actor, bodyJSON: bodyJSON, hash: [])
            .withRow { writer.write($0, after: UnsafeRawBufferPointer(start: nil, count: 0)) }
        return writer.buffer
    }
}
