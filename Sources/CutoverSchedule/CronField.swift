// The five fields of a cron expression and the set of values each allows.

/// One of the five fields, numbered as users count them.
enum CronField: Int, Sendable, CaseIterable {
    case minute = 1, hour, dayOfMonth, month, dayOfWeek

    /// The name used in error messages and documentation.
    var name: String {
        switch self {
        case .minute: "minute"
        case .hour: "hour"
        case .dayOfMonth: "day of month"
        case .month: "month"
        case .dayOfWeek: "day of week"
        }
    }

    /// The values a user may write; day of week allows 7 as a second Sunday.
    var range: ClosedRange<Int> {
        switch self {
        case .minute: 0...59
        case .hour: 0...23
        case .dayOfMonth: 1...31
        case .month: 1...12
        case .dayOfWeek: 0...7
        }
    }

    /// Three-letter names and their values, for the fields that have them.
    var names: [(name: String, value: Int)] {
        switch self {
        case .month:
            ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"]
                .enumerated().map { ($0.element, $0.offset + 1) }
        case .dayOfWeek:
            ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"].enumerated().map { ($0.element, $0.offset) }
        default:
            []
        }
    }
}

/// A set of small non-negative integers (at most 63) as a bit mask.
struct CronValues: Sendable, Equatable {
    var bits: UInt64 = 0

    func contains(_ value: Int) -> Bool {
        value >= 0 && value < 64 && bits & (1 << UInt64(value)) != 0
    }

    mutating func insert(_ value: Int) {
        bits |= 1 << UInt64(value)
    }

    /// The smallest member that is at least `value`, or nil.
    func first(atOrAfter value: Int) -> Int? {
        guard value < 64 else { return nil }
        let rest = bits >> UInt64(max(value, 0))
        return rest == 0 ? nil : max(value, 0) + rest.trailingZeroBitCount
    }
}
