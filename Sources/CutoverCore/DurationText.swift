/// Durations as people write them in workflows and runbooks: `250ms`, `30s`, `5m`, `1h30m`, `2d`.
public enum DurationText {
    /// Parses a duration; nil when the text is not one (or is beyond Int64 milliseconds).
    public static func parse(_ text: String) -> Duration? {
        var total: Int64 = 0
        var number: Int64 = 0
        var digits = 0
        // The unit's letters (units are one or two letters long; a longer run is no unit).
        var unit: (UInt8, UInt8) = (0, 0)
        var unitLength = 0
        func flush() -> Bool {
            guard digits > 0 else { return false }
            let ms: Int64
            switch (unitLength, unit.0, unit.1) {
            case (2, UInt8(ascii: "m"), UInt8(ascii: "s")): ms = 1
            case (1, UInt8(ascii: "s"), _): ms = 1_000
            case (1, UInt8(ascii: "m"), _): ms = 60_000
            case (1, UInt8(ascii: "h"), _): ms = 3_600_000
            case (1, UInt8(ascii: "d"), _): ms = 86_400_000
            default: return false
            }
            let (product, overflow) = number.multipliedReportingOverflow(by: ms)
            let (sum, over) = total.addingReportingOverflow(product)
            guard !overflow, !over else { return false }
            total = sum
            number = 0
            digits = 0
            unitLength = 0
            return true
        }
        // ASCII digits and letters only: anything else, in any encoding, is not a duration.
        for b in text.utf8 {
            switch b {
            case UInt8(ascii: "0")...UInt8(ascii: "9"):
                if unitLength > 0 { guard flush() else { return nil } }
                let (times, overflow) = number.multipliedReportingOverflow(by: 10)
                let (sum, over) = times.addingReportingOverflow(Int64(b - UInt8(ascii: "0")))
                guard !overflow, !over else { return nil }
                number = sum
                digits += 1
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"):
                guard digits > 0, unitLength < 2 else { return nil }
                if unitLength == 0 { unit.0 = b } else { unit.1 = b }
                unitLength += 1
            default:
                return nil
            }
        }
        guard flush() else { return nil }
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
