import CutoverCore
import Foundation
import Testing

@Suite struct ValuesTests {
    @Test func canonicalJSONSortsKeysAndKeepsIntegersApartFromNumbers() throws {
        let v = try JSONValue.parse(Data(#"{"b": [1, 2.5, true, null], "a": "x\"y\n", "c": {"z": 1, "y": -3}}"#.utf8))
        #expect(v.canonicalString == #"{"a":"x\"y\n","b":[1,2.5,true,null],"c":{"y":-3,"z":1}}"#)
        #expect(try JSONValue.parse(Data("7".utf8)) == .int(7))
        #expect(try JSONValue.parse(Data("7.0".utf8)).doubleValue == 7)
        #expect(try JSONValue.parse(Data(#""é\u0001""#.utf8)).canonicalString == "\"é\\u0001\"")
        // Parsing the canonical form gives the same value back.
        #expect(try JSONValue.parse(Data(v.canonicalString.utf8)) == v)
        // Keys sort by their UTF-8 bytes: a prefix first, "Z" before "a", "z" before "é"
        // (String's own order would agree on none of that for every key).
        let keys: JSONValue = .object(["é": .int(1), "z": .int(2), "ab": .int(3), "a": .int(4), "Z": .int(5), "a\u{0}": .int(6), "ẞ": .int(7), "😀": .int(8)])
        #expect(keys.canonicalString == #"{"Z":5,"a":4,"a\u0000":6,"ab":3,"z":2,"é":1,"ẞ":7,"😀":8}"#)
        // Objects of one size one after another: the same keys, other keys, keys nested.
        let rows: JSONValue = .array([
            .object(["b": .int(1), "a": .int(2), "c": .int(3)]), .object(["c": .int(4), "b": .int(5), "a": .int(6)]),
            .object(["a": .int(7), "b": .int(8), "x": .int(9)]), .object(["b": .object(["z": .int(1), "y": .int(2), "x": .int(3)]), "a": .null, "c": .int(0)]),
            .object(["é": .int(1), "a": .int(2), "c": .int(3)]), .object(["c": .int(4), "b": .int(5), "a": .int(6)]),
        ])
        // Keys Swift holds equal (canonically equivalent) are still different bytes: each
        // object's keys are written as they are and sorted by those bytes, whatever came before.
        let spellings: JSONValue = .array([.object(["\u{E9}": .int(1), "f": .int(2)]), .object(["e\u{301}": .int(3), "f": .int(4)])])
        #expect(spellings.canonicalBytes == Array(#"[{"f":2,"\#u{E9}":1},{"e\#u{301}":3,"f":4}]"#.utf8))
        #expect(rows.canonicalString == #"[{"a":2,"b":1,"c":3},{"a":6,"b":5,"c":4},{"a":7,"b":8,"x":9},{"a":null,"b":{"x":3,"y":2,"z":1},"c":0},{"a":2,"c":3,"é":1},{"a":6,"b":5,"c":4}]"#)
        #expect(JSONValue.object(["only": .array([.double(0.1), .double(-2), .double(1e20), .double(.nan), .string("\u{1b}[2K")])]).canonicalString
            == #"{"only":[0.1,-2,1e+20,null,"\u001b[2K"]}"#)
    }

    /// Strings are checked as UTF-8, whatever the bytes would decode to with repairs.
    @Test(arguments: [[0xC3, 0x28], [0xE2, 0x82], [0xE2, 0x82, 0x28], [0xED, 0xA0, 0x80], [0xF8, 0x88, 0x80, 0x80, 0x80], [0xC0, 0xAF], [0xFF]] as [[UInt8]])
    func stringsThatAreNotUTF8AreRefused(_ bad: [UInt8]) {
        #expect(throws: (any Error).self) { try JSONValue.parse(Data([0x22] + bad + [0x22])) }
        #expect(throws: (any Error).self) { try JSONValue.parse(Data(#"{"k": "a"#.utf8) + Data(bad) + Data(#"b"}"#.utf8)) }
    }

    static let durations: [(String, Int64?)] = [
        ("250ms", 250), ("30s", 30_000), ("5m", 300_000), ("1h30m", 5_400_000), ("2d", 172_800_000),
        ("", nil), ("5", nil), ("s", nil), ("5x", nil), ("-5s", nil), ("1.5s", nil), ("5 s", nil),
        ("99999999999999999d", nil), ("0ms", 0), ("1m30s250ms", 90_250), ("5S", nil), ("5sec", nil), ("1m30", nil), ("ms", nil),
        ("9223372036854775807ms", Int64.max), ("9223372036854775808ms", nil), ("5000000000000000000ms5000000000000000000ms", nil),
        ("\u{661}s", nil), ("5é", nil), ("5\r\n", nil),
    ]

    @Test(arguments: durations)
    func durationsParse(_ text: String, _ millis: Int64?) {
        #expect(DurationText.parse(text)?.milliseconds == millis, "\(text)")
    }

    @Test func durationsFormatForPeople() {
        #expect(DurationText.format(.milliseconds(850)) == "850ms")
        #expect(DurationText.format(.milliseconds(12_449)) == "12.4s")
        #expect(DurationText.format(.milliseconds(12_450)) == "12.5s")
        #expect(DurationText.format(.seconds(185)) == "3m05s")
        #expect(DurationText.format(.seconds(3_720)) == "1h02m")
    }

    @Test func templatesKeepTypeForWholeReferencesAndTextOtherwise() throws {
        let scope = Template.Scope(
            runbook: .object(["dr": .object(["capacity": .int(4), "hosts": .array([.string("a"), .string("b")])])]),
            parameters: ["soak": .string("3s")],
            outputs: ["scale": .object(["previous": .int(1)])],
            run: ["id": .string("run-9")])
        #expect(try Template.resolve(.string("${runbook.dr.capacity}"), in: scope) == .int(4))
        #expect(try Template.resolve(.string("cap=${runbook.dr.capacity} on ${run.id}"), in: scope) == .string("cap=4 on run-9"))
        #expect(try Template.resolve(.string("${runbook.dr.hosts.1}"), in: scope) == .string("b"))
        #expect(try Template.resolve(.string("${steps.scale.output.previous}"), in: scope) == .int(1))
        #expect(try Template.resolve(.array([.string("${parameters.soak}")]), in: scope) == .array([.string("3s")]))
        #expect { try Template.resolve(.string("${runbook.dr.capacty}"), in: scope) } throws: {
            "\($0)".contains("did you mean \"capacity\"?")
        }
        #expect { try Template.resolve(.string("${steps.dns.output.old}"), in: scope) } throws: {
            "\($0)".contains("has no recorded output yet")
        }
    }

    @Test func backoffGrowsIsCappedAndJittersWithinItsBand() {
        let p = RetryPolicy(attempts: 5, initialBackoffMillis: 1_000, multiplier: 2, maxBackoffMillis: 5_000, jitter: 0.2)
        #expect(p.backoffMillis(after: 1, unit: 0.5) == 1_000)
        #expect(p.backoffMillis(after: 2, unit: 0.5) == 2_000)
        #expect(p.backoffMillis(after: 3, unit: 0.5) == 4_000)
        #expect(p.backoffMillis(after: 4, unit: 0.5) == 5_000)
        #expect(p.backoffMillis(after: 2, unit: 0) == 1_600)
        #expect(p.backoffMillis(after: 2, unit: 0.999) >= 2_399)
        #expect(p.backoffMillis(after: 4, unit: 0.999) == 5_000, "jitter never goes past the cap")
    }

    @Test func retryStopsAtTheBudgetAndForNonRetryableErrors() {
        let p = RetryPolicy(attempts: 3, nonRetryable: ["quota"])
        let transient = StepError(code: "unavailable", message: "", retryable: true)
        #expect(p.allowsRetry(after: 1, error: transient))
        #expect(p.allowsRetry(after: 2, error: transient))
        #expect(!p.allowsRetry(after: 3, error: transient))
        #expect(!p.allowsRetry(after: 1, error: StepError(code: "quota", message: "", retryable: true)))
        #expect(!p.allowsRetry(after: 1, error: StepError(code: "bad", message: "", retryable: false)))
        #expect(p.allowsRetry(after: 9, error: .interrupted), "an interrupted attempt never uses up the budget")
    }

    @Test func eventBodiesRoundTripThroughTheirStoredForm() throws {
        let bodies: [EventBody] = [
            .stepFailed(StepFailed(step: "s", attempt: 2, error: StepError(code: "c", message: "m", retryable: true), retryAtMillis: 42)),
            .approvalGranted(ApprovalGranted(step: "a", by: "alice", comment: "go")),
            .rollbackStarted(RollbackStarted(planned: true, reason: "drill")),
            .beforeRecorded(BeforeRecorded(step: "s", attempt: 1, state: .object(["capacity": .int(2)]))),
            .runNeedsAttention(NeedsAttention(reason: "r", decision: "d")),
            .stepStarted(StepAttempt(step: "s", attempt: 3)),
            .compensationStarted(StepAttempt(step: "s", attempt: 1)),
            .compensationSucceeded(StepAttempt(step: "s", attempt: 1)),
            .stepFailed(StepFailed(step: "s", attempt: 1, error: StepError(code: "c", message: "m \"q\" é", retryable: false), retryAtMillis: nil)),
            .compensationFailed(StepFailed(step: "s", attempt: 2, error: .interrupted, retryAtMillis: 7)),
            .stepNote(StepNote(step: "s", message: "probe\n1")),
            .stepSucceeded(StepSucceeded(step: "s", attempt: 1, output: .object(["n": .int(1), "x": .array([.double(1.5), .null])]), observed: true)),
            .stepSucceeded(StepSucceeded(step: "s", attempt: 1, output: .null)),
            .driverAttached(DriverAttached(owner: "h:1:n", resumed: true)),
            .timerSet(TimerSet(step: "s", name: "wait", untilMillis: 1_790_000_000_000)),
            .approvalGranted(ApprovalGranted(step: "a", by: "bob")),
            .pauseRequested(Signal()), .resumeRequested(Signal(reason: "go")), .abortRequested(Signal(reason: "no")),
            .rollbackRequested(Signal()), .runPaused(Signal()), .runResumed(Signal()),
            .stepNote(StepNote(step: "tab\there", message: "ctl \u{01} / \\ 😀")),
            .stepSucceeded(StepSucceeded(step: "s", attempt: 12, output: .object(["big": .double(1e20), "f": .double(0.1), "s": .string("a/b")]))),
            .beforeRecorded(BeforeRecorded(step: "s", attempt: 1, state: .array([.bool(false), .string("\u{7f}")]))),
            .scheduleAdded(ScheduleDefinition(name: "q", workflow: "/w", runbook: "/r", cron: "@quarterly", timeZone: "UTC", mode: .drill, catchUp: .runOnce, approvedBy: ["a"])),
            .drillsMissed(DrillsMissed(dueAtMillis: [1, 2], policy: .skip, total: 2)),
            // A plan's steps make their own JSON (thousands in a large plan): every field of them.
            .runStarted(RunStarted(
                workflow: "w", workflowDigest: "d", runbook: "r", runbookDigest: "e", scope: "svc", mode: .drill, startedBy: "alice",
                steps: [
                    PlannedStep(id: "a", type: "wait", kind: .check, pivot: false, retry: .default, timeoutMillis: nil),
                    PlannedStep(
                        id: "b", type: "dns.switch", kind: .compensable, pivot: true,
                        retry: RetryPolicy(attempts: 5, initialBackoffMillis: 250, multiplier: 1.5, maxBackoffMillis: 9_000, jitter: 0, nonRetryable: ["quota", "é\"q"]),
                        timeoutMillis: 30_000, group: "g", safety: ["lag", "rate"]),
                    PlannedStep(id: "c", type: "t", kind: .pivot, pivot: true, retry: RetryPolicy(multiplier: 3, jitter: 0.25), timeoutMillis: 0, group: nil, safety: []),
                ],
                workflowSnapshot: .object(["name": .string("w")]), runbookSnapshot: .object(["service": .string("svc")]),
                groups: [PlannedGroup(id: "g", maxConcurrency: 2)])),
        ]
        for body in bodies {
            let payload = try body.encodedPayload()
            // The frequent payloads are written by hand: byte for byte what Codable writes.
            #expect(payload == (try body.codablePayload()), "\(body.typeName)")
            if case .stepSucceeded(var p) = body {
                p.output = .object(["integral": .double(3), "neg": .double(-2.5)])
                #expect(try EventBody.stepSucceeded(p).encodedPayload() == (try EventBody.stepSucceeded(p).codablePayload()))
            }
            #expect(try EventBody.decode(type: body.typeName, payload: payload) == body)
            #expect(try JSONValue.parse(Data(payload.utf8)).canonicalString == payload, "stored payloads are canonical")
        }
        #expect(throws: EventDecodingError.self) { try EventBody.decode(type: "StepExploded", payload: "{}") }
        #expect(throws: EventDecodingError.self) { try EventBody.decode(type: "StepNote", payload: #"{"step":"s"}"#) }
        #expect(throws: EventDecodingError.self) { try EventBody.decode(type: "StepFailed", payload: #"{"attempt":1,"error":{"code":"c"},"step":"s"}"#) }
        #expect(throws: EventDecodingError.self) { try EventBody.decode(type: "StepStarted", payload: #"{"step": 1}"#) }
    }

    static let badJSON = [
        "", "{", "[1,]", "{\"a\":1,}", "{\"a\":1,\"a\":2}", "\"\\x\"", "\"\\ud800\"", "01", "1.", "-", "1e", "tru", "[1] 2",
        "\"tab\there\"", "{\"a\" 1}", "NaN",
    ]

    @Test(arguments: badJSON)
    func theParserRefusesWhatIsNotJSON(_ text: String) {
        #expect(throws: JSONSyntaxError.self) { try JSONValue.parse(text) }
    }

    @Test func theParserReadsEscapesNumbersAndNesting() throws {
        let v = try JSONValue.parse(#" {"s": "a\"b\\c\/\u00e9\ud83d\ude00\n", "i": -12, "big": 123456789012345678, "d": 1.5e3, "z": 0, "n": [null, true, false, {}, []]} "#)
        #expect(v["s"] == .string("a\"b\\c/é😀\n"))
        #expect(v["i"] == .int(-12) && v["big"] == .int(123_456_789_012_345_678) && v["d"] == .double(1500) && v["z"] == .int(0))
        #expect(v["n"] == .array([.null, .bool(true), .bool(false), .object([:]), .array([])]))
        #expect(try JSONValue.parse("99999999999999999999") == .double(1e20), "an integer too large for Int64 is a number")
        #expect(try JSONValue.parse(Data([0xEF, 0xBB, 0xBF] + Array(#"{"a": 1}"#.utf8))) == .object(["a": .int(1)]), "a byte order mark is skipped")
        #expect { try JSONValue.parse(#"{"a": 1, "a": 2}"#) } throws: { "\($0)".contains("duplicate key \"a\"") }
    }

    @Test func suggestionsFindCloseNamesOnly() {
        #expect(Suggestion.closest(to: "dns.swich", in: ["dns.switch", "wait"]) == "dns.switch")
        #expect(Suggestion.closest(to: "TIMEOUT", in: ["timeout"]) == "timeout")
        #expect(Suggestion.closest(to: "zzz", in: ["wait", "notify"]) == nil)
    }
}
