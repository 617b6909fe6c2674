// Reading the text of a cron expression into five value sets, with errors that point at the
// exact character at fault.

/// The parsed fields of a cron expression.
struct CronFields: Sendable, Equatable {
    var minutes = CronValues()
    var hours = CronValues()
    var daysOfMonth = CronValues()
    var months = CronValues()
    /// 0 = Sunday ... 6 = Saturday (a written 7 is stored as 0).
    var daysOfWeek = CronValues()
    /// Whether the day-of-month field does not start with `*`.
    var dayOfMonthRestricted = false
    /// Whether the day-of-week field does not start with `*`.
    var dayOfWeekRestricted = false
}

/// Reads expressions; `expression` is the text as given, so positions count in it.
struct CronParser {
    static let macros: [(name: String, fields: String)] = [
        ("@yearly", "0 0 1 1 *"), ("@annually", "0 0 1 1 *"), ("@quarterly", "0 0 1 1,4,7,10 *"),
        ("@monthly", "0 0 1 * *"), ("@weekly", "0 0 * * 0"), ("@daily", "0 0 * * *"),
        ("@midnight", "0 0 * * *"), ("@hourly", "0 * * * *"),
    ]
    static let fieldList = "minute hour day-of-month month day-of-week"

    let expression: String

    func failure(_ field: CronField?, _ position: Int?, _ message: String) -> CronError {
        CronError(expression: expression, field: field?.rawValue, fieldName: field?.name, position: position, message: message)
    }

    func parse() throws(CronError) -> CronFields {
        let words = Self.words(of: expression)
        guard let first = words.first else {
            throw failure(nil, nil, "the expression is empty; expected five fields (\(Self.fieldList)) or a macro such as @daily")
        }
        if first.text.first == "@" {
            let supported = Self.macros.map(\.name).joined(separator: ", ")
            guard words.count == 1 else {
                throw failure(nil, words[1].start + 1, "unexpected text after \(String(first.text)); a macro stands alone")
            }
            let name = String(first.text).lowercased()
            if name == "@reboot" {
                throw failure(
                    nil, first.start + 1,
                    "@reboot is not supported: schedules fire on the clock, not when a process starts; use one of \(supported)")
            }
            guard let macro = Self.macros.first(where: { $0.name == name }) else {
                throw failure(nil, first.start + 1, "unknown macro \(String(first.text)); use one of \(supported)")
            }
            return try CronParser(expression: macro.fields).parse()
        }
        guard words.count == 5 else {
            let extra = words.count > 5 ? words[5].start + 1 : nil
            throw failure(nil, extra, "expected 5 fields (\(Self.fieldList)) but got \(words.count)")
        }
        var fields = CronFields()
        for (field, word) in zip(CronField.allCases, words) {
            var reader = CronFieldReader(parser: self, field: field, text: word.text, start: word.start)
            let values = try reader.values()
            switch field {
            case .minute: fields.minutes = values
            case .hour: fields.hours = values
            case .dayOfMonth: fields.daysOfMonth = values
            case .month: fields.months = values
            case .dayOfWeek:
                fields.daysOfWeek = values
                if values.contains(7) { fields.daysOfWeek.insert(0) }
                fields.daysOfWeek.bits &= 0x7F
            }
        }
        fields.dayOfMonthRestricted = words[2].text.first != "*"
        fields.dayOfWeekRestricted = words[4].text.first != "*"
        return fields
    }

    /// The whitespace-separated words of `text`, each with its 0-based start.
    static func words(of text: String) -> [(text: [Character], start: Int)] {
        var words: [(text: [Character], start: Int)] = []
        for (index, character) in text.enumerated() {
            if character.isWhitespace { continue }
            if let last = words.last, last.start + last.text.count == index {
                words[words.count - 1].text.append(character)
            } else {
                words.append(([character], index))
            }
        }
        return words
    }
}

/// Reads one field: a comma-separated list of `*`, `a`, `a-b`, each optionally `/step`.
private struct CronFieldReader {
    let parser: CronParser
    let field: CronField
    let text: [Character]
    /// 0-based index of `text` in the whole expression.
    let start: Int
    var index = 0

    init(parser: CronParser, field: CronField, text: [Character], start: Int) {
        self.parser = parser
        self.field = field
        self.text = text
        self.start = start
    }

    var peek: Character? { index < text.count ? text[index] : nil }

    func failure(at offset: Int, _ message: String) -> CronError {
        parser.failure(field, start + offset + 1, message)
    }

    mutating func values() throws(CronError) -> CronValues {
        var values = CronValues()
        let range = field.range
        while true {
            let itemStart = index
            guard let character = peek, character != "," else {
                throw failure(at: index, "empty list item; put a value between the commas or remove the extra comma")
            }
            var low = range.lowerBound
            var high = range.upperBound
            var single = false
            if character == "*" {
                index += 1
            } else {
                low = try value()
                high = low
                single = true
                if peek == "-" {
                    index += 1
                    high = try value()
                    single = false
                    guard low <= high else {
                        throw failure(at: itemStart, "range \(low)-\(high) is reversed; write the smaller value first (\(high)-\(low))")
                    }
                }
            }
            var step = 1
            if peek == "/" {
                index += 1
                let stepStart = index
                step = try number(what: "a step")
                guard step >= 1 else { throw failure(at: stepStart, "step 0 is not allowed; use a step of 1 or more") }
                guard step <= range.upperBound else {
                    throw failure(at: stepStart, "step \(step) is larger than the field's range \(range.lowerBound)-\(range.upperBound)")
                }
                if single { high = range.upperBound }  // `a/n` means from a to the field's end
            }
            for value in stride(from: low, through: high, by: step) { values.insert(value) }
            guard let next = peek else { return values }
            guard next == "," else { throw unexpected(next) }
            index += 1
            if peek == nil { throw failure(at: index - 1, "empty list item after the last comma; remove the comma") }
        }
    }

    func unexpected(_ character: Character) -> CronError {
        let hint =
            switch character {
            case "#", "L", "W", "?": " (the Quartz-style \"\(character)\" forms are not supported)"
            default: ""
            }
        return failure(at: index, "unexpected \"\(character)\"; expected \",\", \"-\", \"/\" or the end of the field\(hint)")
    }

    /// A number or, in month and day of week, a three-letter name; checked against the range.
    mutating func value() throws(CronError) -> Int {
        let valueStart = index
        let range = field.range
        let bounds = "\(range.lowerBound)-\(range.upperBound)"
        if let character = peek, character.isLetter {
            while let next = peek, next.isLetter { index += 1 }
            let word = String(text[valueStart..<index]).uppercased()
            guard !field.names.isEmpty else {
                throw failure(
                    at: valueStart, "expected a number \(bounds), not \"\(word)\" (names are allowed only in month and day of week)")
            }
            guard let match = field.names.first(where: { $0.name == word }) else {
                let valid = field.names.map(\.name).joined(separator: ", ")
                throw failure(at: valueStart, "unknown \(field.name) name \"\(word)\"; use \(valid) or \(bounds)")
            }
            return match.value
        }
        let number = try number(what: "a number \(bounds)")
        guard range.contains(number) else {
            throw failure(at: valueStart, "\(String(text[valueStart..<index])) is out of range \(bounds)")
        }
        return number
    }

    mutating func number(what: String) throws(CronError) -> Int {
        let numberStart = index
        var number = 0
        while let character = peek, let digit = character.wholeNumberValue, character.isASCII {
            number = min(number * 10 + digit, 1_000_000)
            index += 1
        }
        guard index > numberStart else {
            if let character = peek { throw failure(at: index, "expected \(what), found \"\(character)\"") }
            throw failure(at: index - 1, "expected \(what) after \"\(text[index - 1])\"")
        }
        return number
    }
}
