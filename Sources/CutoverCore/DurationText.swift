/// Durations as people write them in workflows and runbooks: `250ms`, `30s`, `5m`, `1h30m`, `2d`.
public enum DurationText {
    /// Parses a duration; nil when the text is not one.
    public static func parse(_ text: String) -> Duration? {
        var total: Int64 = 0
        var digits = ""
        var unit = ""
        var sawAny = false
        func flush() -> Bool {
            guard let n = Int64(digits), !unit.isEmpty else { return false }
            let ms: Int64
            switch unit {
            case "ms": ms = 1
            case "s": ms = 1_000
            case "m": ms = 60_000
            case "h": ms = 3_600_000
            case "d": ms = 86_400_000
            default: return false
            }
            let (product, overflow) = n.multipliedReportingOverflow(by: ms)
            guard !overflow else { return false }
            total += product
            digits = ""
            unit = ""
            sawAny = true
            return true
        }
        for ch in text {
            if ch.isASCII, ch.isNumber {
                if !unit.isEmpty { guard flush() else { return nil } }
                digits.append(ch)
            } else if ch.isASCII, ch.isLetter {
                guard !digits.isEmpty else { return nil }
                unit.append(ch)
            } else {
                return nil
            }
        }
        guard flush(), sawAny else { return nil }
        return .milliseconds(total)
    }

    /// Formats a duration the way the terminal shows it: `850ms`, `12.4s`, `3m05s`, `1h02m`.
    public static func format(_ d: Duration) -> String {
        let ms = d.milliseconds
        if ms < 1_000 { return "\(ms)ms" }
        if ms < 60_000 {
            let tenths = (ms + 50) / 100
            return "\(tenths / 10).\(tenths % 10)s"
        }
        let seconds = ms / 1_000
        if seconds < 3_600 { return "\(seconds / 60)m" + pad(seconds % 60) + "s" }
        return "\(seconds / 3_600)h" + pad((seconds % 3_600) / 60) + "m"
    }

    private static func pad(_ n: Int64) -> String { n < 10 ? "0\(n)" : "\(n)" }
}

extension Duration {
    /// Whole milliseconds, rounded down.
    public var milliseconds: Int64 {
        let (s, atto) = components
        return s * 1_000 + atto / 1_000_000_000_000_000
    }
}
