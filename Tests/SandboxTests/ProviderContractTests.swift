import CutoverCore
import CutoverProviders
import Foundation
import Testing
import TestSupport

/// The capability contracts against the sandbox's real services, one adapter each: Auto
/// Scaling, Route 53 and S3 on moto_server, PowerDNS, Redis. The adapters are made the way a
/// step makes them: from a target, through the composition root's catalog.
extension SandboxTests {
    var catalog: ProviderCatalog { standardProviders() }
    var ctx: StepTestContext { StepTestContext(environment: env) }

    func target(_ json: String) throws -> ProviderTarget {
        var o = try JSONValue.parse(Data(json.utf8)).objectValue ?? [:]
        let provider = o.removeValue(forKey: "provider")?.stringValue ?? ""
        return ProviderTarget(provider: provider, fields: o)
    }

    @Test func autoScalingKeepsTheInstanceGroupContract() async throws {
        let group = try catalog.instanceGroup(try target(Self.aws("aws-autoscaling", #""name": "recsys-dr-gpu""#)), ctx)
        try await ProviderContracts.instanceGroup(group)
        let missing = try catalog.instanceGroup(try target(Self.aws("aws-autoscaling", #""name": "no-such-group""#)), ctx)
        let error = await #expect(throws: StepError.self) { try await missing.size() }
        #expect(error?.code == "no-such-group" && error?.retryable == false)
    }

    @Test func powerDNSKeepsTheDNSZoneContract() async throws {
        let zone = try catalog.dnsZone(try target(#"{"provider": "powerdns", "api": "http://127.0.0.1:18081", "apiKey": "env:PDNS_API_KEY", "zone": "example.test."}"#), ctx)
        try await ProviderContracts.dnsZone(zone, name: "contract-\(UUID().uuidString.prefix(8).lowercased()).example.test.")
    }

    @Test func route53KeepsTheDNSZoneContract() async throws {
        // By name, so the lookup of the hosted zone is part of the contract too.
        let zone = try catalog.dnsZone(try target(Self.aws("route53", #""zone": "example.test.""#)), ctx)
        try await ProviderContracts.dnsZone(zone, name: "contract-\(UUID().uuidString.prefix(8).lowercased()).example.test.")
    }

    @Test func s3KeepsTheObjectStoreContract() async throws {
        let store = try catalog.objectStore(try target(Self.aws("s3", #""bucket": "recsys-models-dr""#)), ctx)
        try await ProviderContracts.objectStore(store, prefix: "contract/\(UUID().uuidString)/")
    }

    @Test func cloudStorageKeepsTheObjectStoreContract() async throws {
        let store = try catalog.objectStore(try target(#"{"provider": "gcs", "endpoint": "http://127.0.0.1:14443", "credentials": "none", "bucket": "recsys-models-gcp-dr"}"#), ctx)
        try await ProviderContracts.objectStore(store, prefix: "contract/\(UUID().uuidString)/")
    }

    @Test func redisKeepsTheReplicaContract() async throws {
        let primary = try catalog.replica(try target(#"{"provider": "redis", "url": "redis://127.0.0.1:16379"}"#), ctx)
        let replica = try catalog.replica(try target(#"{"provider": "redis", "url": "redis://127.0.0.1:16380"}"#), ctx)
        try await ProviderContracts.replica(primary: primary, replica: replica)
    }

    @Test func aTargetIsCheckedAgainWhenTheRunMakesItsAdapter() throws {
        // The run resolves targets from its snapshot: a target that would not load is refused
        // before any call, naming the field, never its secret.
        let error = #expect(throws: StepError.self) {
            try catalog.dnsZone(try target(Self.aws("route53", #""secretKey": "wJalrXUtnFEMI/K7MDENG""#)), ctx)
        }
        #expect(error?.code == "bad-parameters")
        #expect(error?.message.contains("wJalr") == false, "\(error?.message ?? "")")
        let wrong = #expect(throws: StepError.self) { try catalog.instanceGroup(try target(#"{"provider": "redis", "url": "redis://127.0.0.1:16379"}"#), ctx) }
        #expect(wrong?.message.contains("redis is not an instance group") == true, "\(wrong?.message ?? "")")
    }
}
