import Testing

@testable import CutoverSchedule

/// One row of expected firing times, computed independently (Python's zoneinfo and a
/// minute-by-minute reference scan), never with the code under test.
struct CronCase: Sendable, CustomTestStringConvertible {
    var expression: String
    var zone: String
    var after: String
    var expected: [String]

    var testDescription: String { "\(expression) in \(zone) after \(after)" }

    func check() throws {
        let cron = try CronExpression(parsing: expression)
        let zone = try ZoneInfo.load(zone)
        let want = expected.map(instant)
        #expect(cron.times(after: instant(after), count: want.count, in: zone) == want)
        #expect(cron.next(after: instant(after), in: zone) == want.first)
        // Resuming from each firing gives the following one: no double run, no lost run.
        for (previous, following) in zip(want, want.dropFirst()) {
            #expect(cron.next(after: previous, in: zone) == following)
        }
    }
}

@Suite("CronExpression.next in zones without a change in sight")
struct CronNextTests {
    static let cases: [CronCase] = [
        .init(
            expression: "0 0 29 2 *", zone: "UTC", after: "2025-03-01T00:00:00Z",
            expected: ["2028-02-29T00:00:00Z", "2032-02-29T00:00:00Z"]),
        .init(
            expression: "0 12 31 * *", zone: "UTC", after: "2026-01-01T00:00:00Z",
            expected: [
                "2026-01-31T12:00:00Z", "2026-03-31T12:00:00Z", "2026-05-31T12:00:00Z",
                "2026-07-31T12:00:00Z", "2026-08-31T12:00:00Z",
            ]),
        .init(
            expression: "@quarterly", zone: "UTC", after: "2026-11-25T00:00:00Z",
            expected: ["2027-01-01T00:00:00Z", "2027-04-01T00:00:00Z", "2027-07-01T00:00:00Z", "2027-10-01T00:00:00Z"]),
        .init(
            expression: "0 0 13 * FRI", zone: "UTC", after: "2026-02-01T00:00:00Z",
            expected: [
                "2026-02-06T00:00:00Z", "2026-02-13T00:00:00Z", "2026-02-20T00:00:00Z",
                "2026-02-27T00:00:00Z", "2026-03-06T00:00:00Z", "2026-03-13T00:00:00Z",
            ]),
        .init(
            expression: "*/15 9-17 * * MON-FRI", zone: "UTC", after: "2026-03-06T16:50:00Z",
            expected: [
                "2026-03-06T17:00:00Z", "2026-03-06T17:15:00Z", "2026-03-06T17:30:00Z",
                "2026-03-06T17:45:00Z", "2026-03-09T09:00:00Z", "2026-03-09T09:15:00Z",
            ]),
        .init(
            expression: "0 0 * * 7", zone: "UTC", after: "2026-05-01T00:00:00Z",
            expected: ["2026-05-03T00:00:00Z", "2026-05-10T00:00:00Z"]),
        .init(
            expression: "5/20 * * * *", zone: "UTC", after: "2026-05-01T00:00:00Z",
            expected: ["2026-05-01T00:05:00Z", "2026-05-01T00:25:00Z", "2026-05-01T00:45:00Z", "2026-05-01T01:05:00Z"]),
        .init(
            expression: "0 0 1-7 * SUN", zone: "UTC", after: "2026-05-01T00:00:00Z",
            expected: [
                "2026-05-02T00:00:00Z", "2026-05-03T00:00:00Z", "2026-05-04T00:00:00Z",
                "2026-05-05T00:00:00Z", "2026-05-06T00:00:00Z", "2026-05-07T00:00:00Z",
                "2026-05-10T00:00:00Z", "2026-05-17T00:00:00Z", "2026-05-24T00:00:00Z",
            ]),
        .init(
            expression: "0 0 */2 * SUN", zone: "UTC", after: "2026-05-01T00:00:00Z",
            expected: ["2026-05-03T00:00:00Z", "2026-05-17T00:00:00Z", "2026-05-31T00:00:00Z"]),
        .init(
            expression: "0 9 * * MON-FRI", zone: "Asia/Kolkata", after: "2026-06-05T00:00:00Z",
            expected: ["2026-06-05T03:30:00Z", "2026-06-08T03:30:00Z"]),
        .init(
            expression: "59 23 31 12 *", zone: "UTC", after: "2026-12-31T23:59:00Z",
            expected: ["2027-12-31T23:59:00Z"]),
    ]

    @Test("next firing times", arguments: cases)
    func nextTimes(_ row: CronCase) throws {
        try row.check()
    }

    @Test("a schedule that never fires returns nil, quickly", arguments: ["0 0 30 2 *", "0 0 31 4,6,9,11 *", "0 0 31 2 *"])
    func neverFires(text: String) throws {
        let cron = try CronExpression(parsing: text)
        #expect(cron.next(after: instant("2026-01-01T00:00:00Z"), in: .utc) == nil)
        #expect(cron.times(after: 0, count: 3, in: .utc).isEmpty)
    }

    @Test("times(after:through:) lists every firing in (from, through] and respects the limit")
    func timesThrough() throws {
        let cron = try CronExpression(parsing: "0 * * * *")
        let from = instant("2026-05-01T00:00:00Z")
        let hours = cron.times(after: from, through: from + 24 * 3600, in: .utc, limit: 100)
        #expect(hours.count == 24)
        #expect(hours.first == from + 3600 && hours.last == from + 24 * 3600)
        #expect(cron.times(after: from, through: from + 24 * 3600, in: .utc, limit: 5).count == 5)
        #expect(cron.times(after: from, through: from, in: .utc, limit: 5).isEmpty)
    }

    @Test("a year of every minute in Berlin: one firing per instant minute, once each")
    func everyMinuteForAYear() throws {
        let cron = try CronExpression(parsing: "* * * * *")
        let zone = try ZoneInfo.load("Europe/Berlin")
        let from = instant("2026-01-01T00:00:00Z")
        let through = instant("2027-01-01T00:00:00Z")
        let all = cron.times(after: from, through: through, in: zone, limit: 1_000_000)
        // 525,600 minutes, less the 60 of the repeated hour's second pass (already fired).
        #expect(all.count == 525_540)
        #expect(zip(all, all.dropFirst()).allSatisfy { $0 < $1 })
        #expect(cron.times(after: from, through: through, in: zone, limit: 1000).count == 1000)
    }
}
