import CutoverCore
import CutoverNet
import CutoverProviders
import Foundation

/// `dns.switch`: replaces one record set in a DNS zone (whichever provider serves it), then
/// confirms the authoritative server answers the new records with a real DNS query. Compensation puts the
/// old record set back (or deletes the record when there was none) and confirms again.
public struct DNSSwitch: StepType {
    public struct Output: Codable, Sendable, Equatable {
        public var provider: String
        public var name: String
        public var type: String
        /// Nil when the record did not exist before.
        public var previous: RecordSet?
        public var records: [String]
        public var ttl: Int
        /// How long until the nameserver answered the new records.
        public var confirmedAfterMillis: Int64?
    }

    public static let name = "dns.switch"

    public static func change(_ o: Output) -> String? {
        let before = o.previous.map { "\($0.records.joined(separator: ", ")) (ttl \($0.ttl))" } ?? "no record"
        return "\(o.name) \(o.type): \(before) → \(o.records.joined(separator: ", ")) (ttl \(o.ttl))"
            + (o.confirmedAfterMillis.map { "; served after \(DurationText.format(.milliseconds($0)))" } ?? "")
    }
    public static let summary = "Replaces one record set in a DNS zone (PowerDNS, Route 53, Cloud DNS), then confirms the provider applied it and, with a nameserver, that a DNS query answers the new records."
    public static let observation: String? = "the record set now: when it holds the new records the change is confirmed and taken as done"
    public static let kind = StepKind.compensable
    public static let compensation: String? = "restores the old record set and confirms the nameserver answers it"
    static let zone = Param<ProviderTarget>.target("zone", .dnsZone, "the zone, like \"${runbook.dns.authoritative}\"")
    static let recordName = Param<String>.string("name", "the record name, like recommendations.example.test.")
    static let type = Param<String>.oneOf("type", ["A", "AAAA", "CNAME"], default: "A", "record type")
    static let records = Param<[String]>.stringList("records", "the new record values")
    static let ttl = Param<Int?>.integer("ttl", 1...604_800, "TTL in seconds (default: the old record's, else 60)")
    static let nameserver = Param<String?>.string("nameserver", "an authoritative server to confirm with a DNS query, host:port")
    static let confirmWithin = Param<Duration>.duration("confirmWithin", default: "30s", "how long to wait for the nameserver to answer the change")
    public static let schema = StepSchema(zone, recordName, type, records, ttl, nameserver, confirmWithin)

    let providers: ProviderCatalog
    public init(providers: ProviderCatalog) { self.providers = providers }

    func zoneAPI(_ p: StepParameters, _ ctx: any StepContext) throws -> (String, any DNSZone) {
        let target = try p[Self.zone]
        return (target.provider, try providers.dnsZone(target, ctx))
    }

    func recordType(_ p: StepParameters) throws -> String { try p[Self.type].uppercased() }

    func read(_ api: any DNSZone, _ name: String, _ type: String) async throws -> RecordSet? {
        try await calling("reading \(name) \(type) from \(api.target)") { try await api.read(name: name, type: type) }
    }

    public func execute(_ p: StepParameters, _ ctx: any StepContext) async throws -> Output {
        let (provider, api) = try zoneAPI(p, ctx)
        let type = try recordType(p)
        let name = fqdn(try p[Self.recordName])
        let records = try p[Self.records]
        let before = try await ctx.recordBefore(Snapshot.self) { Snapshot(set: try await read(api, name, type)) }
        let ttl = try p[Self.ttl] ?? before.set?.ttl ?? 60
        let wanted = RecordSet(ttl: ttl, records: records)
        // Read right before the change, then the proof, then nothing else before the write:
        // a provider that compares and swaps refuses if the set moved since this read.
        let current = try await read(api, name, type)
        let proof = try await ctx.proof()
        try await calling("replacing \(name) \(type) at \(api.target)") { try await api.replace(name: name, type: type, with: wanted, replacing: current, proof) }
        try await ctx.note("\(name) \(type) \(before.set?.records.joined(separator: ",") ?? "(none)") -> \(records.joined(separator: ",")) at \(api.target)")
        let confirmed: Int64?
        do {
            confirmed = try await confirm(p, name: name, type: type, wanted.records, api: api, ctx)
        } catch let error as StepError {
            // Not confirmed: put the old records back, since a failed step is not compensated.
            // A read that fails skips the clean-up (the change stays; the error says what failed).
            if let now = try? await Optional(read(api, name, type)), let proof = try? await ctx.proof() {
                if let old = before.set {
                    try? await api.replace(name: name, type: type, with: old, replacing: now, proof)
                } else if let now {
                    try? await api.delete(name: name, type: type, current: now, proof)
                }
            }
            try? await ctx.note("\(name) \(type) set back to \(before.set?.records.joined(separator: ",") ?? "(none)") after the change was not confirmed")
            throw error
        }
        return Output(provider: provider, name: name, type: type, previous: before.set, records: records, ttl: ttl, confirmedAfterMillis: confirmed)
    }

    /// The record set as the zone serves it now, and what the nameserver answers for it.
    public func preflight(_ p: StepParameters, _ ctx: any StepContext) async throws -> String? {
        let (_, api) = try zoneAPI(p, ctx)
        let type = try recordType(p)
        let name = fqdn(try p[Self.recordName])
        let set = try await read(api, name, type)
        var line = "\(name) \(type) is \(set.map { "\($0.records.joined(separator: ",")) (TTL \($0.ttl))" } ?? "not set")"
        if let ns = try p[Self.nameserver] {
            guard let query = DNSQuery(address: ns), let qtype = DNSQuery.RecordType(name: type) else {
                throw StepError.badParameters("nameserver: expected host:port, got \"\(ns)\"")
            }
            let answer = try await calling("asking \(query.target) for \(name) \(type)") { try await query.ask(name, qtype) }
            line += "; \(query.target) answers \(answer.records.isEmpty ? "nothing" : answer.records.sorted().joined(separator: ","))"
        }
        return line
    }

    public func observe(_ p: StepParameters, _ ctx: any StepContext) async throws -> Output? {
        guard let before = await ctx.recordedBefore(Snapshot.self) else { return nil }
        let (provider, api) = try zoneAPI(p, ctx)
        let type = try recordType(p)
        let name = fqdn(try p[Self.recordName])
        let records = try p[Self.records]
        let now = try await read(api, name, type)
        guard let now, now.sorted == records.sorted() else { return nil }
        let confirmed = try await confirm(p, name: name, type: type, records, api: api, ctx)
        return Output(provider: provider, name: name, type: type, previous: before.set, records: records, ttl: now.ttl, confirmedAfterMillis: confirmed)
    }

    public func compensate(_ p: StepParameters, _ output: Output, _ ctx: any StepContext) async throws {
        let (_, api) = try zoneAPI(p, ctx)
        let current = try await read(api, output.name, output.type)
        let proof = try await ctx.proof()
        if let previous = output.previous {
            try await calling("restoring \(output.name) \(output.type) at \(api.target)") { try await api.replace(name: output.name, type: output.type, with: previous, replacing: current, proof) }
            try await ctx.note("\(output.name) \(output.type) \(output.records.joined(separator: ",")) -> \(previous.records.joined(separator: ",")) (restored) at \(api.target)")
            _ = try await confirm(p, name: output.name, type: output.type, previous.records, api: api, ctx)
        } else if let current {
            try await calling("deleting \(output.name) \(output.type) at \(api.target)") { try await api.delete(name: output.name, type: output.type, current: current, proof) }
            try await ctx.note("\(output.name) \(output.type) deleted (it did not exist before) at \(api.target)")
            _ = try await confirm(p, name: output.name, type: output.type, [], api: api, ctx)
        }
    }

    /// Asks the nameserver until it answers `records`; returns how long that took.
    func confirm(_ p: StepParameters, name: String, type: String, _ records: [String], api: any DNSZone, _ ctx: any StepContext) async throws -> Int64? {
        let limit = try p[Self.confirmWithin]
        let started = ctx.now()
        let wanted = records.map { type == "CNAME" ? fqdn($0) : $0 }.sorted()
        // The provider's own word first (Route 53 INSYNC, Cloud DNS done: sent to its
        // authoritative servers), then what a resolver is answered, when a nameserver is given.
        try await calling("waiting for \(api.target) to apply the change") { try await api.waitInSync(ctx, within: limit) }
        if let ns = try p[Self.nameserver] {
            guard let query = DNSQuery(address: ns), let qtype = DNSQuery.RecordType(name: type) else {
                throw StepError.badParameters("nameserver: expected host:port, got \"\(ns)\"")
            }
            var last: [String]?
            var lastProblem: StepError?
            let ok = try await poll(ctx, every: .milliseconds(100), until: started.adding(limit)) { () async throws -> Bool? in
                do {
                    let answer = try await calling("asking \(query.target) for \(name) \(type)") { try await query.ask(name, qtype) }
                    last = answer.records.sorted()
                    return last == wanted ? true : nil
                } catch let e as StepError where e.retryable {
                    // A lost packet or a server restarting is asked again until the deadline:
                    // only a wrong answer, or no answer in all that time, fails the change.
                    lastProblem = e
                    return nil
                }
            }
            guard ok != nil else {
                let got = last.map { $0.isEmpty ? "nothing" : $0.joined(separator: ",") }
                let answered = got.map { "still answers \(name) \(type) with \($0)" } ?? "gave no answer for \(name) \(type) (\(lastProblem?.message ?? "none"))"
                throw StepError(code: "dns-not-confirmed", message: "\(query.target) \(answered) \(DurationText.format(limit)) after the change, expected \(wanted.isEmpty ? "nothing" : wanted.joined(separator: ","))", retryable: true)
            }
            try await ctx.note("\(query.target) answers \(name) \(type) \(wanted.isEmpty ? "nothing" : wanted.joined(separator: ",")) after \(millis(since: started, ctx))ms")
        } else {
            let now = try await calling("reading \(name) \(type) back from \(api.target)") { try await api.read(name: name, type: type) }
            guard (now?.records.sorted() ?? []) == records.sorted() else {
                throw StepError(code: "dns-not-confirmed", message: "\(api.target) reads \(name) \(type) back as \(now?.records.joined(separator: ",") ?? "nothing"), expected \(records.joined(separator: ","))", retryable: true)
            }
        }
        return millis(since: started, ctx)
    }

    /// The before-state: the record set, or nothing.
    struct Snapshot: Codable, Sendable {
        var set: RecordSet?
    }
}
