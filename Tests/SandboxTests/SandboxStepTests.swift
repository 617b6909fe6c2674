import CutoverCore
import CutoverNet
import CutoverSteps
import Foundation
import Testing
import TestSupport

/// Single step types against the sandbox's real services: the errors people will read.
extension SandboxTests {
    var env: [String: String] { sandbox.environment.merging(["WRONG_KEY": "not-the-key-0xC0FFEE"]) { a, _ in a } }

    /// Parameters from JSON text; `aws` adds the sandbox's AWS endpoint and credential references.
    func params<T: StepType>(_ type: T.Type, _ json: String, aws: Bool = false) throws -> T.Parameters {
        var o = try JSONValue.parse(Data(json.utf8)).objectValue ?? [:]
        if aws {
            o["endpoint"] = .string("http://127.0.0.1:15001")
            o["region"] = .string("us-east-1")
            o["accessKey"] = .string("env:AWS_ACCESS_KEY_ID")
            o["secretKey"] = .string("env:AWS_SECRET_ACCESS_KEY")
        }
        return try JSONValue.object(o).decode(T.Parameters.self)
    }

    func run<T: StepType>(_ step: T, _ json: String, aws: Bool = false) async throws -> T.Output {
        try await step.execute(try params(T.self, json, aws: aws), StepTestContext(environment: env))
    }

    @Test func aWrongPowerDNSKeyIsNamedWithoutTheKey() async throws {
        let error = await #expect(throws: StepError.self) {
            try await run(DNSSwitch(http: HTTPClient()), """
                {"provider": "powerdns", "api": "http://127.0.0.1:18081", "apiKey": "env:WRONG_KEY", "zone": "example.test.",
                 "name": "recommendations.example.test.", "records": ["\(Self.dr)"], "nameserver": "127.0.0.1:15353"}
                """)
        }
        #expect(error?.code == "pdns-401")
        #expect(error?.retryable == false)
        #expect(error?.message.contains("check the API key reference") == true, "\(error?.message ?? "")")
        #expect(error?.message.contains("not-the-key") == false)
        #expect(try sandbox.state()["dns"] as? [String] == [Self.primary], "nothing changed")
    }

    @Test func redisThatIsNotRedisOrIsDownIsNamed() async throws {
        let garbage = await #expect(throws: StepError.self) {
            try await run(ReplicationCheck(), #"{"primary": "redis://127.0.0.1:16379", "replica": "redis://127.0.0.1:18090", "rpo": "5s"}"#)
        }
        #expect(garbage?.code == "redis-garbage")
        #expect(garbage?.message.contains("redis 127.0.0.1:18090: answered something that is not the Redis protocol") == true, "\(garbage?.message ?? "")")
        let down = await #expect(throws: StepError.self) {
            try await run(ReplicationCheck(), #"{"primary": "redis://127.0.0.1:16379", "replica": "redis://127.0.0.1:1", "rpo": "5s"}"#)
        }
        #expect(down?.retryable == true)
        #expect(down?.message.contains("redis 127.0.0.1:1: connection refused") == true, "\(down?.message ?? "")")
    }

    @Test func route53ByHostedZoneIDChangesAndCompensates() async throws {
        let zone = try #require(sandbox.environment["SANDBOX_HOSTED_ZONE_ID"])
        let step = DNSSwitch(http: HTTPClient())
        let params = try params(DNSSwitch.self, #"{"provider": "route53", "hostedZone": "\#(zone)", "name": "recommendations.example.test", "records": ["10.9.9.9"]}"#, aws: true)
        let ctx = StepTestContext(environment: env)
        let out = try await step.execute(params, ctx)
        #expect(out.previous == RecordSet(ttl: 30, records: [Self.primary]))
        #expect((try sandbox.state()["route53"] as? [String: Any])?["records"] as? [String] == ["10.9.9.9"])
        try await step.compensate(params, out, ctx)
        #expect((try sandbox.state()["route53"] as? [String: Any])?["records"] as? [String] == [Self.primary])
    }

    @Test func aDRRegistryWithoutTheModelIsRefused() async throws {
        let error = await #expect(throws: StepError.self) {
            try await run(ModelsVerify(http: HTTPClient()), #"{"primaryBucket": "recsys-models-primary", "drBucket": "recsys-models-nowhere", "manifest": "recsys/current.json"}"#, aws: true)
        }
        #expect(error?.code == "models-differ")
        #expect(error?.retryable == false)
        #expect(error?.message.contains("missing recsys/v42/model.onnx") == true, "\(error?.message ?? "")")
    }

    @Test func anUnknownGPUGroupIsNamed() async throws {
        let error = await #expect(throws: StepError.self) {
            try await run(InstancesScale(http: HTTPClient()), #"{"group": "no-such-group", "capacity": 2}"#, aws: true)
        }
        #expect(error?.code == "no-such-group")
        #expect(error?.message.contains("no-such-group does not exist in us-east-1") == true)
    }
}
