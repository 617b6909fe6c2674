import CutoverCore
import Foundation
import Testing
import TestSupport

/// The Compute Engine fake held to Google's own client: the installed `gcloud` CLI drives it
/// (endpoint override and an access-token file), its answers are read back, and every request
/// and answer is checked against the API messages that `gcloud` ships. On CI (`CI=true`) a
/// missing `gcloud` fails this test: nothing else holds the fake to Google.
extension SandboxTests {
    /// The installed gcloud's generated Compute v1 client, or nil when gcloud is not installed.
    static func gcloudInstall() -> (gcloud: String, apis: String)? {
        for dir in (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin").split(separator: ":") {
            let path = "\(dir)/gcloud"
            guard FileManager.default.isExecutableFile(atPath: path) else { continue }
            let real = URL(fileURLWithPath: path).resolvingSymlinksInPath()
            let sdk = real.deletingLastPathComponent().deletingLastPathComponent()
            return (path, sdk.appendingPathComponent("lib/googlecloudsdk/generated_clients/apis").path)
        }
        return nil
    }

    /// Checks the fake's request log against Google's client for `api` (compute, dns,
    /// secretmanager), the requests under `base` (the client's own base path unless given): nil
    /// when it holds, else the violations.
    func shapesViolations(apis: String, api: String = "compute", base: String? = nil) throws -> String? {
        let r = try sandbox.run([
            sandbox.directory.appendingPathComponent("venv/bin/python").path, "scripts/fixtures/check_google_shapes.py",
            "--client", "\(apis)/\(api)/v1/\(api)_v1_client.py", "--messages", "\(apis)/\(api)/v1/\(api)_v1_messages.py",
            "--url", "\(Self.gce)/_gce/requests",
        ] + (base.map { ["--base", $0] } ?? []))
        return r.status == 0 && r.output.contains("no violations") ? nil : r.output
    }

    /// Runs gcloud (with a configuration folder of its own, the fake's token and endpoints);
    /// its exit status, standard output and standard error.
    func runGcloud(_ gcloud: String, _ args: [String], tokenFile: String, config: String, overrides: [String: String]) throws -> (status: Int32, out: String, err: String) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: gcloud)
        p.arguments = args + ["--access-token-file", tokenFile]
        var env = ProcessInfo.processInfo.environment.merging(overrides) { $1 }
        env["CLOUDSDK_CONFIG"] = config
        env["CLOUDSDK_CORE_DISABLE_PROMPTS"] = "1"
        p.environment = env
        let out = dir.path("gcloud.out"), err = dir.path("gcloud.err")
        _ = FileManager.default.createFile(atPath: out, contents: nil)
        _ = FileManager.default.createFile(atPath: err, contents: nil)
        p.standardOutput = try FileHandle(forWritingTo: URL(fileURLWithPath: out))
        p.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: err))
        try p.run()
        p.waitWithoutRunLoop(timeout: 120)
        return (p.terminationStatus, try String(contentsOfFile: out, encoding: .utf8), try String(contentsOfFile: err, encoding: .utf8))
    }

    /// The installed gcloud, or nil (a failed test on CI, where it must be, a note elsewhere).
    func requireGcloud(_ what: String) -> (gcloud: String, apis: String)? {
        if let install = Self.gcloudInstall() { return install }
        if ProcessInfo.processInfo.environment["CI"] == "true" {
            Issue.record("gcloud is not installed: CI must hold \(what) to Google's own client (install google-cloud-cli)")
        } else {
            print("note: gcloud is not installed here; \(what) was not driven by Google's client in this run")
        }
        return nil
    }

    /// A token the fake issued, in a file for gcloud's --access-token-file, and a gcloud
    /// configuration folder; both in the test's folder.
    func gcloudToken() throws -> (token: String, file: String, config: String) {
        let issued = try sandbox.run(["curl", "-sf", "-X", "POST", "--data", #"{"issueToken": true}"#, "\(Self.gce)/_gce/control"])
        let token = try #require((try JSONSerialization.jsonObject(with: Data(issued.output.utf8)) as? [String: Any])?["access_token"] as? String)
        let tokenFile = dir.path("gcloud-token")
        try token.write(toFile: tokenFile, atomically: true, encoding: .utf8)
        let config = dir.path("gcloud-config")
        try FileManager.default.createDirectory(atPath: config, withIntermediateDirectories: true)
        return (token, tokenFile, config)
    }

    @Test func gcloudDrivesTheComputeFakeAndEveryAnswerHasGooglesShape() throws {
        guard let install = requireGcloud("the Compute Engine fake") else { return }
        let (token, tokenFile, config) = try gcloudToken()

        func gcloud(_ args: [String], tokenFile: String = tokenFile) throws -> (status: Int32, out: String, err: String) {
            try runGcloud(
                install.gcloud, args + ["--project", "recsys-dr"], tokenFile: tokenFile, config: config,
                overrides: ["CLOUDSDK_API_ENDPOINT_OVERRIDES_COMPUTE": "\(Self.gce)/compute/v1/"])
        }
        func json(_ r: (status: Int32, out: String, err: String)) throws -> Any {
            #expect(r.status == 0, "gcloud: \(r.err)")
            return try JSONSerialization.jsonObject(with: Data(r.out.utf8))
        }
        let zonal = ["--zone", "us-central1-a", "--format=json"]

        let igm = try json(try gcloud(["compute", "instance-groups", "managed", "describe", "recsys-dr-gpu"] + zonal)) as? [String: Any]
        #expect(igm?["name"] as? String == "recsys-dr-gpu" && igm?["targetSize"] as? Int == 1, "\(igm ?? [:])")
        #expect((igm?["instanceTemplate"] as? String)?.hasSuffix("/global/instanceTemplates/recsys-a2-highgpu-1g") == true)

        // gcloud waits on the resize's operation, which the fake makes DONE before instances run.
        let resized = try gcloud(["compute", "instance-groups", "managed", "resize", "recsys-dr-gpu", "--size", "2"] + zonal)
        #expect(resized.status == 0, "\(resized.err)")
        #expect(((try gceState()["groups"] as? [String: Any])?["recsys-dr-gpu"] as? [String: Any])?["targetSize"] as? Int == 2)
        var running = 0
        for _ in 0..<40 {
            let instances = try json(try gcloud(["compute", "instance-groups", "managed", "list-instances", "recsys-dr-gpu"] + zonal)) as? [[String: Any]] ?? []
            running = instances.filter { $0["instanceStatus"] as? String == "RUNNING" && $0["currentAction"] as? String == "NONE" }.count
            if running == 2 && instances.count == 2 { break }
            Thread.sleep(forTimeInterval: 0.5)
        }
        #expect(running == 2, "two instances run once the fake has started them")

        let region = try json(try gcloud(["compute", "regions", "describe", "us-central1", "--format=json"])) as? [String: Any]
        let a100 = (region?["quotas"] as? [[String: Any]])?.first { $0["metric"] as? String == "NVIDIA_A100_GPUS" }
        #expect(a100?["limit"] as? Double == 8 && a100?["usage"] as? Double == 2, "usage follows the instances: \(a100 ?? [:])")
        let mt = try json(try gcloud(["compute", "machine-types", "describe", "a2-highgpu-1g"] + zonal)) as? [String: Any]
        #expect(mt?["guestCpus"] as? Int == 12)
        #expect(((mt?["accelerators"] as? [[String: Any]])?.first?["guestAcceleratorType"] as? String) == "nvidia-tesla-a100")
        let template = try json(try gcloud(["compute", "instance-templates", "describe", "recsys-a2-highgpu-1g", "--format=json"])) as? [String: Any]
        #expect((template?["properties"] as? [String: Any])?["machineType"] as? String == "a2-highgpu-1g")

        let regional = try gcloud(["compute", "instance-groups", "managed", "resize", "recsys-dr-gpu-regional", "--size", "1", "--region", "us-central1", "--format=json"])
        #expect(regional.status == 0, "\(regional.err)")
        #expect(try gcloud(["compute", "instance-groups", "managed", "resize", "recsys-dr-gpu", "--size", "1"] + zonal).status == 0)

        // A token the fake never issued: Google's 401, which gcloud reports as such.
        let forgedToken = dir.path("forged-token")
        try "ya29.forged-token-never-issued".write(toFile: forgedToken, atomically: true, encoding: .utf8)
        let refused = try gcloud(["compute", "regions", "describe", "us-central1", "--format=json"], tokenFile: forgedToken)
        #expect(refused.status != 0 && refused.err.contains("Request had invalid authentication credentials"), "\(refused.err)")
        let missing = try gcloud(["compute", "instance-groups", "managed", "describe", "no-such-group"] + zonal)
        #expect(missing.status != 0 && missing.err.contains("was not found"), "\(missing.err)")

        // Every path gcloud called and every field the fake answered exists in Google's client.
        let log = try JSONSerialization.jsonObject(with: Data(try sandbox.run(["curl", "-sf", "\(Self.gce)/_gce/requests"]).output.utf8)) as? [[String: Any]] ?? []
        let methods = Set(log.compactMap { $0["methodId"] as? String })
        for m in ["compute.instanceGroupManagers.get", "compute.instanceGroupManagers.resize", "compute.zoneOperations.wait",
                  "compute.instanceGroupManagers.listManagedInstances", "compute.regions.get", "compute.machineTypes.get",
                  "compute.instanceTemplates.get", "compute.regionInstanceGroupManagers.resize"] {
            #expect(methods.contains(m), "gcloud called \(m): \(methods.sorted())")
        }
        #expect(!log.description.contains(token), "the request log never holds a token")
        let violations = try shapesViolations(apis: install.apis)
        #expect(violations == nil, "\(violations ?? "")")
    }

    @Test func gcloudReadsTheSecretManagerFakeAndEveryAnswerHasGooglesShape() throws {
        guard let install = requireGcloud("the Secret Manager fake") else { return }
        let (token, tokenFile, config) = try gcloudToken()
        let secret = "gcloud-" + UUID().uuidString.prefix(8).lowercased()
        _ = try googleSecret(secret, "first")
        _ = try googleSecret(secret, "second value with a quote \" and a newline\n")
        func gcloud(_ args: [String]) throws -> (status: Int32, out: String, err: String) {
            try runGcloud(
                install.gcloud, ["secrets", "versions", "access"] + args + ["--secret", secret, "--project", "recsys-dr"], tokenFile: tokenFile, config: config,
                overrides: ["CLOUDSDK_API_ENDPOINT_OVERRIDES_SECRETMANAGER": "\(Self.gce)/secretmanager/"])
        }
        let latest = try gcloud(["latest"])
        #expect(latest.status == 0 && latest.out == "second value with a quote \" and a newline\n", "\(latest.out)\(latest.err)")
        let first = try gcloud(["1"])
        #expect(first.status == 0 && first.out == "first", "\(first.out)\(first.err)")
        let missing = try gcloud(["7"])
        #expect(missing.status != 0 && missing.err.contains("not found"), "\(missing.err)")
        try sandbox.control("\(Self.gce)/_gce/control", #"{"disableSecretVersion": {"secret": "\#(secret)", "version": 1}}"#)
        let disabled = try gcloud(["1"])
        #expect(disabled.status != 0 && disabled.err.contains("DISABLED"), "\(disabled.err)")
        let log = try sandbox.run(["curl", "-sf", "\(Self.gce)/_gce/requests"]).output
        #expect(!log.contains(token) && !log.contains(Data("second value".utf8).base64EncodedString()), "the log holds neither the token nor the payload")
        let violations = try shapesViolations(apis: install.apis, api: "secretmanager", base: "secretmanager/")
        #expect(violations == nil, "\(violations ?? "")")
    }
}
