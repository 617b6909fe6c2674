import CutoverCore
import CutoverNet
import CutoverProviders
import Foundation

/// The safety rules cutover ships, evaluated for a driver right before a guarded step starts.
/// Each only reads: DNS at the runbook's nameserver and the sides' health endpoints, a
/// replica's own state, the log. A target that does not answer means the rule does not hold.
public struct StandardSafetyRules: SafetyEvaluating {
    let http: HTTPClient
    let providers: ProviderCatalog
    let log: any EventStore

    public init(http: HTTPClient, providers: ProviderCatalog, log: any EventStore) {
        self.http = http
        self.providers = providers
        self.log = log
    }

    public func evaluate(_ rule: SafetyRule, before step: PlannedStep, runbook: JSONValue, run: RunState, context: any StepContext, nowMillis: Int64) async -> SafetyFinding {
        do {
            switch rule.kind {
            case .resolvesToServing: return try await serving(rule, runbook)
            case .replicaLag: return try await lag(rule, runbook, context)
            case .changeRate: return try changes(rule, run: run, nowMillis: nowMillis)
            }
        } catch {
            return SafetyFinding(held: false, detail: "could not be looked at: \(error)")
        }
    }

    // MARK: - resolves-to-serving

    /// The name resolves to a side's address, and that side's endpoint answers its health path
    /// with a 2xx.
    private func serving(_ rule: SafetyRule, _ runbook: JSONValue) async throws -> SafetyFinding {
        guard let name = rule.fields["name"]?.stringValue ?? runbook["dns"]?["name"]?.stringValue else {
            return SafetyFinding(held: false, detail: "no name to resolve: give the rule a \"name\" or the runbook a dns.name")
        }
        guard let server = rule.fields["nameserver"]?.stringValue ?? runbook["dns"]?["nameserver"]?.stringValue, let dns = DNSQuery(address: server) else {
            return SafetyFinding(held: false, detail: "no nameserver to ask: give the rule a \"nameserver\" (host:port) or the runbook a dns.nameserver")
        }
        let answer = try await dns.ask(name, .a)
        let sides = ["primary", "dr"].compactMap { side -> (side: String, address: String, endpoint: String?)? in
            guard let address = runbook[side]?["address"]?.stringValue else { return nil }
            return (side, address, runbook[side]?["endpoint"]?.stringValue)
        }
        guard let side = sides.first(where: { answer.records.contains($0.address) }) else {
            let known = sides.map { "\($0.side) \($0.address)" }.joined(separator: ", ")
            let records = answer.records.isEmpty ? "no address" : answer.records.joined(separator: ", ")
            return SafetyFinding(held: false, detail: "\(name) at \(server) resolves to \(records), which is neither side's address (\(known.isEmpty ? "the runbook gives none" : known))")
        }
        guard let endpoint = side.endpoint else {
            return SafetyFinding(held: false, detail: "\(name) resolves to the \(side.side) side (\(side.address)), whose endpoint the runbook does not give")
        }
        let path = rule.fields["healthPath"]?.stringValue ?? "/health"
        let url = endpoint + path
        do {
            let r = try await http.send(HTTPRequest(url: url, connectTimeout: .seconds(3), totalTimeout: .seconds(5), maxResponseBytes: 64 << 10))
            let ok = (200..<300).contains(r.status)
            return SafetyFinding(
                held: ok, detail: "\(name) resolves to the \(side.side) side (\(side.address)), whose \(HTTPRequest.redacted(url)) answers HTTP \(r.status)\(ok ? "" : ": not serving")")
        } catch let e as HTTPError {
            return SafetyFinding(held: false, detail: "\(name) resolves to the \(side.side) side (\(side.address)), which does not answer: \(e)")
        }
    }

    // MARK: - replica-lag

    /// The replica at the runbook path `replica` follows its primary with the link up and
    /// heard from it within the RPO (the rule's `rpo`, else the runbook's).
    private func lag(_ rule: SafetyRule, _ runbook: JSONValue, _ ctx: any StepContext) async throws -> SafetyFinding {
        let path = rule.fields["replica"]?.stringValue ?? ""
        guard var fields = rule.targets(in: runbook).objectValue, let provider = fields.removeValue(forKey: "provider")?.stringValue else {
            return SafetyFinding(held: false, detail: "the runbook has no replica target at \(path)")
        }
        guard let rpo = (rule.fields["rpo"] ?? runbook["thresholds"]?["rpo"])?.stringValue.flatMap(DurationText.parse) else {
            return SafetyFinding(held: false, detail: "no RPO: give the rule an \"rpo\" or the runbook a thresholds.rpo")
        }
        let replica = try providers.replica(ProviderTarget(provider: provider, fields: fields), ctx)
        let state = try await replica.state()
        let limit = DurationText.format(rpo)
        guard state.role == .replica else {
            return SafetyFinding(held: false, detail: "\(path) (\(replica.target)) is a primary, not a replica following one")
        }
        guard state.linkUp else {
            return SafetyFinding(held: false, detail: "\(path) (\(replica.target)): its link to \(state.following ?? "its primary") is down")
        }
        guard let seconds = state.secondsSinceContact else {
            return SafetyFinding(held: false, detail: "\(path) (\(replica.target)) does not say when it last heard from its primary")
        }
        let held = Int64(seconds) * 1_000 <= rpo.milliseconds
        return SafetyFinding(held: held, detail: "\(path) (\(replica.target)) last heard from \(state.following ?? "its primary") \(seconds) s ago, \(held ? "within" : "more than") the RPO of \(limit)")
    }

    // MARK: - change-rate

    /// Changes made in the last `within` by steps of the guarded types (every mutating step
    /// when the rule names none) in the runs of this service, counted from the log: each
    /// success and each compensation is one. The step about to start would make one more, so
    /// the rule holds while fewer than `max` were made.
    private func changes(_ rule: SafetyRule, run: RunState, nowMillis: Int64) throws -> SafetyFinding {
        guard let max = rule.fields["max"]?.intValue, let within = rule.fields["within"]?.stringValue.flatMap(DurationText.parse) else {
            return SafetyFinding(held: false, detail: "the rule needs \"max\" and \"within\"")
        }
        let since = nowMillis - within.milliseconds
        let scope = run.plan?.scope
        var plans: [String: RunStarted?] = [:]
        var counted: [String] = []
        // From the log's end backwards, a chunk at a time, until events are older than the window.
        guard var upper = try log.head()?.seq else { return finding(0, max, within, []) }
        let chunk: Int64 = 2_048
        var older = false
        while upper >= 1, !older {
            let lower = Swift.max(1, upper - chunk + 1)
            var found: [(run: String, step: String, at: Int64)] = []
            try log.forEachRow(from: lower, through: upper) { row in
                if row.atMillis < since {
                    older = true
                    return
                }
                let type = String(decoding: row.type, as: UTF8.self)
                guard type == "StepSucceeded" || type == "CompensationSucceeded" else { return }
                let id = String(decoding: row.runID, as: UTF8.self)
                guard LogStream.isRun(id), let event = try? row.event(knownRun: id), let step = event.body.stepID else { return }
                found.append((id, step, row.atMillis))
            }
            for f in found {
                if plans[f.run] == nil { plans[f.run] = .some(try startOf(f.run)) }
                guard let plan = plans[f.run] ?? nil, plan.scope == scope, let planned = plan.steps.first(where: { $0.id == f.step }) else { continue }
                guard rule.guards(type: planned.type, mutating: planned.isCompensable) else { continue }
                counted.append("\(f.run)/\(f.step)")
            }
            upper = lower - 1
        }
        // Steps of this run in flight (a parallel group's members) are changes under way.
        for record in run.orderedSteps where record.phase == .running {
            guard let planned = run.planned(record.id), rule.guards(type: planned.type, mutating: planned.isCompensable) else { continue }
            counted.append("\(run.runID)/\(record.id) (under way)")
        }
        return finding(counted.count, max, within, counted)
    }

    private func finding(_ count: Int, _ max: Int64, _ within: Duration, _ which: [String]) -> SafetyFinding {
        let held = Int64(count) < max
        let listed = which.prefix(5).joined(separator: ", ") + (which.count > 5 ? ", ..." : "")
        return SafetyFinding(
            held: held,
            detail: "\(count) change\(count == 1 ? "" : "s") in the last \(DurationText.format(within))\(which.isEmpty ? "" : " (\(listed))"), \(held ? "under" : "at or over") the limit of \(max)")
    }

    private func startOf(_ run: String) throws -> RunStarted? {
        guard let first = try log.events(of: run, after: 0).first, case .runStarted(let p) = first.body else { return nil }
        return p
    }
}
