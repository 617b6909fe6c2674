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

    /// Writes `link` followed by the row's canonical bytes.
    public mutating func write(_ r: EventRow, after link: UnsafeRawBufferPointer) {
        write(seq: r.seq, runID: r.runID, runSeq: r.runSeq, atMillis: r.atMillis, actor: r.actor, type: r.type, body: r.body, after: link)
    }

    /// Writes `link` followed by the canonical bytes of an event with these fields.
    public mutating func write(
        seq: Int64, runID: UnsafeRawBufferPointer, runSeq: Int64, atMillis: Int64, actor: UnsafeRawBufferPointer,
        type: UnsafeRawBufferPointer, body: UnsafeRawBufferPointer, after link: UnsafeRawBufferPointer
    ) {
        buffer.removeAll(keepingCapacity: true)
        buffer.append(contentsOf: link)
        linkCount = link.count
        append("{\"actor\":")
        quoted(actor)
        append(",\"at\":")
        append(atMillis)
        append(",\"body\":")
        buffer.append(contentsOf: body)
        append(",\"run\":")
        quoted(runID)
        append(",\"runSeq\":")
        append(runSeq)
        append(",\"seq\":")
        append(seq)
        append(",\"type\":")
        quoted(type)
        buffer.append(UInt8(ascii: "}"))
    }

    /// The canonical bytes of one event, as a new array (for tests and one-off checks).
    public static func bytes(
        seq: Int64, runID: String, runSeq: Int64, atMillis: Int64, actor: String, type: String, bodyJSON: String
    ) -> [UInt8] {
        var writer = CanonicalEvent()
        var runID = runID, actor = actor, type = type, body = bodyJSON
        runID.withUTF8 { r in
            actor.withUTF8 { a in
                type.withUTF8 { t in
                    body.withUTF8 { b in
                        writer.write(
                            seq: seq, runID: UnsafeRawBufferPointer(r), runSeq: runSeq, atMillis: atMillis, actor: UnsafeRawBufferPointer(a),
                            type: UnsafeRawBufferPointer(t), body: UnsafeRawBufferPointer(b), after: UnsafeRawBufferPointer(start: nil, count: 0))
                    }
                }
            }
        }
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
