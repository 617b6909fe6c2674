import CutoverCore
import CutoverNet
import CutoverProviders
import Foundation

/// The `powerdns` provider: a zone on a PowerDNS Authoritative server, through its HTTP API.
public enum PowerDNSProvider {
    public static let schema = ProviderSchema(
        name: "powerdns", summary: "a zone on a PowerDNS Authoritative server (HTTP API)", capabilities: [.dnsZone],
        fields: [
            ParameterField("api", .url, required: true, "the API base, like http://127.0.0.1:8081"),
            ParameterField("apiKey", .secret(literalAllowed: false), required: true, "a reference like env:PDNS_API_KEY"),
            ParameterField("zone", .string, required: true, "the zone, like example.com."),
            ParameterField("server", .string, "the server id", default: .string("localhost")),
        ])

    public static func adapter(http: HTTPClient) -> ProviderAdapter {
        ProviderAdapter(schema: schema, dnsZone: { target, secret in
            PowerDNSZone(
                http: http, api: try target.required("api"), apiKey: try secret(try target.required("apiKey")),
                server: target.string("server") ?? "localhost", zone: try target.required("zone"))
        })
    }
}

/// A zone on a PowerDNS Authoritative server, through its HTTP API
/// (`/api/v1/servers/{server}/zones/{zone}`, `X-API-Key`).
struct PowerDNSZone: DNSZone {
    let http: HTTPClient
    let api: String
    let apiKey: String
    let server: String
    let zone: String

    var target: String { "PowerDNS \(HTTPRequest.redacted(api)) zone \(fqdn(zone))" }
    var endpoints: [String] { [api] }

    private var url: String {
        let base = api.hasSuffix("/") ? String(api.dropLast()) : api
        return "\(base)/api/v1/servers/\(server)/zones/\(fqdn(zone))"
    }

    private func send(_ method: String, body: JSONValue? = nil, what: String, gate: (@Sendable () -> Error?)? = nil) async throws -> HTTPResponse {
        var headers = [("X-API-Key", apiKey), ("Accept", "application/json")]
        if body != nil { headers.append(("Content-Type", "application/json")) }
        let r = try await http.send(HTTPRequest(
            method: method, url: url, headers: headers, body: body.map { $0.canonicalBytes },
            connectTimeout: .seconds(3), totalTimeout: .seconds(15), maxResponseBytes: 8 << 20, gate: gate))
        guard (200..<300).contains(r.status) else {
            let detail = (try? JSONValue.parse(Data(r.body)))?["error"]?.stringValue ?? String(decoding: r.body.prefix(120), as: UTF8.self)
            let hint = r.status == 401 || r.status == 403 ? "; check the API key reference" : r.status == 404 ? "; check the zone and server id" : ""
            throw StepError(code: "pdns-\(r.status)", message: "\(target): \(what) answered HTTP \(r.status): \(detail)\(hint)", retryable: r.status >= 500 || r.status == 429)
        }
        return r
    }

    func read(name: String, type: String) async throws -> RecordSet? {
        let r = try await send("GET", what: "reading the zone")
        guard let zone = try? JSONValue.parse(Data(r.body)), let rrsets = zone["rrsets"]?.arrayValue else {
            throw StepError(code: "pdns-garbage", message: "\(target): the zone answer is not the PowerDNS zone JSON", retryable: true)
        }
        guard let set = rrsets.first(where: { $0["name"]?.stringValue == name && $0["type"]?.stringValue == type }) else { return nil }
        let records = (set["records"]?.arrayValue ?? []).filter { $0["disabled"]?.boolValue != true }.compactMap { $0["content"]?.stringValue }
        guard !records.isEmpty else { return nil }
        return RecordSet(ttl: Int(set["ttl"]?.intValue ?? 60), records: records)
    }

    /// PowerDNS's API has no compare-and-swap: `current` is not checked; the run proof is the
    /// only gate.
    func replace(name: String, type: String, with set: RecordSet, replacing current: RecordSet?, _ proof: RunProof) async throws {
        try proof.check(doing: "replacing \(name) \(type) at \(target)")
        let records = set.records.map { JSONValue.object(["content": .string($0), "disabled": .bool(false)]) }
        let change = JSONValue.object(["rrsets": .array([.object([
            "name": .string(name), "type": .string(type), "ttl": .int(Int64(set.ttl)), "changetype": .string("REPLACE"),
            "records": .array(records),
        ])])])
        _ = try await send("PATCH", body: change, what: "replacing \(name) \(type)", gate: proof.gate(doing: "replacing \(name) \(type) at \(target)"))
    }

    func delete(name: String, type: String, current: RecordSet, _ proof: RunProof) async throws {
        try proof.check(doing: "deleting \(name) \(type) at \(target)")
        let change = JSONValue.object(["rrsets": .array([.object([
            "name": .string(name), "type": .string(type), "changetype": .string("DELETE"),
        ])])])
        _ = try await send("PATCH", body: change, what: "deleting \(name) \(type)", gate: proof.gate(doing: "deleting \(name) \(type) at \(target)"))
    }

    /// PowerDNS serves from its database at once; the DNS query confirms it.
    func waitInSync(_ ctx: any StepContext, within: Duration) async throws {}
}
