import CutoverCore
import CutoverNet
import Foundation

/// A record set as cutover keeps it: enough to put it back exactly.
public struct RecordSet: Codable, Sendable, Equatable {
    public var ttl: Int
    public var records: [String]

    public init(ttl: Int, records: [String]) {
        self.ttl = ttl
        self.records = records
    }

    var sorted: [String] { records.sorted() }
}

/// `dns.switch`: replaces one record set (PowerDNS HTTP API, or Route 53), then confirms the
/// authoritative server answers the new records with a real DNS query. Compensation puts the
/// old record set back (or deletes the record when there was none) and confirms again.
public struct DNSSwitch: StepType {
    public struct Parameters: Codable, Sendable {
        public var provider: String
        public var name: String
        public var type: String?
        public var records: [String]
        public var ttl: Int?
        // PowerDNS
        public var api: String?
        public var apiKey: String?
        public var server: String?
        public var zone: String?
        // Route 53
        public var endpoint: String?
        public var region: String?
        public var accessKey: String?
        public var secretKey: String?
        public var sessionToken: String?
        public var hostedZone: String?
        // Confirmation
        public var nameserver: String?
        public var confirmWithin: String?
    }

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
    public static let kind = StepKind.compensable
    public static let compensation: String? = "restores the old record set and confirms the nameserver answers it"
    public static let parameters = [
        ParameterField("provider", .oneOf(["powerdns", "route53"]), required: true, "where the zone is served from"),
        ParameterField("name", .string, required: true, "the record name, like recommendations.example.test."),
        ParameterField("type", .oneOf(["A", "AAAA", "CNAME"]), "record type (default A)"),
        ParameterField("records", .stringList, required: true, "the new record values"),
        ParameterField("ttl", .integer(min: 1), "TTL in seconds (default: the old record's, else 60)"),
        ParameterField("api", .url, "PowerDNS: the API base, like http://127.0.0.1:8081"),
        ParameterField("apiKey", .secret(literalAllowed: false), "PowerDNS: a reference like env:PDNS_API_KEY"),
        ParameterField("server", .string, "PowerDNS: the server id (default localhost)"),
        ParameterField("zone", .string, "the zone, like example.test. (Route 53: looked up by name when hostedZone is not given)"),
        ParameterField("endpoint", .url, "Route 53: the API endpoint"),
        ParameterField("region", .string, "Route 53: signing region (default us-east-1)"),
        ParameterField("accessKey", .secret(literalAllowed: false), "Route 53: a reference like env:AWS_ACCESS_KEY_ID"),
        ParameterField("secretKey", .secret(literalAllowed: false), "Route 53: a reference like env:AWS_SECRET_ACCESS_KEY"),
        ParameterField("sessionToken", .secret(literalAllowed: false), "Route 53: a reference for temporary credentials"),
        ParameterField("hostedZone", .string, "Route 53: the hosted zone id"),
        ParameterField("nameserver", .string, "an authoritative server to confirm with a DNS query, host:port"),
        ParameterField("confirmWithin", .duration, "how long to wait for the nameserver to answer the change (default 30s)"),
    ]

    let http: HTTPClient
    public init(http: HTTPClient) { self.http = http }

    func zoneAPI(_ p: Parameters, _ ctx: any StepContext) throws -> any DNSZoneAPI {
        func need(_ v: String?, _ field: String) throws -> String {
            guard let v, !v.isEmpty else { throw StepError.badParameters("dns.switch with provider \(p.provider) needs \(field)") }
            return v
        }
        switch p.provider {
        case "powerdns":
            return PowerDNSZone(
                http: http, api: try need(p.api, "api"), apiKey: try ctx.secret(try need(p.apiKey, "apiKey")),
                server: p.server ?? "localhost", zone: try need(p.zone, "zone"))
        case "route53":
            let aws = try AWSAccess.client(
                service: "route53", endpoint: try need(p.endpoint, "endpoint"), region: p.region ?? "us-east-1",
                accessKey: try need(p.accessKey, "accessKey"), secretKey: try need(p.secretKey, "secretKey"),
                sessionToken: p.sessionToken, ctx: ctx, http: http)
            guard p.hostedZone != nil || p.zone != nil else { throw StepError.badParameters("dns.switch with provider route53 needs hostedZone (an id) or zone (a name)") }
            return Route53Zone(aws: aws, hostedZone: p.hostedZone, zoneName: p.zone.map(fqdn))
        default:
            throw StepError.badParameters("provider: expected powerdns or route53, got \(p.provider)")
        }
    }

    func recordType(_ p: Parameters) -> String { (p.type ?? "A").uppercased() }

    public func execute(_ p: Parameters, _ ctx: any StepContext) async throws -> Output {
        let api = try zoneAPI(p, ctx)
        let type = recordType(p)
        let name = fqdn(p.name)
        let before = try await ctx.recordBefore(Snapshot.self) {
            Snapshot(set: try await calling("reading \(name) \(type) from \(api.target)") { try await api.read(name: name, type: type) })
        }
        let ttl = p.ttl ?? before.set?.ttl ?? 60
        let wanted = RecordSet(ttl: ttl, records: p.records)
        try await calling("replacing \(name) \(type) at \(api.target)") { try await api.replace(name: name, type: type, with: wanted) }
        try await ctx.note("\(name) \(type) \(before.set?.records.joined(separator: ",") ?? "(none)") -> \(p.records.joined(separator: ",")) at \(api.target)")
        let confirmed: Int64?
        do {
            confirmed = try await confirm(p, name: name, type: type, wanted.records, api: api, ctx)
        } catch let error as StepError {
            // Not confirmed: put the old records back, since a failed step is not compensated.
            if let old = before.set {
                try? await api.replace(name: name, type: type, with: old)
            } else {
                try? await api.delete(name: name, type: type, current: wanted)
            }
            try? await ctx.note("\(name) \(type) set back to \(before.set?.records.joined(separator: ",") ?? "(none)") after the change was not confirmed")
            throw error
        }
        return Output(provider: p.provider, name: name, type: type, previous: before.set, records: p.records, ttl: ttl, confirmedAfterMillis: confirmed)
    }

    public func observe(_ p: Parameters, _ ctx: any StepContext) async throws -> Output? {
        guard let before = await ctx.recordedBefore(Snapshot.self) else { return nil }
        let api = try zoneAPI(p, ctx)
        let type = recordType(p)
        let name = fqdn(p.name)
        let now = try await calling("reading \(name) \(type) from \(api.target)") { try await api.read(name: name, type: type) }
        guard let now, now.sorted == p.records.sorted() else { return nil }
        let confirmed = try await confirm(p, name: name, type: type, p.records, api: api, ctx)
        return Output(provider: p.provider, name: name, type: type, previous: before.set, records: p.records, ttl: now.ttl, confirmedAfterMillis: confirmed)
    }

    public func compensate(_ p: Parameters, _ output: Output, _ ctx: any StepContext) async throws {
        let api = try zoneAPI(p, ctx)
        if let previous = output.previous {
            try await calling("restoring \(output.name) \(output.type) at \(api.target)") { try await api.replace(name: output.name, type: output.type, with: previous) }
            try await ctx.note("\(output.name) \(output.type) \(output.records.joined(separator: ",")) -> \(previous.records.joined(separator: ",")) (restored) at \(api.target)")
            _ = try await confirm(p, name: output.name, type: output.type, previous.records, api: api, ctx)
        } else {
            try await calling("deleting \(output.name) \(output.type) at \(api.target)") { try await api.delete(name: output.name, type: output.type, current: RecordSet(ttl: output.ttl, records: output.records)) }
            try await ctx.note("\(output.name) \(output.type) deleted (it did not exist before) at \(api.target)")
            _ = try await confirm(p, name: output.name, type: output.type, [], api: api, ctx)
        }
    }

    /// Asks the nameserver until it answers `records`; returns how long that took.
    func confirm(_ p: Parameters, name: String, type: String, _ records: [String], api: any DNSZoneAPI, _ ctx: any StepContext) async throws -> Int64? {
        let limit = try duration(p.confirmWithin ?? "30s", field: "confirmWithin")
        let started = ctx.now()
        let wanted = records.map { type == "CNAME" ? fqdn($0) : $0 }.sorted()
        if let ns = p.nameserver {
            guard let query = DNSQuery(address: ns), let qtype = DNSQuery.RecordType(name: type) else {
                throw StepError.badParameters("nameserver: expected host:port, got \"\(ns)\"")
            }
            var last: [String] = []
            let ok = try await poll(ctx, every: .milliseconds(100), until: started.adding(limit)) { () async throws -> Bool? in
                let answer = try await calling("asking \(query.target) for \(name) \(type)") { try await query.ask(name, qtype) }
                last = answer.records.sorted()
                return last == wanted ? true : nil
            }
            guard ok != nil else {
                throw StepError(code: "dns-not-confirmed", message: "\(query.target) still answers \(name) \(type) with \(last.isEmpty ? "nothing" : last.joined(separator: ",")) \(DurationText.format(limit)) after the change, expected \(wanted.isEmpty ? "nothing" : wanted.joined(separator: ","))", retryable: true)
            }
            try await ctx.note("\(query.target) answers \(name) \(type) \(wanted.isEmpty ? "nothing" : wanted.joined(separator: ",")) after \(millis(since: started, ctx))ms")
        } else {
            try await calling("waiting for \(api.target) to apply the change") { try await api.waitInSync(ctx, within: limit) }
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

func fqdn(_ name: String) -> String { name.hasSuffix(".") ? name : name + "." }

/// One DNS provider's view of a zone.
protocol DNSZoneAPI: Sendable {
    var target: String { get }
    func read(name: String, type: String) async throws -> RecordSet?
    func replace(name: String, type: String, with set: RecordSet) async throws
    func delete(name: String, type: String, current: RecordSet) async throws
    /// Waits until the provider says the last change is live everywhere it serves.
    func waitInSync(_ ctx: any StepContext, within: Duration) async throws
}
