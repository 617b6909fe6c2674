/// Checks JSON text without building it: what `JSONParser` accepts, nothing else.
struct JSONSkim {
    let b: UnsafeBufferPointer<UInt8>
    var i = 0
    private var depth = 0

    init(b: UnsafeBufferPointer<UInt8>) { self.b = b }

    mutating func skipSpace() {
        while i < b.count, b[i] == 0x20 || b[i] == 0x0a || b[i] == 0x0d || b[i] == 0x09 { i += 1 }
    }

    /// Skips one value; false when it is not valid JSON.
    mutating func value() -> Bool {
        guard i < b.count else { return false }
        switch b[i] {
        case UInt8(ascii: "{"): return object(collect: false) != nil
        case UInt8(ascii: "["): return array(collect: false) != nil
        case UInt8(ascii: "\""): return string()
        case UInt8(ascii: "t"): return literal("true")
        case UInt8(ascii: "f"): return literal("false")
        case UInt8(ascii: "n"): return literal("null")
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return number()
        default: return false
        }
    }

    private mutating func literal(_ word: StaticString) -> Bool {
        let n = word.utf8CodeUnitCount
        guard i + n <= b.count else { return false }
        for k in 0..<n where b[i + k] != word.utf8Start[k] { return false }
        i += n
        return true
    }

    /// Keys of the objects being skipped, innermost last: one buffer for the whole text.
    private var keyStack: [Range<Int>] = []

    /// Skips an object, checking its keys are distinct; its members' ranges when asked.
    mutating func object(collect: Bool) -> (keys: [Range<Int>], values: [Range<Int>])? {
        depth += 1
        defer { depth -= 1 }
        guard depth < 256 else { return nil }
        i += 1
        let base = keyStack.count
        defer { keyStack.removeSubrange(base...) }
        var values: [Range<Int>] = []
        // Keys so far are plain ASCII (no escape, no byte above 0x7F): compared byte for byte.
        // Otherwise, or past 16 keys, by their decoded Strings in a set, as `JSONParser`'s
        // dictionary compares them (canonically equivalent keys are the same key).
        var simple = true
        var seen: Set<String>?
        skipSpace()
        if i < b.count, b[i] == UInt8(ascii: "}") {
            i += 1
            return ([], values)
        }
        while true {
            skipSpace()
            guard i < b.count, b[i] == UInt8(ascii: "\"") else { return nil }
            let keyStart = i + 1
            guard string() else { return nil }
            let key = keyStart..<(i - 1)
            let plainKey = b[key].allSatisfy { $0 < 0x80 && $0 != UInt8(ascii: "\\") }
            if seen == nil, simple, plainKey, keyStack.count - base < 16 {
                for k in keyStack[base...] where k.count == key.count {
                    if UnsafeBufferPointer(rebasing: b[k]).elementsEqual(UnsafeBufferPointer(rebasing: b[key])) { return nil }
                }
            } else {
                if seen == nil { seen = Set(keyStack[base...].map(decodedKey)) }
                guard seen!.insert(decodedKey(key)).inserted else { return nil }
            }
            simple = simple && plainKey
            keyStack.append(key)
            skipSpace()
            guard i < b.count, b[i] == UInt8(ascii: ":") else { return nil }
            i += 1
            skipSpace()
            let start = i
            guard value() else { return nil }
            if collect { values.append(start..<i) }
            skipSpace()
            guard i < b.count else { return nil }
            if b[i] == UInt8(ascii: ",") {
                i += 1
                continue
            }
            guard b[i] == UInt8(ascii: "}") else { return nil }
            i += 1
            return (collect ? Array(keyStack[base...]) : [], values)
        }
    }

    /// A key as the parser reads it (its range is inside the quotes, already checked).
    private func decodedKey(_ r: Range<Int>) -> String {
        if !b[r].contains(UInt8(ascii: "\\")) { return String(decoding: UnsafeBufferPointer(rebasing: b[r]), as: UTF8.self) }
        return (try? JSONParser.parse(UnsafeBufferPointer(rebasing: b[(r.lowerBound - 1)..<(r.upperBound + 1)])))?.stringValue ?? ""
    }

    /// Skips an array; its elements' ranges when asked (the scan starts at its `[`).
    mutating func array(collect: Bool) -> [Range<Int>]? {
        depth += 1
        defer { depth -= 1 }
        guard depth < 256 else { return nil }
        var out: [Range<Int>] = []
        i += 1
        skipSpace()
        if i < b.count, b[i] == UInt8(ascii: "]") {
            i += 1
            return out
        }
        while true {
            skipSpace()
            let start = i
            guard value() else { return nil }
            if collect { out.append(start..<i) }
            skipSpace()
            guard i < b.count else { return nil }
            if b[i] == UInt8(ascii: ",") {
                i += 1
                continue
            }
            guard b[i] == UInt8(ascii: "]") else { return nil }
            i += 1
            return out
        }
    }

    private func hex4(at k: Int) -> UInt32? {
        guard k + 4 <= b.count else { return nil }
        var v: UInt32 = 0
        for c in b[k..<(k + 4)] {
            switch c {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): v = v << 4 | UInt32(c - UInt8(ascii: "0"))
            case UInt8(ascii: "a")...UInt8(ascii: "f"): v = v << 4 | UInt32(c - UInt8(ascii: "a") + 10)
            case UInt8(ascii: "A")...UInt8(ascii: "F"): v = v << 4 | UInt32(c - UInt8(ascii: "A") + 10)
            default: return nil
            }
        }
        return v
    }

    /// Skips a string: no control characters, known escapes, paired surrogates, valid UTF-8.
    private mutating func string() -> Bool {
        i += 1
        while i < b.count {
            skipPlainBytes()
            guard i < b.count else { return false }
            let c = b[i]
            if c == UInt8(ascii: "\"") {
                i += 1
                return true
            }
            if c < 0x20 { return false }
            if c >= 0x80 {
                guard let n = utf8Sequence(at: i) else { return false }
                i += n
                continue
            }
            if c != UInt8(ascii: "\\") {
                i += 1
                continue
            }
            guard i + 1 < b.count else { return false }
            switch b[i + 1] {
            case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"), UInt8(ascii: "b"), UInt8(ascii: "f"), UInt8(ascii: "n"),
                UInt8(ascii: "r"), UInt8(ascii: "t"):
                i += 2
            case UInt8(ascii: "u"):
                guard let code = hex4(at: i + 2) else { return false }
                i += 6
                if (0xD800...0xDBFF).contains(code) {
                    guard i + 6 <= b.count, b[i] == UInt8(ascii: "\\"), b[i + 1] == UInt8(ascii: "u"), let low = hex4(at: i + 2),
                        (0xDC00...0xDFFF).contains(low)
                    else { return false }
                    i += 6
                } else if (0xDC00...0xDFFF).contains(code) {
                    return false
                }
            default:
                return false
            }
        }
        return false
    }

    /// Moves past bytes that need no attention inside a string (printable ASCII other than `"`
    /// and `\\`), eight at a time: most of a snapshot's text is such bytes.
    private mutating func skipPlainBytes() {
        guard let base = b.baseAddress else { return }
        let ones: UInt64 = 0x0101_0101_0101_0101
        let highs: UInt64 = 0x8080_8080_8080_8080
        while i + 8 <= b.count {
            let x = UnsafeRawPointer(base + i).loadUnaligned(as: UInt64.self)
            // A byte that is zero after the xor, or below 0x20, or has its high bit set.
            func zeroByte(_ y: UInt64) -> UInt64 { (y &- ones) & ~y & highs }
            let special = zeroByte(x ^ (ones &* 0x22)) | zeroByte(x ^ (ones &* 0x5C)) | ((x &- ones &* 0x20) & ~x & highs) | (x & highs)
            if special != 0 { return }
            i += 8
        }
    }

    /// The length of the well-formed UTF-8 sequence at `k` (no overlong forms, no surrogates,
    /// nothing past U+10FFFF), or nil.
    private func utf8Sequence(at k: Int) -> Int? {
        let c = b[k]
        func cont(_ n: Int, _ range: ClosedRange<UInt8> = 0x80...0xBF) -> Bool { k + n < b.count && range.contains(b[k + n]) }
        switch c {
        case 0xC2...0xDF: return cont(1) ? 2 : nil
        case 0xE0: return cont(1, 0xA0...0xBF) && cont(2) ? 3 : nil
        case 0xE1...0xEC, 0xEE...0xEF: return cont(1) && cont(2) ? 3 : nil
        case 0xED: return cont(1, 0x80...0x9F) && cont(2) ? 3 : nil
        case 0xF0: return cont(1, 0x90...0xBF) && cont(2) && cont(3) ? 4 : nil
        case 0xF1...0xF3: return cont(1) && cont(2) && cont(3) ? 4 : nil
        case 0xF4: return cont(1, 0x80...0x8F) && cont(2) && cont(3) ? 4 : nil
        default: return nil
        }
    }

    private mutating func digits() -> Bool {
        let d = i
        while i < b.count, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(b[i]) { i += 1 }
        return i > d
    }

    private mutating func number() -> Bool {
        if b[i] == UInt8(ascii: "-") { i += 1 }
        guard i < b.count, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(b[i]) else { return false }
        if b[i] == UInt8(ascii: "0") { i += 1 } else { _ = digits() }
        if i < b.count, b[i] == UInt8(ascii: ".") {
            i += 1
            guard digits() else { return false }
        }
        if i < b.count, b[i] == UInt8(ascii: "e") || b[i] == UInt8(ascii: "E") {
            i += 1
            if i < b.count, b[i] == UInt8(ascii: "+") || b[i] == UInt8(ascii: "-") { i += 1 }
            guard digits() else { return false }
        }
        return true
    }
}
