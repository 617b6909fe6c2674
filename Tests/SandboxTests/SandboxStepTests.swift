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
        // Named by the store itself, before any artifact is looked for.
        #expect(error?.code == "aws-NoSuchBucket")
        #expect(error?.retryable == false)
        #expect(error?.message.contains("s3://recsys-models-nowhere") == true && error?.message.contains("does not exist") == true, "\(error?.message ?? "")")
        // A registry that lacks an artifact: named, with what to do.
        let gcs = try catalog.objectStore(try target(Self.gcsTarget), ctx)
        let gone = try #require(try await gcs.head("recsys/v42/model.onnx"))
        #expect(try await gcs.delete(gone.key, current: gone, StepTestContext.freshProof()))
        let missing = await #expect(throws: StepError.self) {
            try await run(ModelsVerify(providers: providers), #"{"primary": \#(Self.s3Primary), "dr": \#(Self.gcsTarget), "manifest": "recsys/current.json"}"#)
        }
        #expect(missing?.code == "models-differ" && missing?.retryable == false)
        #expect(missing?.message.contains("missing recsys/v42/model.onnx") == true && missing?.message.contains("models.sync") == true, "\(missing?.message ?? "")")
    }

    @Test func anUnknownGPUGroupIsNamed() async throws {
        let error = await #expect(throws: StepError.self) {
            try await run(InstancesScale(providers: providers), #"{"group": \#(Self.aws("aws-autoscaling", #""name": "no-such-group""#)), "capacity": 2}"#)
        }
        #expect(error?.code == "no-such-group")
        #expect(error?.message.contains("no-such-group does not exist in us-east-1") == true)
    }

    /// The Route 53 change batch as the fault proxy saw it.
    func lastChangeBatch() throws -> String? {
        let calls = try sandbox.state(calls: true)["awsCalls"] as? [[String: Any]] ?? []
        return calls.last { ($0["action"] as? String) == "ChangeResourceRecordSets" }?["body"] as? String
    }

    @Test func route53ReplacesAsOneCompareAndSwap() async throws {
        // The DELETE names the set exactly as read and the CREATE the new one, in one batch,
        // which Route 53 (and the sandbox's proxy, which holds moto to Route 53's rule) applies
        // only if the set is still what was read.
        let step = DNSSwitch(providers: providers)
        let params = try params(DNSSwitch.self, #"{"zone": \#(Self.aws("route53", #""zone": "example.test.""#)), "name": "recommendations.example.test.", "records": ["10.9.9.9"], "ttl": 45}"#)
        let ctx = StepTestContext(environment: env)
        let out = try await step.execute(params, ctx)
        let batch = try #require(try lastChangeBatch())
        let delete = try #require(batch.range(of: "<Action>DELETE</Action>")), create = try #require(batch.range(of: "<Action>CREATE</Action>"))
        #expect(delete.lowerBound < create.lowerBound)
        #expect(batch[delete.upperBound..<create.lowerBound].contains("<TTL>30</TTL><ResourceRecords><ResourceRecord><Value>\(Self.primary)</Value>"), "\(batch)")
        #expect(batch[create.upperBound...].contains("<TTL>45</TTL><ResourceRecords><ResourceRecord><Value>10.9.9.9</Value>"), "\(batch)")
        #expect((try sandbox.state()["route53"] as? [String: Any])?["records"] as? [String] == ["10.9.9.9"])
        try await step.compensate(params, out, ctx)
        #expect((try sandbox.state()["route53"] as? [String: Any])?["records"] as? [String] == [Self.primary])

        // The set changes between the read and the batch (held 1.5 s at the proxy meanwhile):
        // the batch's DELETE no longer matches, nothing is applied, and a retry can act on it.
        try sandbox.control("http://127.0.0.1:15001/_proxy/control", #"{"delayNext": 1, "delayMs": 1500, "action": "ChangeResourceRecordSets"}"#)
        let attempt = Task { try await step.execute(params, StepTestContext(environment: env)) }
        try await Task.sleep(for: .milliseconds(500))
        let other = try sandbox.run([sandbox.directory.appendingPathComponent("venv/bin/python").path, "-c", """
            import boto3
            r = boto3.client("route53", endpoint_url="http://127.0.0.1:15000", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="y")
            z = r.list_hosted_zones_by_name(DNSName="example.test.")["HostedZones"][0]["Id"]
            r.change_resource_record_sets(HostedZoneId=z, ChangeBatch={"Changes": [{"Action": "UPSERT", "ResourceRecordSet": {"Name": "recommendations.example.test.", "Type": "A", "TTL": 30, "ResourceRecords": [{"Value": "10.7.7.7"}]}}]})
            """])
        #expect(other.status == 0, "\(other.output)")
        let error = await #expect(throws: StepError.self) { try await attempt.value }
        #expect(error?.code == "dns-changed-underneath" && error?.retryable == true, "\(String(describing: error))")
        #expect((try sandbox.state()["route53"] as? [String: Any])?["records"] as? [String] == ["10.7.7.7"], "the change made meanwhile stands")
    }
}

extension SandboxTests {
    @Test func aConfirmingQueryThatGoesUnansweredIsAskedAgainNotTakenAsANo() async throws {
        // A relay in front of PowerDNS that drops the first two queries (each waits 3 s).
        let relay = Process()
        relay.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        relay.arguments = ["python3", repositoryRoot.appendingPathComponent("scripts/fixtures/lossy_dns.py").path, "--drop", "2", "--upstream", "127.0.0.1:15353"]
        let out = Pipe(), input = Pipe()
        relay.standardOutput = out
        relay.standardInput = input
        try relay.run()
        defer {
            try? input.fileHandleForWriting.close()
            relay.terminate()
            relay.waitUntilExit()
        }
        let port = String(decoding: out.fileHandleForReading.availableData, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        let step = DNSSwitch(providers: providers)
        let p = try params(DNSSwitch.self, """
            {"zone": {"provider": "powerdns", "api": "http://127.0.0.1:18081", "apiKey": "env:PDNS_API_KEY", "zone": "example.test."},
             "name": "recommendations.example.test.", "records": ["\(Self.dr)"], "nameserver": "127.0.0.1:\(port)", "confirmWithin": "20s"}
            """)
        let stepCtx = StepTestContext(environment: env)
        let output = try await step.execute(p, stepCtx)
        #expect((output.confirmedAfterMillis ?? 0) >= 5_000, "confirmed after the two lost queries: \(output.confirmedAfterMillis ?? -1) ms")
        #expect(try sandbox.state()["dns"] as? [String] == [Self.dr], "the change stands")
        #expect(!stepCtx.notes.contains { $0.contains("set back") }, "\(stepCtx.notes)")
        try await step.compensate(p, output, StepTestContext(environment: env))
        #expect(try sandbox.state()["dns"] as? [String] == [Self.primary])
    }
}
