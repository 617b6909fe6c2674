// The POSIX TZ string in a TZif footer (RFC 8536 section 3.3): the rule a zone follows after
// the last transition its file lists, e.g. "EST5EDT,M3.2.0,M11.1.0" or "<-03>3".

/// A zone's rule in POSIX TZ form: a standard time, optionally with daylight time between two
/// yearly changes.
struct ZoneInfoRule: Sendable, Equatable {
    /// A local time type the rule switches to.
    struct Period: Sendable, Equatable {
        var abbreviation: String
        /// Seconds east of UTC (the POSIX string counts west, so its sign is flipped here).
        var offset: Int
    }

    /// The yearly day and local time at which daylight time starts or ends.
    struct Change: Sendable, Equatable {
        enum Day: Sendable, Equatable {
            /// `Jn`: day 1...365 of the year, never counting February 29.
            case julian(Int)
            /// `n`: day 0...365 of the year, counting February 29.
            case zeroBased(Int)
            /// `Mm.w.d`: weekday `d` (0 = Sunday) of week `w` (1...5, 5 = the last) of month `m`.
            case monthWeek(month: Int, week: Int, weekday: Int)
        }

        var day: Day
        /// Seconds after local midnight; may be negative or past 24 hours (RFC 8536 allows ±167 h).
        var time: Int = 7200

        /// Days since 1970-01-01 of the change's date in `year`.
        func date(in year: Int) -> Int64 {
            let newYear = CivilDate(year: year, month: 1, day: 1).daysSinceEpoch
            switch day {
            case .julian(let n):
                let skipsLeapDay = CivilDate.isLeapYear(year) && n >= 60
                return newYear + Int64(n - 1) + (skipsLeapDay ? 1 : 0)
            case .zeroBased(let n):
                return newYear + Int64(n)
            case .monthWeek(let month, let week, let weekday):
                let first = CivilDate(year: year, month: month, day: 1).daysSinceEpoch
                var offset = (weekday - CivilDate.weekday(daysSinceEpoch: first) + 7) % 7 + (week - 1) * 7
                while offset >= CivilDate.daysInMonth(year: year, month: month) { offset -= 7 }
                return first + Int64(offset)
            }
        }
    }

    var standard: Period
    var daylight: Period?
    var start: Change?
    var end: Change?

    /// The rule's changes in `year`, in order; each says whether daylight time follows it.
    func changes(in year: Int) -> [(instant: Int64, daylight: Bool)] {
        guard let daylight, let start, let end else { return [] }
        // A change's time is read on the clock in force just before it.
        let on = start.date(in: year) * CivilDate.secondsPerDay + Int64(start.time - standard.offset)
        let off = end.date(in: year) * CivilDate.secondsPerDay + Int64(end.time - daylight.offset)
        return on <= off ? [(on, true), (off, false)] : [(off, false), (on, true)]
    }

    /// The changes of the year around `instant` and of the years either side, in order.
    private func changes(around instant: Int64) -> [(instant: Int64, daylight: Bool)] {
        let localDay = CivilDate.floorDivide(instant + Int64(standard.offset), CivilDate.secondsPerDay)
        let year = CivilDate(daysSinceEpoch: localDay).year
        // Stable sort: at equal instants a later year's change wins (DST all year round).
        return (year - 1...year + 1).flatMap { changes(in: $0) }.enumerated()
            .sorted { ($0.element.instant, $0.offset) < ($1.element.instant, $1.offset) }
            .map(\.element)
    }

    /// The period in force at `instant`.
    func period(at instant: Int64) -> Period {
        guard let daylight else { return standard }
        let last = changes(around: instant).last { $0.instant <= instant }
        return last?.daylight == true ? daylight : standard
    }

    /// The first change strictly after `instant`, or nil when the rule has no daylight time.
    func nextChange(after instant: Int64) -> Int64? {
        changes(around: instant).first { $0.instant > instant }?.instant
    }
}
