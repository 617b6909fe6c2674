import CutoverCore
import CutoverGoogle
import CutoverNet
import CutoverProviders
import CutoverSteps
import Foundation
import Testing
import TestSupport

/// The DR GPU group on Compute Engine (the sandbox's fake, held to Google's own client): the
/// token flow with the sandbox's service-account key, resizes Google schedules before instances
/// exist, stock-outs and quotas named before or instead of waiting, and the capacity check.
extension SandboxTests {
    static let gce = "http://127.0.0.1:18095"

    var keyPath: String { sandbox.environment["GOOGLE_APPLICATION_CREDENTIALS"] ?? "" }

    /// A `gce` target on the fake, with the sandbox's key unless `credentials` says otherwise.
    func gceTarget(_ fields: String = #""zone": "us-central1-a", "name": "recsys-dr-gpu""#, credentials: String? = nil) -> String {
        #"{"provider": "gce", "endpoint": "\#(Self.gce)", "project": "recsys-dr", \#(fields), "credentials": "\#(credentials ?? "file:" + keyPath)"}"#
    }

    func gceState() throws -> [String: Any] {
        let r = try sandbox.run(["curl", "-sf", "\(Self.gce)/_gce/state"])
        return try JSONSerialization.jsonObject(with: Data(r.output.utf8)) as? [String: Any] ?? [:]
    }

    @Test func computeEngineKeepsTheInstanceGroupContract() async throws {
        try sandbox.control("\(Self.gce)/_gce/control", #"{"startSeconds": 0.5, "deleteSeconds": 0.3}"#)
        let zonal = try catalog.instanceGroup(try target(gceTarget()), ctx)
        try await ProviderContracts.instanceGroup(zonal)
        let regional = try catalog.instanceGroup(try target(gceTarget(#""region": "us-central1", "name": "recsys-dr-gpu-regional""#)), ctx)
        try await ProviderContracts.instanceGroup(regional)
        let missing = try catalog.instanceGroup(try target(gceTarget(#""zone": "us-central1-a", "name": "no-such-group""#)), ctx)
        do {
            _ = try await missing.size()
            Issue.record("a group that does not exist was read")
        } catch {
            let e = try #require(StepError.from(error, doing: "reading the group") as? StepError)
            #expect(e.code == "gcp-notFound" && e.retryable == false, "\(e)")
            #expect(e.message.contains("no-such-group") && e.message.contains("check the project, location and name"), "\(e.message)")
        }
    }

    @Test func aDrillScalesTheGoogleGroupAndBackAndNoTokenOrKeyIsStored() throws {
        let before = try sandbox.restorable()
        let (run, result) = try startApproveResume(drill: true)
        #expect(result.status == 0, "\(result.stdout)\(result.stderr)")
        #expect(try sandbox.restorable() == before, "the Compute Engine group is back at its warm size, instances and all")
        #expect(result.stdout.contains("Compute Engine group recsys-dr-gpu in us-central1-a"), "the terminal names the Google group")
        let calls = try sandbox.state(calls: true)["gceCalls"] as? [String: Int] ?? [:]
        #expect(calls["resize"] == 2, "up for the drill, down on its rollback: \(calls)")
        #expect((calls["token"] ?? 0) >= 1, "the real token flow ran against the sandbox's key")
        let capacity = try history(run).first { $0["type"] as? String == "StepSucceeded" && $0["step"] as? String == "dr-capacity" }
        let limits = ((capacity?["body"] as? [String: Any])?["output"] as? [String: Any])?["limits"] as? [[String: Any]] ?? []
        #expect(limits.contains { ($0["limit"] as? String ?? "").contains("NVIDIA_A100_GPUS") && $0["needed"] as? Int == 3 }, "\(limits)")

        // No token and no part of the key anywhere in the database's bytes.
        let key = try JSONValue.parse(try Data(contentsOf: URL(fileURLWithPath: keyPath)))
        let pemLines = (key["private_key"]?.stringValue ?? "").split(separator: "\n").filter { !$0.hasPrefix("-----") }
        #expect(pemLines.count > 10)
        let secrets = [Array("ya29.".utf8), Array((key["private_key_id"]?.stringValue ?? "missing").utf8)] + pemLines.map { Array($0.utf8) }
        let files = [db, db + "-wal"].filter { FileManager.default.fileExists(atPath: $0) }
        for file in files {
            let bytes = try Data(contentsOf: URL(fileURLWithPath: file))
            for s in secrets { #expect(bytes.range(of: Data(s)) == nil, "\(file) holds a token or a piece of the key") }
        }
        for s in secrets { #expect(!result.stdout.contains(String(decoding: s, as: UTF8.self)), "the terminal shows no token or key") }
        // What cutover asked and what the fake answered, held to Google's client.
        if let install = Self.gcloudInstall() {
            let violations = try shapesViolations(apis: install.apis)
            #expect(violations == nil, "\(violations ?? "")")
        }
    }

    @Test func aGPUStockOutBeforeThePivotScalesBackAndFails() throws {
        let before = try sandbox.restorable()
        let (run, result) = try startApproveResume {
            try sandbox.control("\(Self.gce)/_gce/control", #"{"stockout": "ZONE_RESOURCE_POOL_EXHAUSTED"}"#)
        }
        #expect(result.status == 1, "\(result.stdout)")
        let st = try status(run)
        #expect(st["state"] as? String == "failed")
        let reason = st["reason"] as? String ?? ""
        #expect(reason.contains("ZONE_RESOURCE_POOL_EXHAUSTED") && reason.contains("recsys-dr-gpu") && reason.contains("another zone or region"), "\(reason)")
        let failures = try history(run).filter { $0["type"] as? String == "StepFailed" && $0["step"] as? String == "scale-gpu" }
        #expect(failures.count == 1, "a stock-out is not retried into a longer outage")
        #expect(try gceCalls("resize") == 2, "grown, then set back by the step itself")
        #expect(!(try history(run)).contains { $0["type"] as? String == "StepStarted" && $0["step"] as? String == "enable-writes" }, "the pivot never ran")
        try sandbox.control("\(Self.gce)/_gce/control", #"{"stockout": null}"#)
        #expect(try sandbox.restorable() == before, "the group is back at its warm size")
    }

    @Test func theCapacityCheckRefusesWhatTheQuotaCannotHold() throws {
        let before = try sandbox.restorable()
        try sandbox.control("\(Self.gce)/_gce/control", #"{"quota": {"NVIDIA_A100_GPUS": 2}}"#)
        // Preflight finds it before anything is written...
        let refused = try sandbox.cutover(["start", "failover", "--runbook", "sandbox", "--json"], db: db)
        #expect(refused.status == 1 && refused.stdout.isEmpty, "\(refused.stdout)\(refused.stderr)")
        #expect(refused.stderr.contains("FAIL check  dr-capacity (capacity.check)") && refused.stderr.contains("quota NVIDIA_A100_GPUS in us-central1"), "\(refused.stderr)")
        #expect(!FileManager.default.fileExists(atPath: db))
        // ...and a run started without it stops at the same check, before any change.
        let start = try sandbox.cutover(["start", "failover", "--runbook", "sandbox", "--json", "--no-preflight"], db: db)
        #expect(start.status == 1, "\(start.stdout)\(start.stderr)")
        let out = try JSONSerialization.jsonObject(with: Data((start.lines.last ?? "").utf8)) as? [String: Any]
        let reason = out?["reason"] as? String ?? ""
        #expect(reason.contains("step dr-capacity"), "\(reason)")
        #expect(reason.contains("quota NVIDIA_A100_GPUS in us-central1") && reason.contains("3 needed, 1 available"), "the shortfall named with its figures: \(reason)")
        #expect(try gceCalls("resize") == 0, "nothing was changed")
        #expect(try sandbox.restorable() == before)
    }

    @Test func aBadServiceAccountKeyAndAnExpiredTokenAreNamedWithoutTheirContents() async throws {
        // A key Google never issued: same account and endpoint, another RSA key.
        let other = try sandbox.run(["openssl", "genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048"]).output
        let pem = other.split(separator: "\n").drop { !$0.hasPrefix("-----BEGIN") }.joined(separator: "\n") + "\n"
        var key = try JSONValue.parse(try Data(contentsOf: URL(fileURLWithPath: keyPath))).objectValue ?? [:]
        key["private_key"] = .string(pem)
        let forged = dir.path("forged-key.json")
        try JSONValue.object(key).canonicalString.write(toFile: forged, atomically: true, encoding: .utf8)
        let check = CapacityCheck(providers: catalog)
        let refused = await #expect(throws: StepError.self) {
            try await run(check, #"{"group": \#(gceTarget(credentials: "file:" + forged)), "capacity": 2}"#)
        }
        #expect(refused?.code == "gcp-token-refused", "\(String(describing: refused))")
        let message = refused?.message ?? ""
        #expect(message.contains("Invalid JWT Signature") && message.contains("file:\(forged)") && message.contains("cutover-drill@recsys-dr.iam.gserviceaccount.com"), "\(message)")
        let body = pem.split(separator: "\n")[1]
        #expect(!message.contains(String(body)) && !message.contains("BEGIN") && !message.contains("eyJ"), "neither the key nor the signed assertion is shown: \(message)")

        // The cached token revoked, and new ones expired the moment they are issued: refused twice, named.
        try sandbox.control("\(Self.gce)/_gce/control", #"{"tokenLifetime": 0, "expireTokens": true}"#)
        let expired = await #expect(throws: StepError.self) { try await run(check, #"{"group": \#(gceTarget()), "capacity": 2}"#) }
        #expect(expired?.code == "gcp-UNAUTHENTICATED", "\(String(describing: expired))")
        #expect(expired?.message.contains("refused the access token for service account cutover-drill@recsys-dr.iam.gserviceaccount.com") == true, "\(expired?.message ?? "")")
        #expect(expired?.message.contains("ya29.") == false, "the token is never shown")

        // A token revoked while cached is replaced once, without the step noticing.
        try sandbox.control("\(Self.gce)/_gce/control", #"{"tokenLifetime": 3599}"#)
        _ = try await run(check, #"{"group": \#(gceTarget()), "capacity": 2}"#)
        let issued = try gceState()["tokensIssued"] as? Int ?? 0
        try sandbox.control("\(Self.gce)/_gce/control", #"{"expireTokens": true}"#)
        let output = try await run(check, #"{"group": \#(gceTarget()), "capacity": 2}"#)
        #expect(output.limits.contains { $0.limit.contains("NVIDIA_A100_GPUS") && $0.needed == 1 })
        #expect(try gceState()["tokensIssued"] as? Int == issued + 1, "one new token, after the 401")
    }

    @Test func theMetadataServerIsUsedOnComputeEngine() async throws {
        let catalog = ProviderCatalog(GoogleProviders.adapters(http: HTTPClient(), environment: { ["GCE_METADATA_HOST": "127.0.0.1:18095"] }))
        let group = try catalog.instanceGroup(try target(gceTarget(credentials: "metadata")), ctx)
        #expect(try await group.size().desired == 1)
        #expect((try gceState()["calls"] as? [String: Int])?["metadataToken"] ?? 0 >= 1)
        // application-default with no key file named falls back to the metadata server, as Google's clients do.
        let fallback = try catalog.instanceGroup(try target(gceTarget(credentials: "application-default")), ctx)
        #expect(try await fallback.size().desired == 1)
    }
}
