import CutoverCore
import CutoverProviders
import Foundation

/// `alerts.move`: the pager follows the traffic. Silences the alerts of the side given up
/// (`silence`: the labels its alerts carry, like its region) and ends the silences that kept
/// the side now serving quiet while it stood by (`unsilence`), so nobody is paged for the
/// region that was left and everybody is for the one that serves. Compensation ends the
/// silence it made and puts back the ones it ended, as they were (matchers, comment, author,
/// end).
public struct AlertsMove: StepType {
    public struct Before: Codable, Sendable, Equatable {
        /// The silences covering the serving side, as they were before the step.
        public var covering: [Silence]
    }

    public struct Output: Codable, Sendable, Equatable {
        public var silenceID: String
        public var silenced: [String: String]
        /// The silences it ended, to be put back by compensation.
        public var ended: [Silence]
    }

    public static let name = "alerts.move"

    public static func change(_ o: Output) -> String? {
        let matchers = o.silenced.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ", ")
        return "silence \(o.silenceID) over \(matchers)\(o.ended.isEmpty ? "" : "; \(o.ended.count) silence(s) ended")"
    }
    public static let summary = "Silences the alerts of the side traffic left and ends the silences over the side that now serves, on an alert manager: the pager follows the traffic."
    public static let observation: String? = "the silence it made, found by the run and step in its comment"
    public static let kind = StepKind.compensable
    public static let compensation: String? = "ends the silence it made and puts back the silences it ended"
    static let alerts = Param<ProviderTarget>.target("alerts", .alerting, "the alert manager, like \"${runbook.alerts}\"")
    static let silence = Param<JSONValue>.object("silence", "the labels of the alerts to silence (the side given up), like {\"region\": \"${runbook.primary.region}\"}")
    static let unsilence = Param<JSONValue?>.optionalObject("unsilence", "the labels of the side now serving: silences that cover them are ended")
    static let duration = Param<Duration>.duration("for", default: "24h", "how long the silence lasts")
    static let comment = Param<String>.string("comment", default: "traffic moved by cutover", "why, for whoever reads the silence")
    public static let schema = StepSchema(alerts, silence, unsilence, duration, comment)

    let providers: ProviderCatalog
    public init(providers: ProviderCatalog) { self.providers = providers }

    /// Labels from a JSON object of strings.
    static func labels(_ value: JSONValue?, field: String) throws -> [String: String] {
        guard let object = value?.objectValue else { return [:] }
        var out: [String: String] = [:]
        for (k, v) in object {
            guard let s = v.stringValue, !k.isEmpty, !s.isEmpty else { throw StepError.badParameters("\(field).\(k): expected a non-empty label value (a string)") }
            out[k] = s
        }
        return out
    }

    /// What marks the silence this step made, in its comment: the run and the step.
    static func marker(_ ctx: any StepContext) -> String { "[cutover \(ctx.runID)/\(ctx.stepID)]" }

    func read(_ a: any Alerting) async throws -> [Silence] {
        try await calling("listing the silences of \(a.target)") { try await a.activeSilences() }
    }

    /// The silences active now, and how many of them the step would end.
    public func preflight(_ p: StepParameters, _ ctx: any StepContext) async throws -> String? {
        let a = try providers.alerting(try p[Self.alerts], ctx)
        let serving = try Self.labels(try p[Self.unsilence], field: "unsilence")
        let now = try await read(a)
        return "\(now.count) active silences, \(serving.isEmpty ? 0 : now.filter { $0.silences(serving) }.count) of them over the side that will serve"
    }

    public func execute(_ p: StepParameters, _ ctx: any StepContext) async throws -> Output {
        let a = try providers.alerting(try p[Self.alerts], ctx)
        let silenced = try Self.labels(try p[Self.silence], field: "silence")
        guard !silenced.isEmpty else { throw StepError.badParameters("silence: name at least one label, or every alert would be silenced") }
        let serving = try Self.labels(try p[Self.unsilence], field: "unsilence")
        let before = try await ctx.recordBefore(Before.self) {
            Before(covering: serving.isEmpty ? [] : try await read(a).filter { $0.silences(serving) })
        }
        let now = try await read(a)
        let marker = Self.marker(ctx)
        // An earlier attempt's silence (the driver stopped before recording it) is not made twice.
        let id: String
        if let mine = now.first(where: { $0.comment.contains(marker) }), let existing = mine.id {
            id = existing
        } else {
            let ends = ctx.now().adding(try p[Self.duration])
            let s = Silence(
                id: nil, matchers: silenced.sorted { $0.key < $1.key }.map { Silence.Matcher(name: $0.key, value: $0.value) },
                endsAtMillis: Int64((ends.timeIntervalSince1970 * 1_000).rounded()), comment: "\(try p[Self.comment]) \(marker)",
                createdBy: "cutover (\(ctx.startedBy))")
            let proof = try await ctx.proof()
            id = try await calling("silencing alerts at \(a.target)") { try await a.silence(s, proof) }
        }
        try await ctx.note("\(a.target): alerts with \(Self.describe(silenced)) silenced (silence \(id))")
        let stillActive = Set(now.compactMap(\.id))
        // Only what this step ends is put back by compensation: a silence someone else ended
        // meanwhile is not brought back. Each is recorded before it is ended, so an attempt
        // after a crash knows which of the missing ones were its own.
        var ended = await Self.endedByThisStep(before, ctx)
        for s in before.covering {
            guard let sid = s.id, stillActive.contains(sid) else { continue }
            if !ended.contains(where: { $0.id == sid }) { ended.append(s) }
            try await ctx.progress(
                "\(a.target): ending silence \(sid) (\(Self.describe(s)))", key: "ended", data: .array(ended.compactMap(\.id).map { .string($0) }))
            let proof = try await ctx.proof()
            try await calling("ending silence \(sid) at \(a.target)") { try await a.expire(id: sid, proof) }
            try await ctx.note("\(a.target): silence \(sid) (\(Self.describe(s))) ended: \(Self.describe(serving)) pages again")
        }
        return Output(silenceID: id, silenced: silenced, ended: ended)
    }

    /// The silences of `before` an earlier attempt of this step recorded it was ending.
    static func endedByThisStep(_ before: Before, _ ctx: any StepContext) async -> [Silence] {
        let ids = Set((await ctx.recordedProgress()["ended"]?.arrayValue ?? []).compactMap(\.stringValue))
        return before.covering.filter { $0.id.map(ids.contains) ?? false }
    }

    public func observe(_ p: StepParameters, _ ctx: any StepContext) async throws -> Output? {
        guard let before = await ctx.recordedBefore(Before.self) else { return nil }
        let a = try providers.alerting(try p[Self.alerts], ctx)
        let now = try await read(a)
        guard let mine = now.first(where: { $0.comment.contains(Self.marker(ctx)) }), let id = mine.id else { return nil }
        let active = Set(now.compactMap(\.id))
        guard !before.covering.contains(where: { $0.id.map(active.contains) ?? false }) else { return nil }
        return Output(silenceID: id, silenced: try Self.labels(try p[Self.silence], field: "silence"), ended: await Self.endedByThisStep(before, ctx))
    }

    public func compensate(_ p: StepParameters, _ output: Output, _ ctx: any StepContext) async throws {
        let a = try providers.alerting(try p[Self.alerts], ctx)
        var now = try await read(a)
        if now.contains(where: { $0.id == output.silenceID }) {
            let proof = try await ctx.proof()
            try await calling("ending silence \(output.silenceID) at \(a.target)") { try await a.expire(id: output.silenceID, proof) }
            try await ctx.note("\(a.target): silence \(output.silenceID) ended: \(Self.describe(output.silenced)) pages again")
            now = try await read(a)
        }
        let nowMillis = Int64((ctx.now().timeIntervalSince1970 * 1_000).rounded())
        for s in output.ended where s.endsAtMillis > nowMillis {
            // Put back once: a silence equal to it but for its id is already it.
            let same = now.contains { $0.matchers == s.matchers && $0.comment == s.comment && $0.createdBy == s.createdBy && $0.endsAtMillis == s.endsAtMillis }
            if same { continue }
            let proof = try await ctx.proof()
            var again = s
            again.id = nil
            let id = try await calling("putting back silence \(s.id ?? "?") at \(a.target)") { try await a.silence(again, proof) }
            try await ctx.note("\(a.target): silence of \(Self.describe(s)) put back as \(id)")
        }
    }

    static func describe(_ labels: [String: String]) -> String {
        labels.sorted { $0.key < $1.key }.map { "\($0.key)=\(TerminalText.escaped($0.value))" }.joined(separator: ",")
    }

    static func describe(_ s: Silence) -> String {
        s.matchers.map { "\($0.name)\($0.isEqual ? "" : "!")\($0.isRegex ? "=~" : "=")\(TerminalText.escaped($0.value))" }.joined(separator: ",")
    }
}
