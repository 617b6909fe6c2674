import Foundation

/// A five-field cron schedule — minute, hour, day of month, month, day of week — evaluated on a
/// zone's local wall clock.
///
/// Syntax: minute 0-59, hour 0-23, day of month 1-31, month 1-12 or JAN-DEC, day of week 0-7
/// (0 and 7 are Sunday) or SUN-SAT; names are case-insensitive and may end ranges (`MON-FRI`).
/// Each field is a comma-separated list of `*`, `a`, `a-b`, `*/n`, `a-b/n` or `a/n` (from `a`
/// to the field's end, every `n`). The macros `@yearly` (= `@annually`), `@quarterly`,
/// `@monthly`, `@weekly`, `@daily` (= `@midnight`) and `@hourly` stand for whole expressions.
///
/// Day rule (as in Vixie cron): when both day of month and day of week are restricted (neither
/// field starts with `*`), a day matches when EITHER matches, so `0 0 13 * FRI` fires on every
/// 13th and on every Friday. Otherwise both must match.
///
/// Daylight saving rule — the contract the scheduler relies on: no double run, no lost run.
/// - A matching local time that happens once fires then.
/// - A matching local time that happens twice (the clocks went back) fires once, at its FIRST
///   occurrence.
/// - A matching local time that the clocks jumped over fires at the instant of the jump: 02:30
///   on New York's spring-forward day fires at 03:00 EDT. Several skipped times of the same jump
///   fire once, at that instant.
/// Firing times are therefore strictly increasing; equal instants are reported once.
public struct CronExpression: Sendable, Equatable, CustomStringConvertible {
    /// The expression as the user typed it, without surrounding whitespace.
    public let source: String
    let fields: CronFields

    /// Parses a five-field expression or a macro such as `@daily`.
    /// - Throws: `CronError` naming the field (number and name) and the 1-based character
    ///   position in `text` at fault, and what was expected there: wrong field count, empty list
    ///   items, reversed ranges, step 0, out-of-range values, unknown names or macros (including
    ///   `@reboot`), or trailing junk such as `1#`.
    public init(parsing text: String) throws(CronError) {
        source = text.trimmingCharacters(in: .whitespacesAndNewlines)
        fields = try CronParser(expression: text).parse()
    }

    public var description: String { source }

    /// The first time strictly after `instant` (Unix seconds) at which the schedule fires in
    /// `zone`, or nil when it never fires within eight years (e.g. `0 0 30 2 *`).
    public func next(after instant: Int64, in zone: ZoneInfo) -> Int64? {
        var search = CronSearch(fields: fields, zone: zone, after: instant)
        return search.next()
    }

    /// The first `count` firing times strictly after `instant`, in increasing order (fewer if the
    /// schedule stops firing).
    public func times(after instant: Int64, count: Int, in zone: ZoneInfo) -> [Int64] {
        var search = CronSearch(fields: fields, zone: zone, after: instant)
        var times: [Int64] = []
        while times.count < count, let time = search.next() { times.append(time) }
        return times
    }

    /// Every firing time in (`from`, `through`], in increasing order, at most `limit` of them
    /// (the scheduler uses this to list the runs it missed).
    public func times(after from: Int64, through: Int64, in zone: ZoneInfo, limit: Int) -> [Int64] {
        var search = CronSearch(fields: fields, zone: zone, after: from)
        var times: [Int64] = []
        while times.count < limit, let time = search.next(), time <= through { times.append(time) }
        return times
    }
}
