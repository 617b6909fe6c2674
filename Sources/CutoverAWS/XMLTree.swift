/// A small XML reader for AWS query-API and REST answers: elements, text and entities.
/// Namespaces prefixes are dropped, attributes ignored; DTDs are refused.
public struct XMLTree: Sendable, Equatable {
    public var name: String
    public var children: [XMLTree]
    public var text: String

    /// The first child named `name`.
    public subscript(_ name: String) -> XMLTree? { children.first { $0.name == name } }

    /// Every child named `name`.
    public func all(_ name: String) -> [XMLTree] { children.filter { $0.name == name } }

    /// The first element named `name` anywhere below, depth first.
    public func find(_ name: String) -> XMLTree? {
        for c in children {
            if c.name == name { return c }
            if let f = c.find(name) { return f }
        }
        return nil
    }

    /// Follows a path of child names: `node.path("DescribeAutoScalingGroupsResult", "AutoScalingGroups")`.
    public func path(_ names: String...) -> XMLTree? {
        var current = self
        for n in names {
            guard let next = current[n] else { return nil }
            current = next
        }
        return current
    }

    /// Text made safe inside an element.
    public static func escape(_ s: String) -> String {
        s.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;").replacingOccurrences(of: ">", with: "&gt;")
    }

    /// Parses a document and returns its root element.
    /// - Throws: `XMLError` with the byte offset of the first problem.
    public static func parse(_ bytes: [UInt8]) throws -> XMLTree {
        var p = XMLParserState(bytes)
        return try p.document()
    }
}

public struct XMLError: Error, Sendable, CustomStringConvertible {
    public var offset: Int
    public var reason: String
    public var description: String { "not XML at byte \(offset): \(reason)" }
}

private struct XMLParserState {
    let b: [UInt8]
    var i = 0

    init(_ bytes: [UInt8]) { b = bytes }

    func fail(_ reason: String) -> XMLError { XMLError(offset: i, reason: reason) }

    func starts(_ s: String) -> Bool {
        let u = Array(s.utf8)
        return i + u.count <= b.count && Array(b[i..<(i + u.count)]) == u
    }

    mutating func skip(past s: String) throws {
        let u = Array(s.utf8)
        while i + u.count <= b.count {
            if Array(b[i..<(i + u.count)]) == u {
                i += u.count
                return
            }
            i += 1
        }
        throw fail("unterminated, expected \(s)")
    }

    mutating func skipSpace() { while i < b.count, [32, 9, 10, 13].contains(b[i]) { i += 1 } }

    /// Prolog, comments and processing instructions before the root.
    mutating func skipMisc() throws {
        while true {
            skipSpace()
            if starts("<?") { try skip(past: "?>") } else if starts("<!--") { try skip(past: "-->") } else if starts("<!") {
                throw fail("DTDs are not accepted")
            } else { return }
        }
    }

    mutating func document() throws -> XMLTree {
        if starts("\u{FEFF}") { i += 3 }
        try skipMisc()
        guard i < b.count, b[i] == UInt8(ascii: "<") else { throw fail("expected an element") }
        let root = try element()
        try skipMisc()
        guard i == b.count else { throw fail("content after the root element") }
        return root
    }

    mutating func name() throws -> String {
        let start = i
        while i < b.count, !([32, 9, 10, 13, UInt8(ascii: ">"), UInt8(ascii: "/"), UInt8(ascii: "=")].contains(b[i])) { i += 1 }
        guard i > start else { throw fail("expected a name") }
        let full = String(decoding: b[start..<i], as: UTF8.self)
        return full.split(separator: ":").last.map(String.init) ?? full
    }

    mutating func element(depth: Int = 0) throws -> XMLTree {
        guard depth < 64 else { throw fail("nested too deeply") }
        i += 1  // <
        let tag = try name()
        // Attributes: skipped, quoted values included.
        while true {
            skipSpace()
            guard i < b.count else { throw fail("unterminated tag <\(tag)") }
            if b[i] == UInt8(ascii: "/") {
                guard i + 1 < b.count, b[i + 1] == UInt8(ascii: ">") else { throw fail("expected />") }
                i += 2
                return XMLTree(name: tag, children: [], text: "")
            }
            if b[i] == UInt8(ascii: ">") {
                i += 1
                break
            }
            _ = try name()
            skipSpace()
            guard i < b.count, b[i] == UInt8(ascii: "=") else { throw fail("expected = in an attribute of <\(tag)") }
            i += 1
            skipSpace()
            guard i < b.count, b[i] == 34 || b[i] == 39 else { throw fail("expected a quoted attribute value") }
            let q = b[i]
            i += 1
            while i < b.count, b[i] != q { i += 1 }
            i += 1
        }
        var children: [XMLTree] = []
        var text: [UInt8] = []
        while true {
            guard i < b.count else { throw fail("<\(tag)> is never closed") }
            if starts("</") {
                i += 2
                let close = try name()
                guard close == tag else { throw fail("</\(close)> closes <\(tag)>") }
                skipSpace()
                guard i < b.count, b[i] == UInt8(ascii: ">") else { throw fail("expected >") }
                i += 1
                return XMLTree(name: tag, children: children, text: try decodeEntities(text))
            } else if starts("<!--") {
                try skip(past: "-->")
            } else if starts("<![CDATA[") {
                i += 9
                let start = i
                try skip(past: "]]>")
                text += b[start..<(i - 3)]
            } else if b[i] == UInt8(ascii: "<") {
                children.append(try element(depth: depth + 1))
            } else {
                text.append(b[i])
                i += 1
            }
        }
    }

    func decodeEntities(_ raw: [UInt8]) throws -> String {
        let s = String(decoding: raw, as: UTF8.self)
        guard s.contains("&") else { return s }
        var out = ""
        var rest = Substring(s)
        while let amp = rest.firstIndex(of: "&") {
            out += rest[..<amp]
            guard let semi = rest[amp...].firstIndex(of: ";") else { throw fail("an & without ;") }
            let entity = rest[rest.index(after: amp)..<semi]
            switch entity {
            case "lt": out += "<"
            case "gt": out += ">"
            case "amp": out += "&"
            case "quot": out += "\""
            case "apos": out += "'"
            default:
                var code: UInt32?
                if entity.hasPrefix("#x") { code = UInt32(entity.dropFirst(2), radix: 16) } else if entity.hasPrefix("#") { code = UInt32(entity.dropFirst()) }
                guard let c = code, let scalar = Unicode.Scalar(c) else { throw fail("unknown entity &\(entity);") }
                out.unicodeScalars.append(scalar)
            }
            rest = rest[rest.index(after: semi)...]
        }
        return out + rest
    }
}
