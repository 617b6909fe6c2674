import CutoverCore
import CutoverProviders
import CutoverSteps
import Foundation
import Testing
import TestSupport

/// Cloud DNS on the sandbox's Google fake, which writes through to PowerDNS: what Cloud DNS
/// changes, a real DNS query answers.
extension SandboxTests {
    var cloudDNS: String {
        #"{"provider": "clouddns", "endpoint": "\#(Self.gce)", "project": "recsys-dr", "managedZone": "example-test", "credentials": "file:\#(keyPath)"}"#
    }

    @Test func cloudDNSKeepsTheDNSZoneContract() async throws {
        let zone = try catalog.dnsZone(try target(cloudDNS), ctx)
        try await ProviderContracts.dnsZone(zone, name: "contract-\(UUID().uuidString.prefix(8).lowercased()).example.test.")
    }

    @Test func aRecordChangedBysomeoneElseIsNamedNotOverwritten() async throws {
        let zone = try catalog.dnsZone(try target(cloudDNS), ctx)
        let name = "recommendations.example.test."
        let read = try #require(try await zone.read(name: name, type: "A"))
        #expect(read.records == [Self.primary])
        // Someone else moves the name straight in PowerDNS after cutover read it.
        let key = try #require(sandbox.environment["PDNS_API_KEY"])
        let patch = #"{"rrsets": [{"name": "\#(name)", "type": "A", "ttl": 30, "changetype": "REPLACE", "records": [{"content": "10.7.7.7", "disabled": false}]}]}"#
        let other = try sandbox.run(["curl", "-sf", "-X", "PATCH", "-H", "X-API-Key: \(key)", "--data", patch, "http://127.0.0.1:18081/api/v1/servers/localhost/zones/example.test."])
        #expect(other.status == 0, "\(other.output)")
        let error = await #expect(throws: StepError.self) {
            try await calling("switching") { try await zone.replace(name: name, type: "A", with: RecordSet(ttl: 30, records: [Self.dr]), replacing: read, StepTestContext.freshProof()) }
        }
        #expect(error?.code == "dns-changed-underneath" && error?.retryable == true, "\(String(describing: error))")
        #expect(error?.message.contains("Cloud DNS zone example-test") == true)
        #expect(try sandbox.state()["dns"] as? [String] == ["10.7.7.7"], "the other change stands")
    }

    @Test func dnsSwitchOnCloudDNSIsConfirmedByARealQueryAndUndone() async throws {
        let step = DNSSwitch(providers: catalog)
        let params = try params(DNSSwitch.self, #"{"zone": \#(cloudDNS), "name": "recommendations.example.test.", "records": ["\#(Self.dr)"], "ttl": 30, "nameserver": "127.0.0.1:15353"}"#)
        let stepCtx = StepTestContext(environment: env)
        let out = try await step.execute(params, stepCtx)
        #expect(try sandbox.state()["dns"] as? [String] == [Self.dr], "the sandbox's nameserver answers the change Cloud DNS made")
        #expect(((try sandbox.state(calls: true)["gceCalls"] as? [String: Int])?["dns.changes.get"] ?? 0) >= 1, "the change was polled until done")
        try await step.compensate(params, out, stepCtx)
        #expect(try sandbox.state()["dns"] as? [String] == [Self.primary])
    }

    @Test func gcloudDrivesTheCloudDNSFake() throws {
        guard let install = Self.gcloudInstall() else {
            if ProcessInfo.processInfo.environment["CI"] == "true" {
                Issue.record("gcloud is not installed: CI must hold the Cloud DNS fake to Google's own client (install google-cloud-cli)")
            }
            return
        }
        let issued = try sandbox.run(["curl", "-sf", "-X", "POST", "--data", #"{"issueToken": true}"#, "\(Self.gce)/_gce/control"])
        let token = try #require((try JSONSerialization.jsonObject(with: Data(issued.output.utf8)) as? [String: Any])?["access_token"] as? String)
        try token.write(toFile: dir.path("dns-token"), atomically: true, encoding: .utf8)
        try FileManager.default.createDirectory(atPath: dir.path("dns-config"), withIntermediateDirectories: true)
        func gcloud(_ args: [String]) throws -> (status: Int32, out: String) {
            let r = try Sandbox.script(
                [install.gcloud, "dns"] + args + ["--project", "recsys-dr", "--access-token-file", dir.path("dns-token")],
                environment: [
                    "CLOUDSDK_CONFIG": dir.path("dns-config"), "CLOUDSDK_CORE_DISABLE_PROMPTS": "1",
                    "CLOUDSDK_API_ENDPOINT_OVERRIDES_DNS": "\(Self.gce)/dns/v1/",
                ])
            return (r.status, r.output)
        }
        let zone = try gcloud(["managed-zones", "describe", "example-test", "--format=json"])
        #expect(zone.status == 0 && zone.out.contains("\"dnsName\": \"example.test.\""), "\(zone.out)")
        let update = try gcloud(["record-sets", "update", "recommendations.example.test.", "--type", "A", "--ttl", "30", "--rrdatas", Self.dr, "--zone", "example-test"])
        #expect(update.status == 0, "\(update.out)")
        #expect(try sandbox.state()["dns"] as? [String] == [Self.dr], "a real DNS query answers what gcloud changed")
        let list = try gcloud(["record-sets", "list", "--zone", "example-test", "--format=json"])
        #expect(list.status == 0 && list.out.contains(Self.dr), "\(list.out)")
        _ = try gcloud(["record-sets", "update", "recommendations.example.test.", "--type", "A", "--ttl", "30", "--rrdatas", Self.primary, "--zone", "example-test"])
        let violations = try shapesViolations(apis: install.apis, api: "dns")
        #expect(violations == nil, "\(violations ?? "")")
        #expect(try sandbox.state()["dns"] as? [String] == [Self.primary])
    }
}
