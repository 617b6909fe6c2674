import Foundation
import Testing

@testable import CutoverSchedule

/// Unix seconds for an ISO 8601 instant such as "2026-03-08T07:00:00Z".
func instant(_ iso: String) -> Int64 {
    Int64((try! Date(iso, strategy: .iso8601)).timeIntervalSince1970)
}

/// Instants every six hours over a span (1990 through 2045 by default), plus each of
/// Foundation's own transitions ±1 s, so the reference decides where the edges are.
func sampleInstants(in identifier: String, from start: String = "1990-01-01T00:00:00Z", through end: String = "2045-12-31T23:00:00Z")
    -> [Int64]
{
    let first = instant(start)
    let last = instant(end)
    var samples = Array(stride(from: first, through: last, by: 6 * 3600))
    let reference = TimeZone(identifier: identifier)!
    var cursor = Date(timeIntervalSince1970: TimeInterval(first))
    while let transition = reference.nextDaylightSavingTimeTransition(after: cursor), transition.timeIntervalSince1970 <= Double(last) {
        let seconds = Int64(transition.timeIntervalSince1970)
        samples += [seconds - 1, seconds, seconds + 1]
        cursor = transition
    }
    return samples
}

@Suite("ZoneInfo reads the system's zoneinfo")
struct ZoneInfoTests {
    static let crossCheckedZones = [
        "America/New_York", "Europe/Berlin", "Australia/Sydney", "Australia/Lord_Howe",
        "Europe/Dublin", "Asia/Kolkata", "America/Sao_Paulo", "UTC",
    ]

    @Test("offset(at:) agrees with Foundation from 1990 to 2045", arguments: crossCheckedZones)
    func offsetsAgreeWithFoundation(identifier: String) throws {
        let zone = try ZoneInfo.load(identifier)
        let reference = TimeZone(identifier: identifier)!
        var mismatches: [String] = []
        for sample in sampleInstants(in: identifier) {
            let expected = reference.secondsFromGMT(for: Date(timeIntervalSince1970: TimeInterval(sample)))
            if zone.offset(at: sample) != expected, mismatches.count < 5 {
                mismatches.append("at \(sample): \(zone.offset(at: sample)) instead of \(expected)")
            }
        }
        #expect(mismatches.isEmpty, "\(identifier): \(mismatches)")
    }

    @Test(
        "abbreviations follow the season",
        arguments: [
            ("America/New_York", "2026-01-15T12:00:00Z", "EST"), ("America/New_York", "2026-07-15T12:00:00Z", "EDT"),
            ("Europe/Berlin", "2026-01-15T12:00:00Z", "CET"), ("Europe/Berlin", "2026-07-15T12:00:00Z", "CEST"),
            ("Europe/Dublin", "2026-01-15T12:00:00Z", "GMT"), ("Europe/Dublin", "2026-07-15T12:00:00Z", "IST"),
            ("Europe/Berlin", "2040-07-15T12:00:00Z", "CEST"), ("America/Sao_Paulo", "2030-01-15T12:00:00Z", "-03"),
            ("America/New_York", "1850-01-01T00:00:00Z", "LMT"),  // before the first transition: type 0
        ]
    )
    func abbreviations(identifier: String, at iso: String, expected: String) throws {
        #expect(try ZoneInfo.load(identifier).abbreviation(at: instant(iso)) == expected)
    }

    @Test("UTC is available built in and from the directory")
    func utc() throws {
        #expect(ZoneInfo.utc.offset(at: 0) == 0)
        #expect(ZoneInfo.utc.abbreviation(at: 1_000_000_000) == "UTC")
        #expect(try ZoneInfo.load("UTC").offset(at: instant("2026-07-01T00:00:00Z")) == 0)
        #expect(try ZoneInfo.load("UTC", directory: "/nonexistent").identifier == "UTC")
    }

    @Test("an unknown zone names itself, the directory searched and how to fix it")
    func unknownZone() {
        #expect {
            try ZoneInfo.load("Mars/Olympus_Mons")
        } throws: { error in
            guard let error = error as? ZoneInfoError else { return false }
            return error.kind == .unknownZone && error.identifier == "Mars/Olympus_Mons"
                && error.message.contains("\(ZoneInfo.defaultDirectory)/Mars/Olympus_Mons")
                && error.message.contains("ls ") && error.message.contains("tzdata")
        }
        #expect(throws: ZoneInfoError.self) { try ZoneInfo.load("America") }  // a directory, not a zone
    }

    @Test("path tricks are refused, not resolved", arguments: ["../etc/passwd", "/etc/passwd", "America/../../etc/passwd", ""])
    func pathTricks(identifier: String) {
        #expect {
            try ZoneInfo.load(identifier)
        } throws: { error in
            guard let error = error as? ZoneInfoError else { return false }
            return error.kind == .invalidIdentifier && error.message.contains("invalid time zone name")
        }
    }

    @Test(
        "malformed files are rejected with the reason",
        arguments: [
            ([UInt8]("not a zone".utf8), "does not start with \"TZif\""),
            ([UInt8]("TZif2".utf8) + [UInt8](repeating: 0, count: 10), "ends early"),
            (TZifBuilder.footerOnly("EST5EDT,M3.2.0"), "footer is not a valid POSIX TZ string"),
        ]
    )
    func malformed(bytes: [UInt8], reason: String) {
        #expect {
            try ZoneInfo(identifier: "Test/Broken", tzif: bytes)
        } throws: { error in
            guard let error = error as? ZoneInfoError else { return false }
            return error.kind == .malformed && error.message.contains(reason) && error.message.contains("Test/Broken")
        }
    }

    @Test("directories other than the default are searched")
    func customDirectory() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("zoneinfo-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory.appendingPathComponent("Test"), withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        try Data(TZifBuilder.footerOnly("<-03>3")).write(to: directory.appendingPathComponent("Test/Minus3"))
        let zone = try ZoneInfo.load("Test/Minus3", directory: directory.path)
        #expect(zone.offset(at: 0) == -3 * 3600)
        #expect(zone.abbreviation(at: 0) == "-03")
    }
}
