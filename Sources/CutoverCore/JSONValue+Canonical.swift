import Foundation

/// The canonical text of a JSON value: object keys sorted by their UTF-8 bytes, no
/// insignificant whitespace, integers without a fraction, strings escaped minimally.
///
/// Hashes in the event log cover this text, so it must never change shape: an auditor
/// recomputes it from the stored columns with nothing but this description.
extension JSONValue {
    public var canonicalString: String {
        String(decoding: canonicalBytes, as: UTF8.self)
    }

    /// The canonical text as UTF-8 bytes.
    public var canonicalBytes: [UInt8] {
        var out = CanonicalJSON()
        out.append(self)
        return out.bytes
    }
}

/// Canonical JSON written straight into UTF-8 bytes: a value (`append(_: JSONValue)`), or
/// the pieces of one written by hand (`CanonicalEvent` writes an event's fields so). One
/// writer for both, so a string or a number is written the same way wherever it appears.
public struct CanonicalJSON {
    public private(set) var bytes: [UInt8] = []

    public init(capacity: Int = 256) { bytes.reserveCapacity(capacity) }

    /// Empties the buffer and keeps its room.
    public mutating func removeAll() { bytes.removeAll(keepingCapacity: true) }

    public mutating func append(_ value: JSONValue) {
        switch value {
        case .null: append("null")
        case .bool(let b): b ? append("true") : append("false")
        case .int(let i): append(i)
        case .double(let d):
            if d.isFinite, d.rounded() == d, abs(d) < 1e15 {
                append(Int64(d))
            } else if d.isFinite {
                bytes.append(contentsOf: d.description.utf8)
            } else {
                append("null")
            }
        case .string(let s): appendQuoted(s)
        case .array(let items):
            bytes.append(UInt8(ascii: "["))
            for (i, item) in items.enumerated() {
                if i > 0 { bytes.append(UInt8(ascii: ",")) }
                append(item)
            }
            bytes.append(UInt8(ascii: "]"))
        case .object(let members):
            bytes.append(UInt8(ascii: "{"))
            if members.count == 1, let only = members.first {
                appendMember(only.key, only.value)
            } else {
                for (i, member) in members.sorted(by: { Self.precedes($0.key, $1.key) }).enumerated() {
                    if i > 0 { bytes.append(UInt8(ascii: ",")) }
                    appendMember(member.key, member.value)
                }
            }
            bytes.append(UInt8(ascii: "}"))
        }
    }

    private mutating func appendMember(_ key: String, _ value: JSONValue) {
        appendQuoted(key)
        bytes.append(UInt8(ascii: ":"))
        append(value)
    }

    /// Whether `a` sorts before `b` by their UTF-8 bytes (not by `String`'s own order).
    static func precedes(_ a: String, _ b: String) -> Bool {
        var a = a, b = b
        return a.withUTF8 { pa in
            b.withUTF8 { pb in
                let common = min(pa.count, pb.count)
                if common > 0, let x = pa.baseAddress, let y = pb.baseAddress {
                    let c = memcmp(x, y, common)
                    if c != 0 { return c < 0 }
                }
                return pa.count < pb.count
            }
        }
    }

    public mutating func append(_ s: StaticString) {
        bytes.append(contentsOf: UnsafeBufferPointer(start: s.utf8Start, count: s.utf8CodeUnitCount))
    }

    /// Bytes already in canonical form (a stored body), as they are.
    public mutating func appendRaw(_ b: UnsafeRawBufferPointer) {
        bytes.append(contentsOf: b)
    }

    public mutating func append(_ n: Int64) {
        if n < 0 { bytes.append(UInt8(ascii: "-")) }
        var v = n.magnitude
        var digits: (UInt64, UInt64, UInt64) = (0, 0, 0)  // 24 bytes: room for 20 digits
        withUnsafeMutableBytes(of: &digits) { d in
            var i = d.count
            repeat {
                i -= 1
                d[i] = UInt8(ascii: "0") + UInt8(v % 10)
                v /= 10
            } while v > 0
            bytes.append(contentsOf: d[i...])
        }
    }

    public mutating func appendQuoted(_ s: String) {
        var s = s
        s.withUTF8 { appendQuoted(UnsafeRawBufferPointer($0)) }
    }

    private static let hexDigits: StaticString = "0123456789abcdef"

    /// A JSON string: `"` and `\` escaped, `\n` `\r` `\t` by name, other control bytes as
    /// `\u00xx`, every other byte as it is (UTF-8 passes through unchanged).
    public mutating func appendQuoted(_ b: UnsafeRawBufferPointer) {
        bytes.append(0x22)
        var plainFrom = 0
        for (i, c) in b.enumerated() where c < 0x20 || c == 0x22 || c == 0x5c {
            bytes.append(contentsOf: UnsafeRawBufferPointer(rebasing: b[plainFrom..<i]))
            plainFrom = i + 1
            switch c {
            case 0x22: append("\\\"")
            case 0x5c: append("\\\\")
            case 0x0a: append("\\n")
            case 0x0d: append("\\r")
            case 0x09: append("\\t")
            default:
                append("\\u00")
                bytes.append(Self.hexDigits.utf8Start[Int(c >> 4)])
                bytes.append(Self.hexDigits.utf8Start[Int(c & 0x0f)])
            }
        }
        bytes.append(contentsOf: UnsafeRawBufferPointer(rebasing: b[plainFrom...]))
        bytes.append(0x22)
    }
}
