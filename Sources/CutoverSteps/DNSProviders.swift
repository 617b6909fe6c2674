import CutoverCore
import CutoverNet
import Foundation

/// A zone on a PowerDNS Authoritative server, through its HTTP API
/// (`/api/v1/servers/{server}/zones/{zone}`, `X-API-Key`).
struct PowerDNSZone: DNSZoneAPI {
    let http: HTTPClient
    let api: String
    let apiKey: String
    let server: String
    let zone: String

    var target: String { "PowerDNS \(HTTPRequest.redacted(api)) zone \(fqdn(zone))" }

    private var url: String {
        let base = api.hasSuffix("/") ? String(api.dropLast()) : api
        return "\(base)/api/v1/servers/\(server)/zones/\(fqdn(zone))"
    }

    private func send(_ method: String, body: JSONValue? = nil, what: String) async throws -> HTTPResponse {
        var headers = [("X-API-Key", apiKey), ("Accept", "application/json")]
        if body != nil { headers.append(("Content-Type", "application/json")) }
        let r = try await http.send(HTTPRequest(
            method: method, url: url, headers: headers, body: body.map { Array($0.canonicalString.utf8) },
            connectTimeout: .seconds(3), totalTimeout: .seconds(15), maxResponseBytes: 8 << 20))
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

    func replace(name: String, type: String, with set: RecordSet) async throws {
        let records = set.records.map { JSONValue.object(["content": .string($0), "disabled": .bool(false)]) }
        let change = JSONValue.object(["rrsets": .array([.object([
            "name": .string(name), "type": .string(type), "ttl": .int(Int64(set.ttl)), "changetype": .string("REPLACE"),
            "records": .array(records),
        ])])])
        _ = try await send("PATCH", body: change, what: "replacing \(name) \(type)")
    }

    func delete(name: String, type: String, current: RecordSet) async throws {
        let change = JSONValue.object(["rrsets": .array([.object([
            "name": .string(name), "type": .string(type), "changetype": .string("DELETE"),
        ])])])
        _ = try await send("PATCH", body: change, what: "deleting \(name) \(type)")
    }

    /// PowerDNS serves from its database at once; the DNS query confirms it.
    func waitInSync(_ ctx: any StepContext, within: Duration) async throws {}
}

/// A hosted zone in AWS Route 53 (REST API, XML, signed with SigV4 for `route53`).
struct Route53Zone: DNSZoneAPI {
    let aws: AWSClient
    let hostedZone: String?
    let zoneName: String?
    private static let ns = "https://route53.amazonaws.com/doc/2013-04-01/"

    var target: String { "Route 53 hosted zone \(hostedZone ?? zoneName ?? "?") at \(HTTPRequest.redacted(aws.endpoint))" }
    /// The change id of the last change, for `waitInSync`, and the zone id once looked up.
    private let lastChange = LastChange()

    /// The hosted zone id: as given, or looked up by the zone's name.
    private func zoneIDResolved() async throws -> String {
        if let id = hostedZone { return id.hasPrefix("/hostedzone/") ? String(id.dropFirst("/hostedzone/".count)) : id }
        if let cached = await lastChange.zoneID { return cached }
        let name = zoneName ?? ""
        let r = try await aws.rest(method: "GET", path: "/2013-04-01/hostedzonesbyname", query: "dnsname=\(AWSSigner.encode(name, keepSlash: false))&maxitems=1", what: "ListHostedZonesByName")
        let root = try aws.xml(r, what: "ListHostedZonesByName")
        guard let zone = root.find("HostedZones")?.all("HostedZone").first(where: { fqdn($0["Name"]?.text ?? "") == name }), let id = zone["Id"]?.text else {
            throw StepError(code: "no-such-zone", message: "\(target): no hosted zone named \(name); check the runbook's dns.zone", retryable: false)
        }
        let bare = id.hasPrefix("/hostedzone/") ? String(id.dropFirst("/hostedzone/".count)) : id
        await lastChange.setZone(bare)
        return bare
    }

    func read(name: String, type: String) async throws -> RecordSet? {
        let zoneID = try await zoneIDResolved()
        let query = "maxitems=1&name=\(AWSSigner.encode(name, keepSlash: false))&type=\(type)"
        let r = try await aws.rest(method: "GET", path: "/2013-04-01/hostedzone/\(zoneID)/rrset", query: query, what: "ListResourceRecordSets")
        let root = try aws.xml(r, what: "ListResourceRecordSets")
        guard let sets = root["ResourceRecordSets"] else {
            throw StepError(code: "aws-garbage", message: "\(target): ListResourceRecordSets answered without ResourceRecordSets", retryable: true)
        }
        guard let set = sets.all("ResourceRecordSet").first(where: { fqdn($0["Name"]?.text ?? "") == name && $0["Type"]?.text == type }) else { return nil }
        let records = set["ResourceRecords"]?.all("ResourceRecord").compactMap { $0["Value"]?.text } ?? []
        return RecordSet(ttl: Int(set["TTL"]?.text ?? "") ?? 60, records: records)
    }

    private func change(_ action: String, name: String, type: String, set: RecordSet) async throws {
        var xml = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<ChangeResourceRecordSetsRequest xmlns=\"\(Self.ns)\"><ChangeBatch>"
        xml += "<Comment>cutover</Comment><Changes><Change><Action>\(action)</Action><ResourceRecordSet>"
        xml += "<Name>\(escape(name))</Name><Type>\(type)</Type><TTL>\(set.ttl)</TTL><ResourceRecords>"
        for value in set.records { xml += "<ResourceRecord><Value>\(escape(value))</Value></ResourceRecord>" }
        xml += "</ResourceRecords></ResourceRecordSet></Change></Changes></ChangeBatch></ChangeResourceRecordSetsRequest>"
        let zoneID = try await zoneIDResolved()
        let r = try await aws.rest(
            method: "POST", path: "/2013-04-01/hostedzone/\(zoneID)/rrset/", headers: [("Content-Type", "application/xml")],
            body: Array(xml.utf8), what: "ChangeResourceRecordSets")
        let root = try aws.xml(r, what: "ChangeResourceRecordSets")
        await lastChange.set(root.find("Id")?.text)
    }

    func replace(name: String, type: String, with set: RecordSet) async throws {
        try await change("UPSERT", name: name, type: type, set: set)
    }

    func delete(name: String, type: String, current: RecordSet) async throws {
        try await change("DELETE", name: name, type: type, set: current)
    }

    func waitInSync(_ ctx: any StepContext, within: Duration) async throws {
        guard let id = await lastChange.id else { return }
        let changeID = id.hasPrefix("/change/") ? String(id.dropFirst("/change/".count)) : id
        let done = try await poll(ctx, every: .seconds(1), until: ctx.now().adding(within)) { () async throws -> Bool? in
            let r = try await aws.rest(method: "GET", path: "/2013-04-01/change/\(changeID)", what: "GetChange")
            return try aws.xml(r, what: "GetChange").find("Status")?.text == "INSYNC" ? true : nil
        }
        guard done != nil else {
            throw StepError(code: "dns-not-in-sync", message: "\(target): change \(changeID) is not INSYNC after \(DurationText.format(within))", retryable: true)
        }
    }

    private func escape(_ s: String) -> String {
        s.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;").replacingOccurrences(of: ">", with: "&gt;")
    }
}

/// The id of the last Route 53 change made through one zone value.
private actor LastChange {
    var id: String?
    var zoneID: String?
    func set(_ id: String?) { self.id = id }
    func setZone(_ id: String) { zoneID = id }
}
