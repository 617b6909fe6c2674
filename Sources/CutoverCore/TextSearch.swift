import Foundation

extension String {
    /// Whether `needle` occurs in this text, byte for byte in UTF-8. What cutover looks for
    /// this way are ASCII markers (`${`, `${steps.`), for which that is the only meaning;
    /// Foundation's `contains` would go through `NSString` and its Unicode-aware search,
    /// which a thousand-step workflow pays for at every field of every step.
    public func includes(_ needle: String) -> Bool {
        var text = self, needle = needle
        return text.withUTF8 { t in
            needle.withUTF8 { n in
                guard let first = n.first else { return true }
                guard t.count >= n.count, let tb = t.baseAddress, let nb = n.baseAddress else { return false }
                var at = 0
                while at <= t.count - n.count {
                    // The next place the first byte occurs, then the rest compared there.
                    guard let hit = memchr(tb + at, Int32(first), t.count - n.count - at + 1) else { return false }
                    let i = tb.distance(to: hit.assumingMemoryBound(to: UInt8.self))
                    if memcmp(tb + i, nb, n.count) == 0 { return true }
                    at = i + 1
                }
                return false
            }
        }
    }
}
