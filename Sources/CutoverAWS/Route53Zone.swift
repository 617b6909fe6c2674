import CutoverCore
import CutoverNet
import CutoverProviders
import Foundation

/// A hosted zone in AWS Route 53 (REST API, XML, signed with SigV4 for `route53`).
struct Route53Zone: DNSZone {
    let aws: AWSClient
    let hostedZone: String?
    let zoneName: String?
    private static let ns = "https://route53.amazonaws.com/doc/2013-04-01/"

    var target: String { "Route 53 hosted zone \(hostedZone ?? zoneName ?? "?") at \(HTTPRequest.redacted(aws.endpoint))" }
    var endpoints: [String] { [aws.endpoint] }
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
            throw StepError(code: "no-such-zone", message: "\(target): no hosted zone named \(name); check the target's zone", retryable: false)
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

    /// One change batch, which Route 53 applies all or nothing.
    private func change(_ changes: [(action: String, set: RecordSet)], name: String, type: String, _ proof: RunProof) async throws {
        var xml = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<ChangeResourceRecordSetsRequest xmlns=\"\(Self.ns)\"><ChangeBatch>"
        xml += "<Comment>cutover</Comment><Changes>"
        for (action, set) in changes {
            xml += "<Change><Action>\(action)</Action><ResourceRecordSet>"
            xml += "<Name>\(XMLTree.escape(name))</Name><Type>\(type)</Type><TTL>\(set.ttl)</TTL><ResourceRecords>"
            for value in set.records { xml += "<ResourceRecord><Value>\(XMLTree.escape(value))</Value></ResourceRecord>" }
            xml += "</ResourceRecords></ResourceRecordSet></Change>"
        }
        xml += "</Changes></ChangeBatch></ChangeResourceRecordSetsRequest>"
        let zoneID = try await zoneIDResolved()
        let what = "\(changes.last?.action == "DELETE" ? "deleting" : "replacing") \(name) \(type) at \(target)"
        try proof.check(doing: what)
        let r: HTTPResponse
        do {
            r = try await aws.rest(
                method: "POST", path: "/2013-04-01/hostedzone/\(zoneID)/rrset/", headers: [("Content-Type", "application/xml")],
                body: Array(xml.utf8), what: "ChangeResourceRecordSets", gate: proof.gate(doing: what))
        } catch let e as AWSError where e.code == "InvalidChangeBatch" {
            // The DELETE did not match the set as it is now, or the CREATE found one: the name
            // changed since it was read. Nothing was applied; reading again is safe.
            throw StepError(code: "dns-changed-underneath", message: "\(target): \(name) \(type) changed between reading and replacing it (\(e.message)); nothing was applied", retryable: true)
        }
        let root = try aws.xml(r, what: "ChangeResourceRecordSets")
        await lastChange.set(root.find("Id")?.text)
    }

    /// Replaces the set as one compare-and-swap: the DELETE names the set exactly as the caller
    /// just read it and the CREATE the new one; Route 53 applies the batch only if the set is
    /// still what was read (or, when there was none, only if there still is none).
    func replace(name: String, type: String, with set: RecordSet, replacing current: RecordSet?, _ proof: RunProof) async throws {
        try await change((current.map { [("DELETE", $0)] } ?? []) + [("CREATE", set)], name: name, type: type, proof)
    }

    /// Deletes the set only if it is exactly `current` now.
    func delete(name: String, type: String, current: RecordSet, _ proof: RunProof) async throws {
        try await change([("DELETE", current)], name: name, type: type, proof)
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
}

/// The id of the last Route 53 change made through one zone value.
private actor LastChange {
    var id: String?
    var zoneID: String?
    func set(_ id: String?) { self.id = id }
    func setZone(_ id: String) { zoneID = id }
}
