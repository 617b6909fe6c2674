import CutoverCore
import CutoverNet
import CutoverProviders
import Foundation

/// The Google Cloud providers: `gce` (a Compute Engine managed instance group), `clouddns`
/// (a Cloud DNS managed zone) and `gcs` (a Cloud Storage bucket). Every Google
/// target authenticates the same way (`credentials`) and may point at another endpoint (a fake
/// or an emulator on loopback).
public enum GoogleProviders {
    /// - Parameter environment: where `application-default` and `GCE_METADATA_HOST` are read,
    ///   when a target is made (the process's environment unless given).
    public static func adapters(http: HTTPClient, environment: (@Sendable () -> [String: String])? = nil) -> [ProviderAdapter] {
        let environment = environment ?? { ProcessInfo.processInfo.environment }
        return [
            ProviderAdapter(schema: computeSchema, instanceGroup: { target, secret in
                let api = GoogleAPI(
                    service: "Compute Engine", endpoint: target.string("endpoint") ?? "https://compute.googleapis.com", basePath: "compute/v1/",
                    credentials: try credentials(target, secret, environment()), http: http)
                let location: ManagedInstanceGroup.Location =
                    if let zone = target.string("zone") { .zone(zone) } else { .region(try target.required("region")) }
                return ManagedInstanceGroup(api: api, project: try target.required("project"), location: location, name: try target.required("name"))
            }),
            ProviderAdapter(schema: cloudDNSSchema, dnsZone: { target, secret in
                let api = GoogleAPI(
                    service: "Cloud DNS", endpoint: target.string("endpoint") ?? "https://dns.googleapis.com", basePath: "dns/v1/",
                    credentials: try credentials(target, secret, environment()), http: http)
                return CloudDNSZone(api: api, project: try target.required("project"), managedZone: try target.required("managedZone"))
            }),
            ProviderAdapter(schema: storageSchema, objectStore: { target, secret in
                let api = GoogleAPI(
                    service: "Cloud Storage", endpoint: target.string("endpoint") ?? "https://storage.googleapis.com", basePath: "storage/v1/",
                    credentials: try credentials(target, secret, environment()), http: http)
                return GCSBucket(api: api, bucket: try target.required("bucket"))
            }),
        ]
    }

    /// The fields every Google target takes.
    static let access = [
        ParameterField("endpoint", .url, "the API endpoint (default: the service's at Google; a fake or an emulator on 127.0.0.1 in the sandbox)"),
        ParameterField(
            "credentials", .string,
            "how to authenticate: a reference to a service-account key (file:/path/key.json, env:NAME holding its JSON), \"metadata\" (the metadata server, on Compute Engine), \"application-default\" (the key file GOOGLE_APPLICATION_CREDENTIALS names, else the metadata server), or \"none\" (a local emulator)",
            default: .string("application-default")),
    ]

    static func accessRules(_ target: [String: JSONValue]) -> [(field: String, problem: String)] {
        let c = target["credentials"]?.stringValue ?? "application-default"
        guard !c.contains("${") else { return [] }
        let endpoint = target["endpoint"]?.stringValue
        if c == "none" {
            return endpoint.map(URLText.isLoopback) == true
                ? [] : [("credentials", "\"none\" is for an emulator on 127.0.0.1: give its endpoint, or credentials for Google")]
        }
        guard ["metadata", "application-default"].contains(c) || SecretReference.isReference(c) else {
            return [("credentials", "expected \"application-default\", \"metadata\", \"none\", or a reference to a service-account key like \"file:/path/key.json\"; a key's JSON never goes in the runbook")]
        }
        // A token is a bearer credential for an hour: it goes to Google, or to a fake on this machine.
        if let endpoint, !endpoint.contains("${"), !URLText.isGoogle(endpoint), !URLText.isLoopback(endpoint) {
            return [("endpoint", "credentials are only sent to https://*.googleapis.com or to 127.0.0.1, not to \(URLText.redacted(endpoint)); point the target at Google's API, or at an emulator on 127.0.0.1")]
        }
        return []
    }

    /// Names that go into API paths: checked when the runbook loads, so no path can be bent.
    static func nameRules(_ target: [String: JSONValue], _ fields: [String], project: Bool) -> [(field: String, problem: String)] {
        var out: [(String, String)] = []
        if project, let p = target["project"]?.stringValue, !p.contains("${"), !GoogleNames.isProject(p) {
            out.append(("project", "expected a project id (6 to 30 lowercase letters, digits or hyphens, starting with a letter), got \"\(TerminalText.escaped(p))\""))
        }
        for f in fields {
            if let v = target[f]?.stringValue, !v.contains("${"), !GoogleNames.isName(v) {
                out.append((f, "expected a Google resource name (lowercase letters, digits and hyphens, starting with a letter, at most 63), got \"\(TerminalText.escaped(v))\""))
            }
        }
        return out
    }

    public static let computeSchema = ProviderSchema(
        name: "gce", summary: "a Compute Engine managed instance group (zonal or regional)", capabilities: [.instanceGroup],
        fields: [
            ParameterField("project", .string, required: true, "the project id, like recsys-dr"),
            ParameterField("zone", .string, "the zone of a zonal group, like us-central1-a (or give region)"),
            ParameterField("region", .string, "the region of a regional group, like us-central1 (or give zone)"),
            ParameterField("name", .string, required: true, "the managed instance group's name"),
        ] + access,
        rules: { target in
            var out = nameRules(target, ["zone", "region", "name"], project: true) + accessRules(target)
            switch (target["zone"], target["region"]) {
            case (nil, nil): out.append(("zone", "missing; provider gce needs zone (a zonal group, like us-central1-a) or region (a regional group, like us-central1)"))
            case (.some, .some): out.append(("region", "give zone or region, not both: a group is zonal or regional"))
            default: break
            }
            return out
        })

    public static let cloudDNSSchema = ProviderSchema(
        name: "clouddns", summary: "a Cloud DNS managed zone", capabilities: [.dnsZone],
        fields: [
            ParameterField("project", .string, required: true, "the project id, like recsys-dr"),
            ParameterField("managedZone", .string, required: true, "the managed zone's name (not its DNS name), like example-com"),
        ] + access,
        rules: { target in nameRules(target, ["managedZone"], project: true) + accessRules(target) })

    public static let storageSchema = ProviderSchema(
        name: "gcs", summary: "a Cloud Storage bucket", capabilities: [.objectStore],
        fields: [ParameterField("bucket", .string, required: true, "the bucket's name, like recsys-models-gcp-dr")] + access,
        rules: { target in
            var out = accessRules(target)
            if let b = target["bucket"]?.stringValue, !b.contains("${"), !isBucket(b) {
                out.append(("bucket", "expected a bucket name (3 to 63 lowercase letters, digits, hyphens, underscores and dots, starting and ending with a letter or digit), got \"\(TerminalText.escaped(b))\""))
            }
            return out
        })

    /// Cloud Storage's bucket names (without the dotted domain-named form's longer limit).
    static func isBucket(_ s: String) -> Bool {
        let u = Array(s.utf8)
        func alnum(_ c: UInt8) -> Bool { (c >= 97 && c <= 122) || (c >= 48 && c <= 57) }
        guard (3...63).contains(u.count), let first = u.first, let last = u.last, alnum(first), alnum(last) else { return false }
        return u.allSatisfy { alnum($0) || $0 == UInt8(ascii: "-") || $0 == UInt8(ascii: "_") || $0 == UInt8(ascii: ".") } && !s.contains("..")
    }

    static func credentials(_ target: ProviderTarget, _ secret: SecretReader, _ environment: [String: String]) throws -> GoogleCredentials {
        try GoogleCredentials.resolve(target.string("credentials") ?? "application-default", { try secret($0) }, environment: environment)
    }
}
