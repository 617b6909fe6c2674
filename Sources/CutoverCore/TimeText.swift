import Foundation

/// Times as cutover writes them in JSON, reports and bundles: RFC 3339, UTC, with
/// milliseconds (`2026-12-02T19:40:00.123Z`), one format everywhere.
public enum TimeText {
    public static func rfc3339(_ millis: Int64) -> String {
        let t = UTCTime(millis)
        return "\(pad(t.year, 4))-\(pad(t.month, 2))-\(pad(t.day, 2))T\(pad(t.hour, 2)):\(pad(t.minute, 2)):\(pad(t.second, 2)).\(pad(t.millisecond, 3))Z"
    }

    /// `yyyyMMdd-HHmmss` in UTC (run ids).
    public static func compact(_ millis: Int64) -> String {
        let t = UTCTime(millis)
        return "\(pad(t.year, 4))\(pad(t.month, 2))\(pad(t.day, 2))-\(pad(t.hour, 2))\(pad(t.minute, 2))\(pad(t.second, 2))"
    }

    static func pad(_ n: Int64, _ width: Int) -> String {
        let digits = String(n)
        return digits.count >= width ? digits : String(repeating: "0", count: width - digits.count) + digits
    }

    /// An RFC 3339 time (with or without a fraction of a second, any offset) or a date
    /// (`2026-12-01`, midnight UTC), in milliseconds since 1970; nil for anything else.
    public static func parse(_ text: String) -> Int64? {
        let f = ISO8601DateFormatter()
        for options: ISO8601DateFormatter.Options in [[.withInternetDateTime, .withFractionalSeconds], [.withInternetDateTime], [.withFullDate]] {
            f.formatOptions = options
            if let d = f.date(from: text) { return Int64((d.timeIntervalSince1970 * 1_000).rounded()) }
        }
        return nil
    }
}

/// A moment's fields on the proleptic Gregorian calendar in UTC, by arithmetic alone: no
/// formatter, locale or time-zone database is loaded to name a time.
struct UTCTime {
    let year, month, day, hour, minute, second, millisecond: Int64

    init(_ millis: Int64) {
        let (days, msOfDay) = Self.floorDivide(millis, 86_400_000)
        hour = msOfDay / 3_600_000
        minute = msOfDay / 60_000 % 60
        second = msOfDay / 1_000 % 60
        millisecond = msOfDay % 1_000
        // Days since 1970-01-01 to a civil date: count in 400-year eras from 0000-03-01, so
        // that the leap day falls at the end of each counted year.
        let shifted = days + 719_468
        let (era, _) = Self.floorDivide(shifted, 146_097)
        let dayOfEra = shifted - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1_460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let monthFromMarch = (5 * dayOfYear + 2) / 153
        day = dayOfYear - (153 * monthFromMarch + 2) / 5 + 1
        month = monthFromMarch < 10 ? monthFromMarch + 3 : monthFromMarch - 9
        year = yearOfEra + era * 400 + (month <= 2 ? 1 : 0)
    }

    private static func floorDivide(_ a: Int64, _ b: Int64) -> (Int64, Int64) {
        let q = a / b, r = a % b
        return r < 0 ? (q - 1, r + b) : (q, r)
    }
}
