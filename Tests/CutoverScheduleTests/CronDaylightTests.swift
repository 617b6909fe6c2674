import Testing

@testable import CutoverSchedule

@Suite("CronExpression across daylight saving changes")
struct CronDaylightTests {
    static let cases: [CronCase] = [
        // New York springs forward on 2026-03-08 at 02:00 EST (07:00Z): 02:30 fires at the jump.
        .init(
            expression: "30 2 * * *", zone: "America/New_York", after: "2026-03-06T12:00:00Z",
            expected: ["2026-03-07T07:30:00Z", "2026-03-08T07:00:00Z", "2026-03-09T06:30:00Z"]),
        // ... and falls back on 2026-11-01 at 02:00 EDT: 01:30 happens twice and fires at the first.
        .init(
            expression: "30 1 * * *", zone: "America/New_York", after: "2026-10-30T12:00:00Z",
            expected: ["2026-10-31T05:30:00Z", "2026-11-01T05:30:00Z", "2026-11-02T06:30:00Z"]),
        // Starting inside the second pass of 01:00-02:00: 01:30 has already fired.
        .init(
            expression: "30 1 * * *", zone: "America/New_York", after: "2026-11-01T06:10:00Z",
            expected: ["2026-11-02T06:30:00Z"]),
        .init(
            expression: "30 * * * *", zone: "America/New_York", after: "2026-11-01T03:00:00Z",
            expected: [
                "2026-11-01T03:30:00Z", "2026-11-01T04:30:00Z", "2026-11-01T05:30:00Z",
                "2026-11-01T07:30:00Z", "2026-11-01T08:30:00Z",
            ]),
        // Every skipped 02:x0 of the same jump fires once, at the jump.
        .init(
            expression: "*/10 2 * * *", zone: "America/New_York", after: "2026-03-08T00:00:00Z",
            expected: ["2026-03-08T07:00:00Z", "2026-03-09T06:00:00Z", "2026-03-09T06:10:00Z"]),
        // Berlin: 2026-03-29 02:00 CET jumps to 03:00 CEST (01:00Z); 2026-10-25 03:00 CEST back to 02:00 CET.
        .init(
            expression: "30 2 * * *", zone: "Europe/Berlin", after: "2026-03-27T12:00:00Z",
            expected: ["2026-03-28T01:30:00Z", "2026-03-29T01:00:00Z", "2026-03-30T00:30:00Z"]),
        .init(
            expression: "30 2 * * *", zone: "Europe/Berlin", after: "2026-10-23T12:00:00Z",
            expected: ["2026-10-24T00:30:00Z", "2026-10-25T00:30:00Z", "2026-10-26T01:30:00Z"]),
        // Lord Howe shifts by half an hour: 02:00-02:30 skipped on 2026-10-04 ...
        .init(
            expression: "15 2 * * *", zone: "Australia/Lord_Howe", after: "2026-10-02T12:00:00Z",
            expected: ["2026-10-02T15:45:00Z", "2026-10-03T15:30:00Z", "2026-10-04T15:15:00Z"]),
        // ... and 01:30-02:00 repeated on 2026-04-05.
        .init(
            expression: "45 1 * * *", zone: "Australia/Lord_Howe", after: "2026-04-03T12:00:00Z",
            expected: ["2026-04-03T14:45:00Z", "2026-04-04T14:45:00Z", "2026-04-05T15:15:00Z"]),
        .init(
            expression: "0,30 * * * *", zone: "Australia/Lord_Howe", after: "2026-04-04T13:00:00Z",
            expected: [
                "2026-04-04T13:30:00Z", "2026-04-04T14:00:00Z", "2026-04-04T14:30:00Z",
                "2026-04-04T15:30:00Z", "2026-04-04T16:00:00Z",
            ]),
    ]

    @Test("next firing times around the changes", arguments: cases)
    func nextTimes(_ row: CronCase) throws {
        try row.check()
    }

    @Test(
        "firing times are strictly increasing in every zone",
        arguments: ["America/New_York", "Europe/Berlin", "Australia/Lord_Howe", "Europe/Dublin", "America/Sao_Paulo"]
    )
    func strictlyIncreasing(identifier: String) throws {
        let zone = try ZoneInfo.load(identifier)
        for text in ["*/7 * * * *", "0,30 0-3 * * *", "0 2 * * SUN"] {
            let times = try CronExpression(parsing: text).times(after: instant("2026-01-01T00:00:00Z"), count: 3000, in: zone)
            #expect(times.count == 3000)
            #expect(zip(times, times.dropFirst()).allSatisfy { $0 < $1 }, "\(text) in \(identifier)")
        }
    }
}
