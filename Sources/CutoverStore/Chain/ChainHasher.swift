import CutoverCore
import CutoverCrypto

/// `SHA-256(link || canonical bytes)` for one event at a time, through one reused buffer and
/// one hasher: what the store computes when it appends and the verifier when it checks.
public struct ChainHasher {
    private var writer = CanonicalEvent()
    private let sha = SHA256Hasher()

    public init() {}

    /// Canonical bytes written by the last call (the link excluded).
    public var lastCanonicalCount: Int { writer.canonicalCount }

    /// The hash of `row` as it stands, chained after `link`, into `digest` (32 bytes).
    public mutating func hash(_ row: EventRow, after link: [UInt8], into digest: inout [UInt8]) {
        link.withUnsafeBytes { writer.write(row, after: $0) }
        sha.update(writer.buffer)
        sha.finish(into: &digest)
    }

    /// The hash an event with these fields has after `link`.
    public mutating func hash(
        seq: Int64, runID: String, runSeq: Int64, atMillis: Int64, actor: String, type: String, body: String, after link: [UInt8]
    ) -> [UInt8] {
        var digest = [UInt8](repeating: 0, count: SHA256.byteCount)
        StoredEvent(seq: seq, runID: runID, runSeq: runSeq, type: type, atMillis: atMillis, actor: actor, bodyJSON: body, hash: [])
            .withRow { hash($0, after: link, into: &digest) }
        return digest
    }
}
