import CutoverCore
import CutoverProviders
import CutoverSteps
import Foundation
import Testing
import TestSupport

/// Single step types against the sandbox's real services: the errors people will read.
extension SandboxTests {
    var env: [String: String] { sandbox.environment.merging(["WRONG_KEY": "not-the-key-0xC0FFEE"]) { a, _ in a } }

    /// Parameters from JSON text, checked against the step type's schema.
    func params<T: StepType>(_ type: T.Type, _ json: String) throws -> StepParameters {
        try StepParameters(try JSONValue.parse(Data(json.utf8)), for: T.self)
    }

    /// A target of an AWS provider on the sandbox's moto (credentials from the default references).
    static func aws(_ provider: String, _ fields: String) -> String {
        #"{"provider": "\#(provider)", "endpoint": "http://127.0.0.1:15001", "region": "us-east-1", \#(fields)}"#
    }

    func run<T: StepType>(_ step: T, _ json: String) async throws -> T.Output {
        try await step.execute(try params(T.self, json), StepTestContext(environment: env))
    }

    var providers: ProviderCatalog { standardProviders() }

    @Test func aWrongPowerDNSKeyIsNamedWithoutTheKey() async throws {
        let error = await #expect(throws: StepError.self) {
            try await run(DNSSwitch(providers: providers), """
                {"zone": {"provider": "powerdns", "api": "http://127.0.0.1:18081", "apiKey": "env:WRONG_KEY", "zone": "example.test."},
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
            try await run(ReplicationCheck(providers: providers), #"{"primary": {"provider": "redis", "url": "redis://127.0.0.1:16379"}, "replica": {"provider": "redis", "url": "redis://127.0.0.1:18090"}, "rpo": "5s"}"#)
        }
        #expect(garbage?.code == "redis-garbage")
        #expect(garbage?.message.contains("redis 127.0.0.1:18090: answered something that is not the Redis protocol") == true, "\(garbage?.message ?? "")")
        let down = await #expect(throws: StepError.self) {
            try await run(ReplicationCheck(providers: providers), #"{"primary": {"provider": "redis", "url": "redis://127.0.0.1:16379"}, "replica": {"provider": "redis", "url": "redis://127.0.0.1:1"}, "rpo": "5s"}"#)
        }
        #expect(down?.retryable == true)
        #expect(down?.message.contains("redis 127.0.0.1:1: connection refused") == true, "\(down?.message ?? "")")
    }

    @Test func route53ByHostedZoneIDChangesAndCompensates() async throws {
        let zone = try #require(sandbox.environment["SANDBOX_HOSTED_ZONE_ID"])
        let step = DNSSwitch(providers: providers)
        let params = try params(DNSSwitch.self, #"{"zone": \#(Self.aws("route53", #""hostedZone": "\#(zone)""#)), "name": "recommendations.example.test", "records": ["10.9.9.9"]}"#)
        let ctx = StepTestContext(environment: env)
        let out = try await step.execute(params, ctx)
        #expect(out.previous == RecordSet(ttl: 30, records: [Self.primary]))
        #expect((try sandbox.state()["route53"] as? [String: Any])?["records"] as? [String] == ["10.9.9.9"])
        try await step.compensate(params, out, ctx)
        #expect((try sandbox.state()["route53"] as? [String: Any])?["records"] as? [String] == [Self.primary])
    }

    @Test func aDRRegistryWithoutTheModelIsRefused() async throws {
        let error = await #expect(throws: StepError.self) {
            try await run(ModelsVerify(providers: providers), #"""
                {"primary": \#(Self.aws("s3", #""bucket": "recsys-models-primary""#)), "dr": \#(Self.aws("s3", #""bucket": "recsys-models-nowhere""#)),
                 "manifest": "recsys/current.json"}
                """#)
        }
        #expect(error?.code == "models-differ")
        #expect(error?.retryable == false)
        #expect(error?.message.contains("missing recsys/v42/model.onnx") == true, "\(error?.message ?? "")")
    }

    @Test func anUnknownGPUGroupIsNamed() async throws {
        let error = await #expect(throws: StepError.self) {
            try await run(InstancesScale(providers: providers), #"{"group": \#(Self.aws("aws-autoscaling", #""name": "no-such-group""#)), "capacity": 2}"#)
        }
        #expect(error?.code == "no-such-group")
        #expect(error?.message.contains("no-such-group does not exist in us-east-1") == true)
    }
}
