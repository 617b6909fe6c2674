import Testing

@testable import CutoverSchedule

/// Local wall-clock seconds (as if UTC) for "2026-03-08T02:30:00".
func localTime(_ wallClock: String) -> Int64 {
    instant(wallClock + "Z")
}

@Suite("ZoneInfo.resolve maps wall-clock times to instants")
struct ZoneInfoResolveTests {
    enum Expected: Sendable {
        case unique(String)
        case repeated(String, String)
        case skipped(String)

        var localTime: LocalTime {
            switch self {
            case .unique(let at): .unique(instant(at))
            case .repeated(let first, let second): .repeated(first: instant(first), second: instant(second))
            case .skipped(let jump): .skipped(jumpAt: instant(jump))
            }
        }
    }

    @Test(
        "around the 2026 daylight saving changes",
        arguments: [
            ("America/New_York", "2026-03-08T01:59:00", Expected.unique("2026-03-08T06:59:00Z")),
            ("America/New_York", "2026-03-08T02:00:00", .skipped("2026-03-08T07:00:00Z")),
            ("America/New_York", "2026-03-08T02:30:00", .skipped("2026-03-08T07:00:00Z")),
            ("America/New_York", "2026-03-08T03:00:00", .unique("2026-03-08T07:00:00Z")),
            ("America/New_York", "2026-11-01T00:59:00", .unique("2026-11-01T04:59:00Z")),
            ("America/New_York", "2026-11-01T01:00:00", .repeated("2026-11-01T05:00:00Z", "2026-11-01T06:00:00Z")),
            ("America/New_York", "2026-11-01T01:30:00", .repeated("2026-11-01T05:30:00Z", "2026-11-01T06:30:00Z")),
            ("America/New_York", "2026-11-01T02:00:00", .unique("2026-11-01T07:00:00Z")),
            ("America/New_York", "2026-07-04T12:00:00", .unique("2026-07-04T16:00:00Z")),
            ("Europe/Berlin", "2026-03-29T01:59:00", .unique("2026-03-29T00:59:00Z")),
            ("Europe/Berlin", "2026-03-29T02:30:00", .skipped("2026-03-29T01:00:00Z")),
            ("Europe/Berlin", "2026-03-29T03:00:00", .unique("2026-03-29T01:00:00Z")),
            ("Europe/Berlin", "2026-10-25T02:30:00", .repeated("2026-10-25T00:30:00Z", "2026-10-25T01:30:00Z")),
            ("Europe/Berlin", "2026-10-25T03:00:00", .unique("2026-10-25T02:00:00Z")),
            ("Australia/Lord_Howe", "2026-10-04T02:15:00", .skipped("2026-10-03T15:30:00Z")),
            ("Australia/Lord_Howe", "2026-04-05T01:45:00", .repeated("2026-04-04T14:45:00Z", "2026-04-04T15:15:00Z")),
            ("Europe/Dublin", "2026-03-29T01:30:00", .skipped("2026-03-29T01:00:00Z")),
            ("Asia/Kolkata", "2026-03-08T02:30:00", .unique("2026-03-07T21:00:00Z")),
            // Far beyond the transition table: the footer rule decides.
            ("America/New_York", "2090-03-12T02:30:00", .skipped("2090-03-12T07:00:00Z")),
        ]
    )
    func resolve(identifier: String, wallClock: String, expected: Expected) throws {
        let zone = try ZoneInfo.load(identifier)
        #expect(zone.resolve(local: localTime(wallClock)) == expected.localTime)
        var resolver = ZoneInfoResolver(zone: zone)
        #expect(resolver.resolve(local: localTime(wallClock)) == expected.localTime)
    }

    @Test("every resolved instant reads back as the same wall-clock time")
    func roundTrip() throws {
        let zone = try ZoneInfo.load("Australia/Lord_Howe")
        let start = localTime("2026-04-03T00:00:00")
        for local in stride(from: start, to: start + 3 * 86_400, by: 300) {
            switch zone.resolve(local: local) {
            case .unique(let at):
                #expect(at + Int64(zone.offset(at: at)) == local)
            case .repeated(let first, let second):
                #expect(first < second)
                #expect(first + Int64(zone.offset(at: first)) == local)
                #expect(second + Int64(zone.offset(at: second)) == local)
            case .skipped:
                Issue.record("nothing is skipped in April at Lord Howe")
            }
        }
    }
}
