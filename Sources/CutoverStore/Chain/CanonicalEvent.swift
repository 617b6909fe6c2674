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
    /// The link given to `write`, then the canonical bytes: one buffer to hash.
    public private(set) var buffer: [UInt8] = []

    public init() { buffer.reserveCapacity(4_096) }

    /// The canonical bytes alone, without the link.
    public var canonicalCount: Int { buffer.count - linkCount }
    private var linkCount = 0

    /// Writes `link` followed by the row's canonical bytes (its stored hash is not read).
    public mutating func write(_ r: EventRow, after link: UnsafeRawBufferPointer) {
        buffer.removeAll(keepingCapacity: true)
        buffer.append(contentsOf: link)
        linkCount = link.count
        append("{\"actor\":")
        quoted(r.actor)
        append(",\"at\":")
        append(r.atMillis)
        append(",\"body\":")
        buffer.append(contentsOf: r.body)
        append(",\"run\":")
        quoted(r.runID)
        append(",\"runSeq\":")
        append(r.runSeq)
        append(",\"seq\":")
        append(r.seq)
        append(",\"type\":")
        quoted(r.type)
        buffer.append(UInt8(ascii: "}"))
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

    private mutating func append(_ s: StaticString) {
        buffer.append(contentsOf: UnsafeBufferPointer(start: s.utf8Start, count: s.utf8CodeUnitCount))
    }

    private mutating func append(_ n: Int64) {
        if n < 0 { buffer.append(UInt8(ascii: "-")) }
        var v = n.magnitude
        var digits: (UInt64, UInt64, UInt64) = (0, 0, 0)  // 24 bytes: room for 20 digits
        withUnsafeMutableBytes(of: &digits) { d in
            var i = d.count
            repeat {
                i -= 1
                d[i] = UInt8(ascii: "0") + UInt8(v % 10)
                v /= 10
            } while v > 0
            buffer.append(contentsOf: d[i...])
        }
    }

    private static let hexDigits: StaticString = "0123456789abcdef"

    /// A JSON string: `"` and `\` escaped, `\n` `\r` `\t` by name, other control bytes as
    /// `\u00XX`, every other byte as it is (UTF-8 passes through unchanged).
    private mutating func quoted(_ b: UnsafeRawBufferPointer) {
        buffer.append(0x22)
        var plainFrom = 0
        for (i, c) in b.enumerated() where c < 0x20 || c == 0x22 || c == 0x5c {
            buffer.append(contentsOf: UnsafeRawBufferPointer(rebasing: b[plainFrom..<i]))
            plainFrom = i + 1
            switch c {
            case 0x22: append("\\\"")
            case 0x5c: append("\\\\")
            case 0x0a: append("\\n")
            case 0x0d: append("\\r")
            case 0x09: append("\\t")
            default:
                append("\\u00")
                buffer.append(Self.hexDigits.utf8Start[Int(c >> 4)])
                buffer.append(Self.hexDigits.utf8Start[Int(c & 0x0f)])
            }
        }
        buffer.append(contentsOf: UnsafeRawBufferPointer(rebasing: b[plainFrom...]))
        buffer.append(0x22)
    }
}
