// Finding firing times. The search walks the calendar in local wall time — year, month, day,
// hour, minute — jumping straight to the next allowed value of each field, and only then maps
// the local time to an instant under the daylight saving rule documented on CronExpression.
//
// Why this yields every firing once and in order: the map from a local time to its firing
// instant (the instant itself, the first of two, or the jump) never decreases as local time
// increases. So the firings after an instant are the images of the matching local times, in
// order, skipping images not later than the last one returned.

/// An ongoing search for successive firing times of one expression in one zone.
struct CronSearch {
    /// How many years past its starting point one call to `next` looks before giving up.
    static let horizonYears = 8

    let fields: CronFields
    private var resolver: ZoneInfoResolver
    /// The last instant reported (or the starting instant): the next firing must be later.
    private var last: Int64
    /// The earliest local time not yet considered.
    private var cursor: Int64

    init(fields: CronFields, zone: ZoneInfo, after instant: Int64) {
        self.fields = fields
        resolver = ZoneInfoResolver(zone: zone)
        last = instant
        // No local time earlier than `instant` plus the lowest offset in force soon after it can
        // fire after `instant` (see the file comment), so start there rather than at the clock
        // reading: the clock may read later than a repeated hour we must still consider.
        let span = 2 * ZoneInfo.resolveReach
        cursor = instant + resolver.lowestOffset(from: instant, span: span)
    }

    /// The next firing time, or nil when none lies within the horizon.
    mutating func next() -> Int64? {
        while let local = nextLocalMatch(atOrAfter: cursor) {
            cursor = local + 60
            let fire: Int64
            switch resolver.resolve(local: local) {
            case .unique(let instant): fire = instant
            case .repeated(let first, _): fire = first
            case .skipped(let jumpAt): fire = jumpAt
            }
            if fire > last {
                last = fire
                return fire
            }
        }
        return nil
    }

    /// The first local time (seconds since 1970-01-01T00:00 as if UTC) at or after `start`, on a
    /// whole minute, that the fields match; nil past the horizon.
    func nextLocalMatch(atOrAfter start: Int64) -> Int64? {
        let aligned = CivilDate.floorDivide(start + 59, 60) * 60
        let startDay = CivilDate.floorDivide(aligned, CivilDate.secondsPerDay)
        var date = CivilDate(daysSinceEpoch: startDay)
        let secondOfDay = Int(aligned - startDay * CivilDate.secondsPerDay)
        var hour = secondOfDay / 3600
        var minute = secondOfDay % 3600 / 60
        let lastYear = date.year + Self.horizonYears

        while date.year <= lastYear {
            guard fields.months.contains(date.month) else {
                if let month = fields.months.first(atOrAfter: date.month + 1) {
                    date = CivilDate(year: date.year, month: month, day: 1)
                } else {
                    date = CivilDate(year: date.year + 1, month: fields.months.first(atOrAfter: 1) ?? 1, day: 1)
                }
                (hour, minute) = (0, 0)
                continue
            }
            let day = date.daysSinceEpoch
            guard dayMatches(date, daysSinceEpoch: day), let matchedHour = fields.hours.first(atOrAfter: hour) else {
                date = CivilDate(daysSinceEpoch: day + 1)
                (hour, minute) = (0, 0)
                continue
            }
            if matchedHour != hour { (hour, minute) = (matchedHour, 0) }
            guard let matchedMinute = fields.minutes.first(atOrAfter: minute) else {
                (hour, minute) = (hour + 1, 0)
                continue
            }
            return day * CivilDate.secondsPerDay + Int64(hour * 3600 + matchedMinute * 60)
        }
        return nil
    }

    /// The Vixie day rule: either field may match when both are restricted, else both must.
    private func dayMatches(_ date: CivilDate, daysSinceEpoch day: Int64) -> Bool {
        let byMonthDay = fields.daysOfMonth.contains(date.day)
        let byWeekday = fields.daysOfWeek.contains(CivilDate.weekday(daysSinceEpoch: day))
        if fields.dayOfMonthRestricted && fields.dayOfWeekRestricted { return byMonthDay || byWeekday }
        return byMonthDay && byWeekday
    }
}
