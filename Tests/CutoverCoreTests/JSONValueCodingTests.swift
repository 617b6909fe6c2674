import CutoverCore
import CutoverSteps
import Foundation
import Testing

/// `JSONValue.decode` and `JSONValue.encode` give what the Foundation path gave, for the
/// repository's own Codable types and for every shape they are made of, errors included.
@Suite struct JSONValueCodingTests {
    static let stepTypes: [DecodingCase] = [
        .init(DNSSwitch.Output.self, #"{"provider":"p","name":"n","type":"A","previous":{"ttl":300,"records":["a"]},"records":["b"],"ttl":60}"#),
        .init(DNSSwitch.Output.self, #"{"provider":"p","name":"n","type":"A","previous":{"records":["a"]},"records":["b"],"ttl":60}"#),
        .init(CutoverMonitor.Output.self, #"{"requests":10,"errors":1,"errorRate":0.1,"p95Millis":12,"windowMillis":60000}"#),
        .init(CutoverMonitor.Output.self, #"{"requests":10,"errors":1,"errorRate":true,"p95Millis":12,"windowMillis":60000}"#),
        .init(HealthHTTP.Output.self, #"{"requests":3,"p95Millis":1e15,"maxMillis":1.2345678901234568e18}"#),
        .init(InstancesScale.Before.self, #"{"desired":2,"min":1,"max":4}"#),
        .init(InstancesScale.Output.self, #"{"group":"g","previous":2,"capacity":4,"inService":-1}"#),
        .init(ModelsVerify.Output.self, #"{"model":"m","artifacts":3,"bytes":9223372036854775807}"#),
        .init(ModelsVerify.Output.self, #"{"model":"m","artifacts":3,"bytes":9223372036854775808}"#),
        .init(Notify.Output.self, #"{"status":204}"#),
        .init(ReplicationCheck.Output.self, #"{"linkUp":true,"lagMillis":5,"offsetBehind":null,"rpoMillis":1000}"#),
        .init(ReplicationCheck.Output.self, #"{"linkUp":1,"lagMillis":5,"rpoMillis":1000}"#),
        .init(WritesEnable.Output.self, #"{"previousRole":"slave","previousMaster":"10.0.0.1:6379","secondsSinceMasterIO":3}"#),
        .init(ReplicationFollow.Output.self, #"{"previousRole":"master","syncedAfterMillis":12}"#),
        .init(Wait.Output.self, #"{"waitedMillis":3000}"#),
        .init(Approval.Output.self, #"{"approvedBy":[]}"#),
        .init(Approval.Output.self, #"{"approvedBy":{}}"#),
    ]

    @Test(arguments: stepTypes)
    func stepParametersAndOutputsMatchFoundation(_ c: DecodingCase) {
        #expect(c.differences() == [])
    }

    static let coreTypes: [DecodingCase] = [
        .init(RetryPolicy.self, #"{"attempts":3,"initialBackoffMillis":1000,"multiplier":2,"maxBackoffMillis":30000,"jitter":0.2,"nonRetryable":[]}"#),
        .init(RetryPolicy.self, #"{"attempts":3,"initialBackoffMillis":1000,"multiplier":"2","maxBackoffMillis":30000,"jitter":0.2,"nonRetryable":[]}"#),
        .init(StepError.self, #"{"code":"timeout","message":"took \"too\" long\u0001","retryable":true}"#),
        .init(StepError.self, #"{"code":"timeout","message":null,"retryable":true}"#),
        .init(
            RunStarted.self,
            #"{"workflow":"w","workflowDigest":"d","runbook":"r","runbookDigest":"e","scope":"s","mode":"drill","startedBy":"me","#
                + #""steps":[{"id":"a","type":"wait","kind":"check","pivot":false,"retry":{"attempts":1,"initialBackoffMillis":0,"#
                + #""multiplier":1.5,"maxBackoffMillis":0,"jitter":0,"nonRetryable":["x"]},"timeoutMillis":null}],"#
                + #""workflowSnapshot":{"a":[1,2.5,3.0,1e20,null,{"b":"c"}]},"runbookSnapshot":{},"schedule":{"name":"n","dueAtMillis":5}}"#),
        .init(
            RunStarted.self,
            #"{"workflow":"w","workflowDigest":"d","runbook":"r","runbookDigest":"e","scope":"s","mode":"rehearsal","startedBy":"me","#
                + #""steps":[],"workflowSnapshot":null,"runbookSnapshot":{}}"#),
        .init(
            RunStarted.self,
            #"{"workflow":"w","workflowDigest":"d","runbook":"r","runbookDigest":"e","scope":"s","mode":"live","startedBy":"me","#
                + #""steps":[{"id":"a","type":"wait","kind":"check","pivot":false}],"workflowSnapshot":1,"runbookSnapshot":{}}"#),
        .init(StepSucceeded.self, #"{"step":"a","attempt":1,"output":{"x":3.0,"y":-0.0,"z":[0.5,1e15]},"observed":false}"#),
        .init(StepFailed.self, #"{"step":"a","attempt":2,"error":{"code":"c","message":"m","retryable":false},"retryAtMillis":null}"#),
        .init(StepFailed.self, #"{"step":"a","attempt":2,"error":{"code":"c","retryable":false}}"#),
        .init(BeforeRecorded.self, #"{"step":"a","attempt":1,"state":{"set":{"ttl":60,"records":["a"]}}}"#),
        .init(ApprovalGranted.self, #"{"step":"a","by":"ann"}"#),
        .init(RunOutcome.self, #"{}"#),
        .init(RunOutcome.self, #"{"planned":"yes"}"#),
        .init(
            ScheduleDefinition.self,
            #"{"name":"n","workflow":"w","runbook":"r","cron":"0 3 * * 1","timeZone":"Europe/Paris","mode":"drill","catchUp":"skip","approvedBy":[]}"#),
        .init([String: RetryPolicy].self, #"{"a":{"attempts":1,"initialBackoffMillis":0,"multiplier":1,"maxBackoffMillis":0,"jitter":0}}"#),
        .init([StepAttempt].self, #"[{"step":"a","attempt":1},{"step":"b","attempt":"2"}]"#),
    ]

    @Test(arguments: coreTypes)
    func eventPayloadsAndPoliciesMatchFoundation(_ c: DecodingCase) {
        #expect(c.differences() == [])
    }

    struct Records: Codable { var name: String; var records: [String] }
    struct Soak: Codable { var duration: String }

    @Test func decodingErrorsReadTheSameToPeople() throws {
        let value = try JSONValue.parse(#"{"provider":"route53","name":"a","records":["x",1]}"#)
        let ours = #expect(throws: DecodingError.self) { try value.decode(Records.self) }
        #expect(DecodingErrorText.describe(ours!) == "records[1]: Expected to decode String but found number instead.")
        let missing = #expect(throws: DecodingError.self) { try JSONValue.object([:]).decode(Soak.self) }
        #expect(DecodingErrorText.describe(missing!) == #"missing "duration""#)
    }

    @Test func jsonValueDecodesAsItsOwnCodableConformanceDidUnderFoundation() throws {
        let value = JSONValue.object([
            "whole": .double(3.0), "negativeZero": .double(-0.0), "half": .double(0.5), "big": .double(1e15),
            "huge": .double(1e20), "spelled": .double(1.2345678901234568e18), "nan": .double(.nan), "inf": .double(.infinity),
            "list": .array([.int(1), .double(2.0), .null, .string("s"), .bool(true)]),
        ])
        #expect(DecodingCase(JSONValue.self, value, "doubles of every kind").differences() == [])
        #expect(try value.decode(JSONValue.self)["whole"] == .int(3))
        #expect(try value.decode(JSONValue.self)["nan"] == .null)
        // A value with no doubles comes back as it went in.
        let plain = try JSONValue.parse(#"{"a":[1,"b",{"c":null}],"d":true}"#)
        #expect(try plain.decode(JSONValue.self) == plain)
        #expect(try JSONValue.encode(plain) == plain)
    }
}
