// Reading a POSIX TZ string: std offset [dst [offset] [,start[/time],end[/time]]].

/// Why a POSIX TZ string could not be read; the zone loader wraps it into a `ZoneInfoError`.
struct ZoneInfoRuleSyntaxError: Error, Sendable, Equatable {
    var message: String
}

extension ZoneInfoRule {
    /// Reads a POSIX TZ string such as `CET-1CEST,M3.5.0,M10.5.0/3` or `<+1030>-10:30<+11>-11,M10.1.0,M4.1.0`.
    /// - Throws: `ZoneInfoRuleSyntaxError` saying what was expected where.
    init(parsing text: String) throws(ZoneInfoRuleSyntaxError) {
        var reader = Reader(bytes: Array(text.utf8), text: text)
        let standardName = try reader.name()
        let standardOffset = try -reader.duration(what: "the standard time's offset")
        standard = Period(abbreviation: standardName, offset: standardOffset)
        guard !reader.atEnd else { return }
        let daylightName = try reader.name()
        var daylightOffset = standardOffset + 3600
        if let next = reader.peek, next != UInt8(ascii: ",") {
            daylightOffset = try -reader.duration(what: "the daylight time's offset")
        }
        daylight = Period(abbreviation: daylightName, offset: daylightOffset)
        guard !reader.atEnd else {
            throw reader.failure("daylight time \(daylightName) has no start and end rule (expected \",start,end\")")
        }
        try reader.expect(",")
        start = try reader.change()
        try reader.expect(",")
        end = try reader.change()
        guard reader.atEnd else { throw reader.failure("unexpected text after the end rule") }
    }
}

/// A cursor over the ASCII bytes of a TZ string.
private struct Reader {
    let bytes: [UInt8]
    let text: String
    var index = 0

    var atEnd: Bool { index >= bytes.count }
    var peek: UInt8? { atEnd ? nil : bytes[index] }

    func failure(_ message: String) -> ZoneInfoRuleSyntaxError {
        ZoneInfoRuleSyntaxError(message: "TZ string \"\(text)\", character \(index + 1): \(message)")
    }

    mutating func expect(_ character: Unicode.Scalar) throws(ZoneInfoRuleSyntaxError) {
        guard peek == UInt8(ascii: character) else { throw failure("expected \"\(character)\"") }
        index += 1
    }

    /// An abbreviation: three or more letters, or anything alphanumeric, `+` or `-` in `<...>`.
    mutating func name() throws(ZoneInfoRuleSyntaxError) -> String {
        let quoted = peek == UInt8(ascii: "<")
        if quoted { index += 1 }
        let begin = index
        while let byte = peek, Self.isLetter(byte) || (quoted && (Self.isDigit(byte) || byte == 43 || byte == 45)) {
            index += 1
        }
        let name = String(decoding: bytes[begin..<index], as: UTF8.self)
        if quoted { try expect(">") }
        guard name.count >= 3 || (quoted && !name.isEmpty) else {
            throw failure("expected a time zone abbreviation of at least three letters")
        }
        return name
    }

    /// `[+-]hh[:mm[:ss]]` in seconds, hours up to 167.
    mutating func duration(what: String) throws(ZoneInfoRuleSyntaxError) -> Int {
        var sign = 1
        if peek == UInt8(ascii: "+") || peek == UInt8(ascii: "-") {
            sign = peek == UInt8(ascii: "-") ? -1 : 1
            index += 1
        }
        let hours = try number(upTo: 167, what: what)
        var seconds = hours * 3600
        for scale in [60, 1] where peek == UInt8(ascii: ":") {
            index += 1
            seconds += try number(upTo: 59, what: what) * scale
        }
        return sign * seconds
    }

    mutating func number(upTo maximum: Int, what: String) throws(ZoneInfoRuleSyntaxError) -> Int {
        let begin = index
        var value = 0
        while let byte = peek, Self.isDigit(byte), index - begin < 4 {
            value = value * 10 + Int(byte - 48)
            index += 1
        }
        guard index > begin else { throw failure("expected a number for \(what)") }
        guard value <= maximum else { throw failure("\(value) is too large for \(what) (at most \(maximum))") }
        return value
    }

    /// `Jn`, `n` or `Mm.w.d`, then an optional `/time`.
    mutating func change() throws(ZoneInfoRuleSyntaxError) -> ZoneInfoRule.Change {
        let day: ZoneInfoRule.Change.Day
        switch peek {
        case UInt8(ascii: "J"):
            index += 1
            let n = try number(upTo: 365, what: "a Julian day (1-365)")
            guard n >= 1 else { throw failure("Julian day J0 does not exist; they count from J1") }
            day = .julian(n)
        case UInt8(ascii: "M"):
            index += 1
            let month = try number(upTo: 12, what: "the month (1-12)")
            try expect(".")
            let week = try number(upTo: 5, what: "the week (1-5)")
            try expect(".")
            let weekday = try number(upTo: 6, what: "the weekday (0-6)")
            guard month >= 1, week >= 1 else { throw failure("month and week count from 1") }
            day = .monthWeek(month: month, week: week, weekday: weekday)
        default:
            day = .zeroBased(try number(upTo: 365, what: "a day of the year (0-365)"))
        }
        var change = ZoneInfoRule.Change(day: day)
        if peek == UInt8(ascii: "/") {
            index += 1
            change.time = try duration(what: "the time of the change")
        }
        return change
    }

    static func isLetter(_ byte: UInt8) -> Bool { (65...90).contains(byte) || (97...122).contains(byte) }
    static func isDigit(_ byte: UInt8) -> Bool { (48...57).contains(byte) }
}
