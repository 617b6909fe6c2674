import CutoverCore
import CutoverProviders
import Foundation

/// A Cloud DNS managed zone (`resourceRecordSets.list`, `changes.create`, `changes.get`).
///
/// A replacement is one change: the deletion of the record set exactly as the caller just read
/// it and the addition of the new one, which Google applies all or nothing. A set someone else
/// changed in between makes Google refuse the deletion (412 `conditionNotMet`; 404 when it was
/// deleted), or the addition when there was none (409 `alreadyExists`): named, nothing applied. A change is `done` once
/// sent to Google's authoritative servers, not when resolvers serve it: `dns.switch` confirms
/// with a real query when given a nameserver.
struct CloudDNSZone: DNSZone {
    let api: GoogleAPI
    let project: String
    let managedZone: String
    private let lastChange = LastCloudDNSChange()

    init(api: GoogleAPI, project: String, managedZone: String) {
        self.api = api
        self.project = project
        self.managedZone = managedZone
    }

    var target: String { "Cloud DNS zone \(managedZone) (project \(project))" }
    var endpoints: [String] { api.endpoints }

    private var path: String { "projects/\(project)/managedZones/\(managedZone)" }

    func read(name: String, type: String) async throws -> RecordSet? {
        let list = try await api.call("GET", "\(path)/rrsets", query: [("name", name), ("type", type)], what: "reading \(name) \(type) at \(target)")
        // Google leaves an empty list out of its JSON.
        let sets = list["rrsets"]?.arrayValue ?? []
        guard let set = sets.first(where: { fqdn($0["name"]?.stringValue ?? "") == name && $0["type"]?.stringValue == type }) else { return nil }
        let records = set["rrdatas"]?.arrayValue?.compactMap(\.stringValue) ?? []
        guard !records.isEmpty else { return nil }
        return RecordSet(ttl: Int(set["ttl"]?.intValue ?? 300), records: records)
    }

    private func rrset(_ name: String, _ type: String, _ set: RecordSet) -> JSONValue {
        .object([
            "kind": .string("dns#resourceRecordSet"), "name": .string(name), "type": .string(type), "ttl": .int(Int64(set.ttl)),
            "rrdatas": .array(set.records.map { .string($0) }),
        ])
    }

    /// One change, applied by Google all or nothing.
    private func change(deleting old: RecordSet?, adding new: RecordSet?, name: String, type: String, _ proof: RunProof) async throws {
        let what = "\(new == nil ? "deleting" : "replacing") \(name) \(type) at \(target)"
        var body: [String: JSONValue] = ["kind": .string("dns#change")]
        if let old { body["deletions"] = .array([rrset(name, type, old)]) }
        if let new { body["additions"] = .array([rrset(name, type, new)]) }
        try proof.check(doing: what)
        let change: JSONValue
        do {
            change = try await api.call("POST", "\(path)/changes", body: .object(body), what: what, gate: proof.gate(doing: what))
        } catch let e as GoogleError where e.status == 412 || e.status == 409 || (e.status == 404 && e.message.contains("entity.change")) {
            throw StepError(
                code: "dns-changed-underneath",
                message: "\(target): \(name) \(type) changed between reading and replacing it (\(e.message)); nothing was applied", retryable: true)
        }
        guard let id = change["id"]?.stringValue, GoogleNames.isSegment(id) else {
            throw GoogleError(code: "garbage", message: "\(target): changes.create answered without a change id", status: nil, retryable: true)
        }
        await lastChange.set(id)
    }

    func replace(name: String, type: String, with set: RecordSet, replacing current: RecordSet?, _ proof: RunProof) async throws {
        try await change(deleting: current, adding: set, name: name, type: type, proof)
    }

    func delete(name: String, type: String, current: RecordSet, _ proof: RunProof) async throws {
        try await change(deleting: current, adding: nil, name: name, type: type, proof)
    }

    /// Polls the last change until Google says `done`.
    /// Waits for the change this value made, or, when it made none (a process that took the
    /// run over after a crash, observing or compensating), for every change of the zone still
    /// pending among the latest ones.
    func waitInSync(_ ctx: any StepContext, within: Duration) async throws {
        let known = await lastChange.id
        var waitingFor = known.map { [$0] } ?? []
        let done = try await poll(ctx, every: .seconds(1), until: ctx.now().adding(within)) { () async throws -> Bool? in
            if let id = known {
                let c = try await api.call("GET", "\(path)/changes/\(id)", what: "reading change \(id) of \(target)")
                return c["status"]?.stringValue == "done" ? true : nil
            }
            let page = try await api.call(
                "GET", "\(path)/changes", query: [("sortOrder", "descending"), ("maxResults", "20")], what: "listing the changes of \(target)")
            waitingFor = (page["changes"]?.arrayValue ?? []).filter { $0["status"]?.stringValue == "pending" }.compactMap { $0["id"]?.stringValue }
            return waitingFor.isEmpty ? true : nil
        }
        guard done != nil else {
            throw StepError(
                code: "dns-not-in-sync", message: "\(target): change \(waitingFor.joined(separator: ", ")) is not done after \(DurationText.format(within))", retryable: true)
        }
    }
}

/// The id of the last Cloud DNS change made through one zone value.
private actor LastCloudDNSChange {
    var id: String?
    func set(_ id: String) { self.id = id }
}
