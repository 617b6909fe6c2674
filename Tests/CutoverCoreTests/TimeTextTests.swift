import CutoverCore
import Foundation
import Testing

/// Times are named by arithmetic (no formatter or zone database loaded); Foundation's own
/// formatters are the reference they must agree with, to the character.
@Suite struct TimeTextTests {
    static func reference(_ millis: Int64, format: String) -> String {
        let f = DateFormatter()
        f.locale = Locale(identifier: "en_US_POSIX")
        f.timeZone = TimeZone(identifier: "UTC")
        f.dateFormat = format
        return f.string(from: Date(timeIntervalSince1970: Double(millis) / 1_000))
    }

    @Test func rfc3339AndRunIDTimesAgreeWithFoundationAcrossCenturiesAndLeapDays() {
        var rng = SystemRandomNumberGenerator()
        // Leap days and century edges (1900 and 2100 are not leap years, 2000 and 2400 are),
        // the epoch, a millisecond before it, and random moments from 1900 to 2400.
        var moments: [Int64] = [0, -1, 951_782_400_000, 951_868_799_999, 4_107_542_400_000, 4_107_456_000_000, -2_203_891_200_000, 1_796_256_000_123]
        for _ in 0..<2_000 { moments.append(Int64.random(in: -2_208_988_800_000...13_569_465_600_000, using: &rng)) }
        for m in moments {
            #expect(TimeText.rfc3339(m) == Self.reference(m, format: "yyyy-MM-dd'T'HH:mm:ss.SSS'Z'"), "\(m)")
            #expect(TimeText.compact(m) == Self.reference(m, format: "yyyyMMdd-HHmmss"), "\(m)")
        }
        #expect(TimeText.rfc3339(1_796_256_000_123) == "2026-12-03T00:00:00.123Z")
        #expect(TimeText.parse(TimeText.rfc3339(1_796_256_000_123)) == 1_796_256_000_123)
    }
}
