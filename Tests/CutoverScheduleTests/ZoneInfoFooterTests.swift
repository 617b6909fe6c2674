import Foundation
import Testing

@testable import CutoverSchedule

/// Builds TZif files in memory.
enum TZifBuilder {
    /// A version 2 file with one local time type, no transitions, and `footer` as its rule, so
    /// every instant is answered by the footer code path alone.
    static func footerOnly(_ footer: String) -> [UInt8] {
        func bigEndian32(_ value: Int) -> [UInt8] { (0..<4).reversed().map { UInt8(truncatingIfNeeded: value >> ($0 * 8)) } }
        let header = Array("TZif2".utf8) + [UInt8](repeating: 0, count: 15) + [0, 0, 0, 0, 1, 4].flatMap(bigEndian32)
        let block = bigEndian32(0) + [0, 0] + Array("LMT\0".utf8)  // type 0: offset 0, not DST, "LMT"
        return header + block + header + block + Array("\n\(footer)\n".utf8)
    }

    /// A version 1 file (32-bit times, no footer): "AAA" (+1 h) until instant 1000, then "BBB" (+2 h, DST).
    static func version1() -> [UInt8] {
        func bigEndian32(_ value: Int) -> [UInt8] { (0..<4).reversed().map { UInt8(truncatingIfNeeded: value >> ($0 * 8)) } }
        let header = Array("TZif".utf8) + [0] + [UInt8](repeating: 0, count: 15) + [0, 0, 0, 1, 2, 8].flatMap(bigEndian32)
        let transitions = bigEndian32(1000) + [1]
        let types = bigEndian32(3600) + [0, 0] + bigEndian32(7200) + [1, 4]
        return header + transitions + types + Array("AAA\0BBB\0".utf8)
    }
}

@Suite("ZoneInfo's POSIX TZ footer rules")
struct ZoneInfoFooterTests {
    @Test(
        "a footer-only file matches the real zone from 2020 to 2045",
        arguments: [
            ("EST5EDT,M3.2.0,M11.1.0", "America/New_York"),
            ("CET-1CEST,M3.5.0,M10.5.0/3", "Europe/Berlin"),
            ("AEST-10AEDT,M10.1.0,M4.1.0/3", "Australia/Sydney"),
            ("<+1030>-10:30<+11>-11,M10.1.0,M4.1.0", "Australia/Lord_Howe"),
            ("IST-1GMT0,M10.5.0,M3.5.0/1", "Europe/Dublin"),
            ("<-03>3", "America/Sao_Paulo"),
            ("IST-5:30", "Asia/Kolkata"),
        ]
    )
    func footerMatchesZone(footer: String, identifier: String) throws {
        let zone = try ZoneInfo(identifier: identifier, tzif: TZifBuilder.footerOnly(footer))
        #expect(zone.table.transitions.isEmpty)
        let reference = TimeZone(identifier: identifier)!
        var mismatches: [Int64] = []
        for sample in sampleInstants(in: identifier, from: "2020-01-01T00:00:00Z") {
            let expected = reference.secondsFromGMT(for: Date(timeIntervalSince1970: TimeInterval(sample)))
            if zone.offset(at: sample) != expected, mismatches.count < 5 { mismatches.append(sample) }
        }
        #expect(mismatches.isEmpty, "\(footer) disagrees with \(identifier) at \(mismatches)")
    }

    @Test(
        "rule day forms and unusual change times",
        arguments: [
            // Jn never counts February 29; /-1 and /25 move the change into the previous/next day.
            ("EST5EDT,J60/-1,J300/25", 2024, "2024-03-01T04:00:00Z", "2024-10-28T05:00:00Z"),
            ("EST5EDT,J60/-1,J300/25", 2023, "2023-03-01T04:00:00Z", "2023-10-28T05:00:00Z"),
            // n counts from 0 and does count February 29.
            ("EST5EDT,59,299", 2024, "2024-02-29T07:00:00Z", "2024-10-26T06:00:00Z"),
            ("EST5EDT,59,299", 2023, "2023-03-01T07:00:00Z", "2023-10-27T06:00:00Z"),
            // Week 5 means the last such weekday; a time with minutes and seconds.
            ("CET-1CEST,M3.5.0/2:30:15,M10.5.0/3", 2026, "2026-03-29T01:30:15Z", "2026-10-25T01:00:00Z"),
            ("<+1030>-10:30<+11>-11,M10.1.0,M4.1.0", 2026, "2026-10-03T15:30:00Z", "2026-04-04T15:00:00Z"),
        ]
    )
    func changeDays(footer: String, year: Int, start: String, end: String) throws {
        let changes = try ZoneInfoRule(parsing: footer).changes(in: year)
        #expect(changes.first { $0.daylight }?.instant == instant(start))
        #expect(changes.first { !$0.daylight }?.instant == instant(end))
    }

    @Test("a version 1 file is read from its 32-bit block, type 0 before the first transition")
    func versionOne() throws {
        let zone = try ZoneInfo(identifier: "Test/V1", tzif: TZifBuilder.version1())
        #expect(zone.table.rule == nil)
        #expect(zone.offset(at: -5_000_000_000) == 3600)
        #expect(zone.abbreviation(at: 999) == "AAA")
        #expect(zone.offset(at: 1000) == 7200)
        #expect(zone.abbreviation(at: 4_000_000_000) == "BBB")
    }

    @Test("negative daylight saving: Dublin's winter time is its 'daylight' period")
    func negativeDaylightSaving() throws {
        let zone = try ZoneInfo(identifier: "Europe/Dublin", tzif: TZifBuilder.footerOnly("IST-1GMT0,M10.5.0,M3.5.0/1"))
        #expect(zone.offset(at: instant("2026-01-15T12:00:00Z")) == 0)
        #expect(zone.abbreviation(at: instant("2026-01-15T12:00:00Z")) == "GMT")
        #expect(zone.offset(at: instant("2026-07-15T12:00:00Z")) == 3600)
        #expect(zone.offset(at: instant("2026-03-29T00:59:59Z")) == 0)
        #expect(zone.offset(at: instant("2026-03-29T01:00:00Z")) == 3600)
    }

    @Test("daylight time all year round (start Jan 1 00:00, end Dec 31 25:00)")
    func permanentDaylightTime() throws {
        let zone = try ZoneInfo(identifier: "Test/Always", tzif: TZifBuilder.footerOnly("EST5EDT,0/0,J365/25"))
        for iso in ["2026-01-01T00:30:00Z", "2026-01-01T05:00:00Z", "2026-07-01T00:00:00Z", "2026-12-31T23:59:59Z"] {
            #expect(zone.offset(at: instant(iso)) == -4 * 3600, "at \(iso)")
        }
    }

    @Test(
        "malformed TZ strings are refused",
        arguments: ["EST", "EST5EDT", "EST5EDT,M13.1.0,M11.1.0", "EST5EDT,M3.2.0,M11.1.0x", "<EST5", "E5"]
    )
    func malformedRules(footer: String) {
        #expect(throws: ZoneInfoRuleSyntaxError.self) { try ZoneInfoRule(parsing: footer) }
    }
}
