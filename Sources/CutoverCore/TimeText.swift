import Foundation

/// Times as cutover writes them in JSON, reports and bundles: RFC 3339, UTC, with
/// milliseconds (`2026-12-02T19:40:00.123Z`), one format everywhere.
public enum TimeText {
    public static func rfc3339(_ millis: Int64) -> String {
        let f = ISO8601DateFormatter()
        f.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return f.string(from: Date(timeIntervalSince1970: Double(millis) / 1_000))
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
