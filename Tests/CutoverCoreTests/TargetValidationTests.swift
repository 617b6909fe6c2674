import CutoverCore
import Foundation
import Testing
import TestSupport

/// Targets are checked when definitions load, by the provider each names: every way a target
/// can be wrong, refused with the file, the JSON path and what to do, before anything runs.
@Suite struct TargetValidationTests {
    let registry = standardRegistry()

    static let goodRunbook: [String: JSONValue] = try! JSONValue.parse(Data(#"""
        {"service": "svc", "primary": {"redis": {"provider": "redis", "url": "redis://10.0.0.1:6379"},
                                       "models": {"provider": "s3", "region": "us-east-1", "bucket": "models-primary"}},
         "dr": {"redis": {"provider": "redis", "url": "redis://10.1.0.1:6379", "password": "env:REDIS_PASSWORD"},
                "models": {"provider": "s3", "region": "us-west-2", "bucket": "models-dr"},
                "gpuGroup": {"provider": "aws-autoscaling", "region": "us-west-2", "name": "gpu"}},
         "dns": {"authoritative": {"provider": "powerdns", "api": "https://pdns.example.com", "apiKey": "env:PDNS_API_KEY", "zone": "example.com."},
                 "cloud": {"provider": "route53", "hostedZone": "Z123"}}}
        """#.utf8)).objectValue!

    /// The runbook with `value` put at `path` (nil removes it).
    func runbook(_ path: [String], _ value: JSONValue?) -> Data {
        func set(_ o: [String: JSONValue], _ path: ArraySlice<String>) -> [String: JSONValue] {
            var o = o
            guard let key = path.first else { return o }
            if path.count == 1 { o[key] = value } else { o[key] = .object(set(o[key]?.objectValue ?? [:], path.dropFirst())) }
            return o
        }
        return Data(JSONValue.object(set(Self.goodRunbook, path[...])).canonicalString.utf8)
    }

    func issues(_ data: Data, mode: RunMode = .live) -> [ValidationIssue] {
        do {
            _ = try Runbook.load(file: "runbooks/svc.json", data: data, mode: mode, providers: registry.providers)
            return []
        } catch let f as ValidationFailure {
            return f.issues
        } catch {
            Issue.record("\(error)")
            return []
        }
    }

    @Test func theGoodRunbookLoads() {
        #expect(issues(runbook([], nil)) == [])
    }

    struct Case: Sendable, CustomStringConvertible {
        var change: [String]
        var value: JSONValue?
        var path: String
        var says: String
        var description: String { path }
    }

    static let cases: [Case] = [
        Case(change: ["dns", "cloud", "hostedZone"], value: nil, path: "dns.cloud.hostedZone",
             says: "provider route53 needs hostedZone (the hosted zone id, like Z0123456789ABC) or zone (its name, like example.com.)"),
        Case(change: ["dns", "cloud", "provider"], value: .string("route-53"), path: "dns.cloud.provider",
             says: "unknown provider \"route-53\"; did you mean \"route53\"?; this build knows alertmanager, aws-autoscaling, clouddns, gce, gcs, postgres, powerdns, redis, route53, s3"),
        Case(change: ["dns", "cloud", "provider"], value: .int(53), path: "dns.cloud.provider",
             says: "expected the name of a provider (alertmanager, aws-autoscaling, clouddns, gce, gcs, postgres, powerdns, redis, route53, s3), got 53"),
        Case(change: ["dr", "gpuGroup", "name"], value: nil, path: "dr.gpuGroup.name",
             says: "missing; provider aws-autoscaling needs a string (the Auto Scaling group name)"),
        Case(change: ["dr", "gpuGroup", "capacity"], value: .int(4), path: "dr.gpuGroup.capacity",
             says: "unknown field for provider aws-autoscaling; expected one of region, name, endpoint, accessKey, secretKey, sessionToken"),
        Case(change: ["dr", "models", "bukket"], value: .string("models-dr"), path: "dr.models.bukket",
             says: "unknown field for provider s3; did you mean \"bucket\"?; expected one of region, bucket, endpoint"),
        Case(change: ["dr", "models", "bucket"], value: .string("Models_DR"), path: "dr.models.bucket",
             says: "expected an S3 bucket name (3 to 63 lowercase letters, digits, \"-\" or \".\", starting and ending with a letter or digit), got \"Models_DR\""),
        Case(change: ["dr", "models", "bucket"], value: .string("models..dr"), path: "dr.models.bucket", says: "got \"models..dr\""),
        Case(change: ["dr", "gpuGroup", "region"], value: .string("${parameters.region}"), path: "dr.gpuGroup.region",
             says: "a runbook's values are used as written, never resolved: write the value itself"),
        Case(change: ["dr", "redis", "url"], value: .string("rediss://10.1.0.1:6380"), path: "dr.redis.url",
             says: "(TLS to Redis is not supported by this build)"),
        Case(change: ["dr", "models", "endpoint"], value: .string("s3.internal"), path: "dr.models.endpoint",
             says: "expected an http:// or https:// URL, got \"s3.internal\""),
        Case(change: ["dns", "authoritative", "apiKey"], value: nil, path: "dns.authoritative.apiKey",
             says: "missing; provider powerdns needs a secret reference like \"env:NAME\", \"file:/path\", \"aws-sm:NAME\" or \"gcp-sm:projects/P/secrets/S/versions/V\""),
        Case(change: ["primary", "redis", "url"], value: .string("10.0.0.1:6379"), path: "primary.redis.url",
             says: "expected redis://host:port, got \"10.0.0.1:6379\""),
        Case(change: ["primary", "models"], value: .object(["provider": .string("azure-blob"), "bucket": .string("m")]), path: "primary.models.provider",
             says: "unknown provider \"azure-blob\""),
        Case(change: ["dr", "models"], value: .object(["provider": .string("gcs"), "bucket": .string("Bad_Bucket!")]), path: "dr.models.bucket",
             says: "expected a bucket name (3 to 63 lowercase letters, digits, hyphens, underscores and dots"),
    ]

    @Test(arguments: cases)
    func aBadTargetIsRefusedWhereItIs(_ c: Case) {
        let found = issues(runbook(c.change, c.value))
        #expect(found.count == 1, "\(found)")
        #expect(found.first?.file == "runbooks/svc.json")
        #expect(found.first?.path == c.path, "\(found)")
        #expect(found.first?.message.contains(c.says) == true, "\(found.first?.message ?? "nothing")")
    }

    @Test func secretsAreNeverEchoed() {
        // A literal where a reference belongs is likely the secret itself; so is a URL password.
        let key = issues(runbook(["dr", "models", "secretKey"], .string("wJalrXUtnFEMI/K7MDENG/bPxRfiCY")))
        #expect(key.map(\.path) == ["dr.models.secretKey"])
        #expect(key.first?.message.contains("not shown") == true)
        let url = issues(runbook(["dr", "redis", "url"], .string("redis://:hunter2@10.1.0.1:6379")))
        #expect(url.map(\.path) == ["dr.redis.url"])
        #expect(url.first?.message.contains("give it as \"password\": \"env:NAME\"") == true)
        let tls = issues(runbook(["dr", "redis", "url"], .string("REDISS://admin:hunter2@10.1.0.1:6380")))
        #expect(tls.map(\.path) == ["dr.redis.url"])
        let api = issues(runbook(["dns", "authoritative", "api"], .string("ftp://admin:hunter2@pdns.example.com?token=hunter2")))
        #expect(api.map(\.path) == ["dns.authoritative.api"])
        #expect(api.first?.message.contains("ftp://pdns.example.com") == true, "\(api)")
        for issue in key + url + tls + api {
            #expect(!issue.description.contains("wJalr") && !issue.description.contains("hunter2"), "\(issue)")
        }
    }

    @Test func aDrillOverrideThatBreaksATargetIsNamedUnderDrill() {
        var o = Self.goodRunbook
        o["drill"] = .object(["dr": .object(["gpuGroup": .object(["name": .int(5)])])])
        let found = issues(Data(JSONValue.object(o).canonicalString.utf8))
        #expect(found.map(\.path) == ["drill.dr.gpuGroup.name"], "\(found)")
        #expect(found.first?.message.contains("with the drill overrides applied") == true)
    }

    @Test func aDrillOverrideThatNamesAProviderReplacesTheTarget() throws {
        var o = Self.goodRunbook
        o["drill"] = .object(["dns": .object(["cloud": .object(["provider": .string("powerdns"), "api": .string("http://127.0.0.1:18081"),
                                                               "apiKey": .string("env:PDNS_API_KEY"), "zone": .string("drill.test.")])])])
        let data = Data(JSONValue.object(o).canonicalString.utf8)
        #expect(issues(data) == [])
        let drill = try Runbook.load(file: "runbooks/svc.json", data: data, mode: .drill, providers: registry.providers)
        #expect(drill.source["dns"]?["cloud"]?["hostedZone"] == nil, "the route53 fields are not merged into a powerdns target")
        #expect(drill.source["dns"]?["cloud"]?["zone"] == .string("drill.test."))
    }

    @Test func everyProblemInOneFileIsReportedAtOnce() {
        var o = Self.goodRunbook
        o["dns"] = .object(["cloud": .object(["provider": .string("route53")]), "authoritative": .object(["provider": .string("powerdns"), "zone": .string("z.")])])
        let paths = issues(Data(JSONValue.object(o).canonicalString.utf8)).map(\.path)
        #expect(paths == ["dns.authoritative.api", "dns.authoritative.apiKey", "dns.cloud.hostedZone"], "\(paths)")
    }

    // MARK: - Workflows: a step gets a target of the capability it needs

    func workflowIssues(_ steps: String) throws -> [ValidationIssue] {
        let rb = try Runbook.load(file: "runbooks/svc.json", data: runbook([], nil), providers: registry.providers)
        do {
            _ = try Workflow.load(file: "workflows/w.json", data: Data(#"{"name": "w", "steps": [\#(steps)]}"#.utf8), registry: registry, runbook: rb)
            return []
        } catch let f as ValidationFailure {
            return f.issues
        }
    }

    @Test func aTargetOfTheWrongCapabilityIsRefused() throws {
        let found = try workflowIssues(#"{"id": "scale", "type": "instances.scale", "with": {"group": "${runbook.dr.redis}", "capacity": 2}}"#)
        #expect(found.map(\.path) == ["steps[0].with.group"])
        #expect(found.first?.message == #""${runbook.dr.redis}" is a redis target in runbooks/svc.json, which is not an instance group; instances.scale needs one of aws-autoscaling, gce"#)
    }

    @Test func aNameWhereATargetBelongsSaysWhatATargetIs() throws {
        // A runbook of the old shape: the group's name where the whole target belongs.
        let found = try workflowIssues(#"{"id": "scale", "type": "instances.scale", "with": {"group": "recsys-dr-gpu", "capacity": 2}}"#)
        #expect(found.map(\.path) == ["steps[0].with.group"])
        #expect(found.first?.message.contains(#"expected an instance group: a target object like {"provider": ..., ...}, usually "${runbook...}""#) == true, "\(found)")
    }

    @Test func aTargetWrittenInTheWorkflowIsCheckedInFull() throws {
        let found = try workflowIssues(#"""
            {"id": "switch", "type": "dns.switch", "with": {"zone": {"provider": "route53", "endpoint": "http://127.0.0.1:1"}, "name": "a.example.com.", "records": ["192.0.2.1"]}}
            """#)
        #expect(found.map(\.path) == ["steps[0].with.zone.hostedZone"], "\(found)")
    }

    @Test func theShippedDefinitionsLoadAgainstTheProviders() throws {
        let root = repositoryRoot
        for name in ["sandbox", "recommendation-engine", "example"] {
            let data = try Data(contentsOf: root.appendingPathComponent("runbooks/\(name).json"))
            for mode in [RunMode.live, .drill] {
                let rb = try Runbook.load(file: "runbooks/\(name).json", data: data, mode: mode, providers: registry.providers)
                guard name != "example" else { continue }
                for wf in ["failover", "failback"] {
                    _ = try Workflow.load(
                        file: "workflows/\(wf).json", data: try Data(contentsOf: root.appendingPathComponent("workflows/\(wf).json")),
                        registry: registry, runbook: rb)
                }
            }
        }
    }
}
