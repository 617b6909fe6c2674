import Testing

@testable import CutoverSchedule

@Suite("CronExpression parsing")
struct CronParsingTests {
    @Test(
        "equivalent spellings parse to the same schedule",
        arguments: [
            ("@yearly", "0 0 1 1 *"), ("@annually", "0 0 1 1 *"), ("@quarterly", "0 0 1 1,4,7,10 *"),
            ("@monthly", "0 0 1 * *"), ("@weekly", "0 0 * * 0"), ("@daily", "0 0 * * *"),
            ("@midnight", "0 0 * * *"), ("@hourly", "0 * * * *"), ("@DAILY", "0 0 * * *"),
            ("0 0 * * 7", "0 0 * * 0"), ("0 0 * * mon-fri", "0 0 * * 1-5"), ("0 0 * jan,Dec *", "0 0 * 1,12 *"),
            ("*/15 * * * *", "0,15,30,45 * * * *"), ("5/20 * * * *", "5,25,45 * * * *"),
            ("0 8-18/5 * * *", "0 8,13,18 * * *"), ("0 0 * * 5-7", "0 0 * * 0,5,6"), ("0 0 * * */3", "0 0 * * 0,3,6"),
            ("0\t0  * *\t*", "0 0 * * *"), ("0 0 * * SUN-SAT", "0 0 * * *"),
        ]
    )
    func equivalentSpellings(text: String, expanded: String) throws {
        let parsed = try CronExpression(parsing: text)
        let reference = try CronExpression(parsing: expanded)
        #expect(parsed.fields.minutes == reference.fields.minutes)
        #expect(parsed.fields.hours == reference.fields.hours)
        #expect(parsed.fields.daysOfMonth == reference.fields.daysOfMonth)
        #expect(parsed.fields.months == reference.fields.months)
        #expect(parsed.fields.daysOfWeek == reference.fields.daysOfWeek)
    }

    @Test("the source is kept as typed, trimmed")
    func source() throws {
        let expression = try CronExpression(parsing: "  */5 9-17 * * MON-FRI \n")
        #expect(expression.source == "*/5 9-17 * * MON-FRI")
        #expect(expression.description == "*/5 9-17 * * MON-FRI")
    }

    @Test("a day field counts as restricted unless it starts with *")
    func restrictedDays() throws {
        let both = try CronExpression(parsing: "0 0 13 * FRI").fields
        #expect(both.dayOfMonthRestricted && both.dayOfWeekRestricted)
        let stepped = try CronExpression(parsing: "0 0 */2 * FRI").fields
        #expect(!stepped.dayOfMonthRestricted && stepped.dayOfWeekRestricted)
    }

    @Test("the error reads field, position, problem")
    func errorDescription() {
        #expect {
            try CronExpression(parsing: "0 25 * * *")
        } throws: { error in
            (error as? CronError)?.description == "cron \"0 25 * * *\": field 2 (hour), position 3: 25 is out of range 0-23"
        }
    }

    @Test(
        "bad expressions name the field and the position",
        arguments: [
            ("0 25 * * *", 2, 3, "25 is out of range 0-23"),
            ("60 * * * *", 1, 1, "60 is out of range 0-59"),
            ("* * 0 * *", 3, 5, "0 is out of range 1-31"),
            ("* * * 13 *", 4, 7, "13 is out of range 1-12"),
            ("* * * * 8", 5, 9, "8 is out of range 0-7"),
            ("0 9 * * 1#", 5, 10, "unexpected \"#\""),
            ("0 9 * * 5L", 5, 10, "not supported"),
            ("5-2 * * * *", 1, 1, "range 5-2 is reversed; write the smaller value first (2-5)"),
            ("*/0 * * * *", 1, 3, "step 0 is not allowed"),
            ("0 0-23/30 * * *", 2, 8, "step 30 is larger than the field's range 0-23"),
            ("1,,2 * * * *", 1, 3, "empty list item"),
            (",1 * * * *", 1, 1, "empty list item"),
            ("1, * * * *", 1, 2, "empty list item after the last comma"),
            ("* * * JNU *", 4, 7, "unknown month name \"JNU\"; use JAN, FEB"),
            ("* * * * MON-FRX", 5, 13, "unknown day of week name \"FRX\"; use SUN, MON, TUE, WED, THU, FRI, SAT or 0-7"),
            ("MON * * * *", 1, 1, "names are allowed only in month and day of week"),
            ("0 0 * * 5x", 5, 10, "unexpected \"x\""),
            ("0 0 1- * *", 3, 6, "expected a number 1-31"),
            ("0 0 * * 1-/2", 5, 11, "expected a number 0-7, found \"/\""),
            ("0 0 * * */", 5, 10, "expected a step"),
            ("  0 25 * * *", 2, 5, "25 is out of range 0-23"),
            ("0 99999999999 * * *", 2, 3, "99999999999 is out of range 0-23"),
        ]
    )
    func badFieldValues(text: String, field: Int, position: Int, message: String) {
        #expect {
            try CronExpression(parsing: text)
        } throws: { error in
            guard let error = error as? CronError else { return false }
            let names = ["minute", "hour", "day of month", "month", "day of week"]
            return error.expression == text && error.field == field && error.fieldName == names[field - 1]
                && error.position == position && error.message.contains(message)
        }
    }

    @Test(
        "bad expressions as a whole",
        arguments: [
            ("* * * * * *", 11 as Int?, "expected 5 fields (minute hour day-of-month month day-of-week) but got 6"),
            ("* * * *", nil, "but got 4"),
            ("", nil, "the expression is empty"),
            ("@reboot", 1, "@reboot is not supported"),
            (
                "@fortnightly", 1,
                "unknown macro @fortnightly; use one of @yearly, @annually, @quarterly, @monthly, @weekly, @daily, @midnight, @hourly"
            ),
            ("@daily 5", 8, "unexpected text after @daily"),
        ]
    )
    func badExpressions(text: String, position: Int?, message: String) {
        #expect {
            try CronExpression(parsing: text)
        } throws: { error in
            guard let error = error as? CronError else { return false }
            return error.field == nil && error.fieldName == nil && error.position == position && error.message.contains(message)
        }
    }
}
