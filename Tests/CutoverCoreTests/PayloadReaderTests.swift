import CutoverCore
import Foundation
import Testing
import TestSupport

/// The readers that take frequent and large payloads straight from their bytes must give
/// exactly what the ordinary path (`JSONValue` and `Codable`) gives, or leave it to that path.
@Suite struct PayloadReaderTests {
    /// Every event body of a recorded sandbox drill, as stored.
    static let recorded: [(type: String, body: String)] = {
        let url = repositoryRoot.appendingPathComponent("scripts/fixtures/drill-run.jsonl")
        let text = (try? String(contentsOf: url, encoding: .utf8)) ?? ""
        return text.split(separator: "\n").compactMap { line in
            guard let e = (try? JSONValue.parse(String(line)))?["event"], let type = e["type"]?.stringValue, let body = e["body"] else { return nil }
            return (type, body.canonicalString)
        }
    }()

    /// Shapes the readers must pass on, or read exactly as `Codable` does.
    static let variants: [(type: String, body: String)] = [
        ("StepStarted", #"{"attempt":1,"step":"scale"}"#), ("StepStarted", #"{"attempt":1.0,"step":"scale"}"#),
        ("StepStarted", #"{"attempt":1,"step":"sc\u0061le"}"#), ("StepStarted", #"{"attempt":1,"step":"s","extra":true}"#),
        ("StepStarted", #"{"attempt":"1","step":"s"}"#), ("StepStarted", #"{"step":"s"}"#), ("StepStarted", #"{"attempt":99999999999999999999,"step":"s"}"#),
        ("StepStarted", #"{"attempt":-0,"step":"ünï 😀"}"#), ("StepStarted", #" { "attempt" : 2 , "step" : "s" } "#),
        ("StepSucceeded", #"{"attempt":1,"observed":false,"output":{"a":[1,2.5,1e20,null],"b":"c"},"step":"s"}"#),
        ("StepSucceeded", #"{"attempt":1,"output":{},"step":"s"}"#), ("StepSucceeded", #"{"attempt":1,"observed":null,"output":1,"step":"s"}"#),
        ("StepSucceeded", #"{"attempt":1,"observed":true,"output":3.0,"step":"s"}"#),
        ("StepNote", #"{"message":"probe \"1\": 200\n","step":"monitor"}"#), ("StepNote", #"{"message":5,"step":"m"}"#),
        ("StepFailed", #"{"attempt":2,"error":{"code":"c","message":"m","retryable":true},"retryAtMillis":1790000000000,"step":"s"}"#),
        ("StepFailed", #"{"attempt":2,"error":{"code":"c","message":"m","retryable":false},"retryAtMillis":null,"step":"s"}"#),
        ("StepFailed", #"{"attempt":2,"error":{"code":"c","message":"m","retryable":false},"step":"s"}"#),
        ("StepFailed", #"{"attempt":2,"error":{"code":"c","retryable":false},"step":"s"}"#),
        ("StepFailed", #"{"attempt":2,"error":{"code":"c","extra":1,"message":"m","retryable":false},"step":"s"}"#),
        ("BeforeRecorded", #"{"attempt":1,"state":{"desired":1,"max":4,"min":0},"step":"scale"}"#), ("BeforeRecorded", #"{"attempt":1,"step":"s"}"#),
        ("DriverAttached", #"{"owner":"host:1:abc","resumed":true}"#), ("DriverAttached", #"{"owner":"h","resumed":1}"#),
        ("TimerSet", #"{"name":"soak","step":"s","untilMillis":1790000000000}"#),
        ("ApprovalGranted", #"{"by":"alice","comment":"go","step":"go"}"#), ("ApprovalGranted", #"{"by":"alice","comment":null,"step":"go"}"#),
        ("ApprovalGranted", #"{"by":"alice","step":"go"}"#), ("ApprovalGranted", #"{"by":"alice","comment":7,"step":"go"}"#),
        ("PauseRequested", "{}"), ("PauseRequested", #"{"reason":null}"#), ("AbortRequested", #"{"reason":"stop"}"#), ("RunPaused", #"{"reason":1}"#),
        ("RunStarted", #"{"mode":"drill","runbook":"r","runbookDigest":"d","runbookSnapshot":{"a":[1,{"b":null}]},"scope":"svc","startedBy":"me","steps":[{"id":"a","kind":"check","pivot":false,"retry":{"attempts":3,"initialBackoffMillis":1000,"jitter":0.2,"maxBackoffMillis":30000,"multiplier":2,"nonRetryable":["quota"]},"timeoutMillis":60000,"type":"wait"}],"workflow":"w","workflowDigest":"d","workflowSnapshot":{"steps":[]}}"#),
        ("RunStarted", #"{"mode":"live","runbook":"r","runbookDigest":"d","runbookSnapshot":null,"schedule":{"dueAtMillis":5,"name":"n"},"scope":"svc","startedBy":"me","steps":[],"workflow":"w","workflowDigest":"d","workflowSnapshot":1}"#),
        ("RunStarted", #"{"mode":"live","runbook":"r","runbookDigest":"d","runbookSnapshot":{"big":1e+15,"whole":2.0,"half":0.5,"neg":-0.0},"scope":"svc","startedBy":"me","steps":[],"workflow":"w","workflowDigest":"d","workflowSnapshot":[1.0,1e20]}"#),
        ("RunStarted", #"{"mode":"sideways","runbook":"r","runbookDigest":"d","runbookSnapshot":{},"scope":"svc","startedBy":"me","steps":[],"workflow":"w","workflowDigest":"d","workflowSnapshot":{}}"#),
        ("RunStarted", #"{"mode":"live","runbook":"r","runbookDigest":"d","runbookSnapshot":{},"scope":"svc","startedBy":"me","steps":[{"id":"a"}],"workflow":"w","workflowDigest":"d","workflowSnapshot":{}}"#),
        ("RunStarted", #"{"mode":"live","runbook":"r","runbookDigest":"d","runbookSnapshot":{},"schedule":null,"scope":"svc","startedBy":"me","steps":[],"workflow":"w","workflowDigest":"d"}"#),
    ]

    @Test func theRecordedDrillHasEveryFrequentKind() {
        let types = Set(Self.recorded.map(\.type))
        #expect(types.isSuperset(of: ["RunStarted", "StepStarted", "StepSucceeded", "StepNote", "BeforeRecorded", "DriverAttached", "ApprovalGranted"]))
    }

    @Test(arguments: recorded + variants)
    func aReaderGivesWhatCodableGives(_ sample: (type: String, body: String)) throws {
        let kind = try #require(EventBody.kindsByName[sample.type])
        let fast = Result { try EventBody.decode(type: sample.type, payload: sample.body) }
        let ordinary = Result { try kind.decode(try JSONValue.parse(sample.body)) }
        switch (fast, ordinary) {
        case (.success(let a), .success(let b)):
            #expect(a == b, "\(sample.body)")
            // The stored form is what the ordinary path would write back.
            #expect(try a.encodedPayload() == (try b.encodedPayload()))
            if case .runStarted(let p) = a, case .runStarted(let q) = b {
                #expect(p.workflowSnapshot.value == q.workflowSnapshot.value && p.runbookSnapshot.value == q.runbookSnapshot.value)
            }
        case (.failure, .failure): break
        default: Issue.record("\(sample.type) \(sample.body): the reader gave \(fast), the ordinary path \(ordinary)")
        }
    }

    /// What the checked-bytes reader accepts as an object is exactly what the parser accepts.
    static let objects: [String] = {
        var texts = [
            #"{}"#, #"{"a":1}"#, #" {"a" : [1, {"b": "c"}], "d": null} "#, #"{"a":1,"a":2}"#, #"{"a":{"b":1,"b":2}}"#, #"{"a":1,"\u0061":2}"#,
            #"{"\u0062":1,"a":2}"#, #"{"a":[{"x":1},{"x":1}]}"#, #"{"s":"\ud83d\ude00"}"#, #"{"s":"\ud83d"}"#, #"{"s":"\ude00"}"#, #"{"s":"\u00e9\/"}"#,
            "{\"s\":\"tab\there\"}", #"{"n":-0.5e-3}"#, #"{"n":01}"#, #"{"n":1.}"#, #"{"n":-}"#, #"{"n":1e}"#, #"{"n":1E+2}"#, #"{"t":tru}"#,
            #"{"a":1,}"#, #"{"a" 1}"#, #"{"a":1} x"#, #"[1]"#, #""s""#, #"{"a":NaN}"#, #"{"a":"\x"}"#, #"{"":1,"":2}"#, #"{"":1}"#,
        ]
        // Keys the parser's dictionary takes as one: canonically equivalent (U+00C5 and U+212B),
        // and a duplicate past the sixteenth key.
        texts.append("{\"\u{00C5}\":1,\"\u{212B}\":2}")
        texts.append("{\"e\u{0301}\":1,\"\u{00E9}\":2}")
        texts.append("{" + (0..<20).map { "\"k\($0)\":\($0)" }.joined(separator: ",") + ",\"k3\":0}")
        texts.append("{" + (0..<20).map { "\"k\($0)\":\($0)" }.joined(separator: ",") + "}")
        texts.append(String(repeating: #"{"a":"#, count: 254) + "1" + String(repeating: "}", count: 254))
        texts.append(String(repeating: #"{"a":"#, count: 256) + "1" + String(repeating: "}", count: 256))
        texts.append(#"{"a":"# + String(repeating: "[", count: 300) + String(repeating: "]", count: 300) + "}")
        return texts
    }()

    static let badUTF8: [[UInt8]] = [[0xC0, 0x80], [0xED, 0xA0, 0x80], [0xF4, 0x90, 0x80, 0x80], [0xE2, 0x82], [0xFF], [0xE2, 0x82, 0xAC], [0xF0, 0x9F, 0x98, 0x80]]

    @Test(arguments: objects)
    func checkedBytesAcceptWhatTheParserAccepts(_ text: String) {
        let parsed = (try? JSONValue.parse(text))?.objectValue != nil
        let members = Array(text.utf8).withUnsafeBytes { JSONMembers($0) != nil }
        #expect(members == parsed, "\(text.prefix(80))")
    }

    @Test(arguments: badUTF8)
    func checkedBytesRefuseWhatTheParserRefusesInUTF8(_ bytes: [UInt8]) {
        let text = Array(#"{"s":""#.utf8) + bytes + Array(#""}"#.utf8)
        let parsed = (try? JSONValue.parse(Data(text)))?.objectValue != nil
        let members = text.withUnsafeBytes { JSONMembers($0) != nil }
        #expect(members == parsed, "\(bytes)")
    }
}
