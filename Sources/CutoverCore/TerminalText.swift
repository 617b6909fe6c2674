/// Text from the log (actors, comments, notes, messages, step ids) as a terminal may show it:
/// every character that could move the cursor, erase, recolour, hide or reorder what an
/// auditor reads is written out visibly instead (`\e`, `\r`, `\x07`, `\u{202E}`).
public enum TerminalText {
    /// `text` with control characters escaped; newlines kept only when `keepNewlines`.
    public static func escaped(_ text: String, keepNewlines: Bool = false) -> String {
        guard text.unicodeScalars.contains(where: { needsEscape($0, keepNewlines: keepNewlines) }) else { return text }
        var out = ""
        out.reserveCapacity(text.utf8.count + 16)
        for scalar in text.unicodeScalars {
            if needsEscape(scalar, keepNewlines: keepNewlines) { out += spelled(scalar) } else { out.unicodeScalars.append(scalar) }
        }
        return out
    }

    /// Whether `text` holds anything `escaped` would rewrite (tabs and newlines included):
    /// what names and comments given on the command line are refused for.
    public static func hasControlCharacters(_ text: String) -> Bool {
        text.unicodeScalars.contains { needsEscape($0, keepNewlines: false) || $0 == "\t" }
    }

    /// JSON text (one value, its control characters below 0x20 already escaped, as
    /// `canonicalString` writes them) with every other character `escaped` would rewrite
    /// written as a JSON `\uXXXX` escape: the same value, still valid JSON, and nothing a
    /// terminal acts on. Such characters occur only inside strings, so the escape is legal there.
    public static func jsonEscaped(_ json: String) -> String {
        guard json.unicodeScalars.contains(where: { needsEscape($0, keepNewlines: false) }) else { return json }
        var out = ""
        out.reserveCapacity(json.utf8.count + 16)
        for scalar in json.unicodeScalars {
            if needsEscape(scalar, keepNewlines: false) {
                let hex = String(scalar.value, radix: 16)
                out += "\\u" + String(repeating: "0", count: max(0, 4 - hex.count)) + hex
            } else {
                out.unicodeScalars.append(scalar)
            }
        }
        return out
    }

    static func needsEscape(_ s: Unicode.Scalar, keepNewlines: Bool) -> Bool {
        switch s.value {
        case 0x0A: return !keepNewlines
        case 0x09: return false
        case 0x00...0x1F, 0x7F...0x9F: return true  // C0, DEL, C1 (0x9B is a one-byte CSI)
        case 0x200E, 0x200F, 0x202A...0x202E, 0x2066...0x2069: return true  // bidirectional overrides and isolates
        case 0xFFF9...0xFFFB: return true  // interlinear annotation
        default: return false
        }
    }

    static func spelled(_ s: Unicode.Scalar) -> String {
        switch s {
        case "\u{1B}": return "\\e"
        case "\r": return "\\r"
        case "\n": return "\\n"
        case "\u{08}": return "\\b"
        default:
            let hex = String(s.value, radix: 16)
            return s.value < 0x100 ? "\\x" + String(repeating: "0", count: 2 - hex.count) + hex : "\\u{\(hex)}"
        }
    }
}
