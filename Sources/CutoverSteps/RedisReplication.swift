import CutoverCore
import CutoverProviders
import Foundation

/// A replica's state as the before-state and messages of the replication steps keep it.
extension ReplicaState {
    /// `primary of nobody`, `replica of 127.0.0.1:16379`.
    var summary: String { role == .primary ? "primary" : "replica of \(following ?? "an unknown primary")" }
}

func state(of node: any Replica, doing what: String) async throws -> ReplicaState {
    try await calling(what) { try await node.state() }
}

/// `replication.check`: the DR replica's link to the primary is up, and a write on the primary
/// shows on the replica within the runbook's RPO. The write is one heartbeat key.
public struct ReplicationCheck: StepType {
    public struct Output: Codable, Sendable, Equatable {
        public var linkUp: Bool
        /// Time for a write on the primary to be readable on the replica.
        public var lagMillis: Int64
        /// Replication bytes the replica was behind when looked at.
        public var offsetBehind: Int64?
        public var rpoMillis: Int64
    }

    public static let name = "replication.check"
    public static let summary = "Checks that the DR replica follows the primary with its link up, and that a heartbeat written on the primary shows on the replica within the RPO (the heartbeat key is its only write)."
    public static let kind = StepKind.check
    static let primary = Param<ProviderTarget>.target("primary", .replica, "the primary, like \"${runbook.primary.redis}\"")
    static let replica = Param<ProviderTarget>.target("replica", .replica, "the DR replica, like \"${runbook.dr.redis}\"")
    static let rpo = Param<Duration>.duration("rpo", "the most lag the runbook accepts")
    static let heartbeatKey = Param<String>.string("heartbeatKey", default: "cutover:heartbeat", "the key written to measure lag")
    public static let schema = StepSchema(primary, replica, rpo, heartbeatKey)

    let providers: ProviderCatalog
    public init(providers: ProviderCatalog) { self.providers = providers }

    /// The replica's state, once it is shown to follow with its link up, and how many bytes
    /// of replication it is behind the primary (when both say).
    static func following(_ replica: any Replica, _ primary: any Replica) async throws -> (ReplicaState, Int64?) {
        let info = try await state(of: replica, doing: "reading replication of the DR replica")
        guard info.role == .replica else {
            throw StepError(code: "not-a-replica", message: "\(replica.target) is a primary, not a replica; DR is not following the primary", retryable: false)
        }
        guard info.linkUp else {
            throw StepError(code: "link-down", message: "\(replica.target): replication link to \(info.following ?? "its primary") is down (last contact \(info.secondsSinceContact.map { "\($0)s ago" } ?? "unknown"))", retryable: true)
        }
        let primaryInfo = try await state(of: primary, doing: "reading replication of the primary")
        return (info, primaryInfo.offset.flatMap { po in info.offset.map { max(0, po - $0) } })
    }

    /// The reads of `execute` without its heartbeat write (preflight writes nothing): the
    /// replica follows with its link up, and how far behind it is; the lag against the RPO is
    /// measured when the run starts.
    public func preflight(_ p: StepParameters, _ ctx: any StepContext) async throws -> String? {
        let primary = try providers.replica(try p[Self.primary], ctx)
        let replica = try providers.replica(try p[Self.replica], ctx)
        let (info, behind) = try await Self.following(replica, primary)
        let contact = info.secondsSinceContact.map { ", last contact \($0)s ago" } ?? ""
        return "\(info.summary), link up\(contact)\(behind.map { ", \($0) bytes behind" } ?? ""); the lag against the RPO is measured with a heartbeat write when the run starts"
    }

    public func execute(_ p: StepParameters, _ ctx: any StepContext) async throws -> Output {
        let rpo = try p[Self.rpo]
        let primary = try providers.replica(try p[Self.primary], ctx)
        let replica = try providers.replica(try p[Self.replica], ctx)
        let (_, behind) = try await Self.following(replica, primary)
        let key = try p[Self.heartbeatKey]
        let token = "\(ctx.runID)/\(ctx.stepID)/\(ctx.attempt)/\(Int64(ctx.now().timeIntervalSince1970 * 1_000))"
        let started = ctx.now()
        let previous = try await calling("reading the heartbeat on the primary") { try await primary.readMarker(key: key) }
        let proof = try await ctx.proof()
        let written = try await calling("writing the heartbeat on the primary") { try await primary.writeMarker(key: key, value: token, replacing: previous, proof) }
        guard written else {
            // Someone wrote the key between our read and our write: another check (another
            // driver, or a person) is measuring on it too, and our reading would be theirs.
            throw StepError(code: "heartbeat-contended", message: "\(key) on \(primary.target) changed between reading and writing it; another check is using the key. Trying again", retryable: true)
        }
        let seen = try await poll(ctx, every: .milliseconds(20), until: started.adding(rpo)) { () async throws -> Bool? in
            let got = try await calling("reading the heartbeat on the replica") { try await replica.readMarker(key: key) }
            return got == token ? true : nil
        }
        let lag = millis(since: started, ctx)
        let rpoText = DurationText.format(rpo)
        guard seen != nil else {
            throw StepError(code: "rpo-exceeded", message: "a write on \(primary.target) did not reach \(replica.target) within the RPO of \(rpoText)\(behind.map { " (replica \($0) bytes behind)" } ?? "")", retryable: true)
        }
        try await ctx.note("replication lag \(lag)ms (RPO \(rpoText))\(behind.map { ", \($0) bytes behind" } ?? "")")
        return Output(linkUp: true, lagMillis: lag, offsetBehind: behind, rpoMillis: rpo.milliseconds)
    }
}

/// `writes.enable`: promotes the DR replica, so DR takes writes. A pivot: compensation makes it
/// a replica of the old primary again, discarding writes made on DR since, so it runs only in
/// drills and explicit rollbacks.
public struct WritesEnable: StepType {
    /// The before-state as earlier builds recorded it (Redis's own words), kept readable.
    struct Before: Codable, Sendable {
        var role: String
        var masterHost: String?
        var masterPort: Int?
        var linkUp: Bool
        var secondsSinceMasterIO: Int?
        var offset: Int64?
        var syncing: Bool

        init(_ s: ReplicaState) {
            role = s.role == .primary ? "master" : "replica"
            if let f = s.following, let colon = f.lastIndex(of: ":") {
                masterHost = String(f[..<colon])
                masterPort = Int(f[f.index(after: colon)...])
            }
            linkUp = s.linkUp
            secondsSinceMasterIO = s.secondsSinceContact
            offset = s.offset
            syncing = s.syncing
        }

        var master: String? { masterHost.map { "\($0):\(masterPort ?? 6379)" } }
    }

    public struct Output: Codable, Sendable, Equatable {
        public var previousRole: String
        public var previousMaster: String?
        /// Seconds since the replica last heard from its primary when it was promoted.
        public var secondsSinceMasterIO: Int?
        /// Replication bytes the replica was behind at promotion, when the primary could be asked.
        public var offsetBehind: Int64?
        /// A drill's promotion that could not be undone was proved possible, not made.
        public var rehearsed: Bool?
        public var replica: String?
    }

    public static let name = "writes.enable"

    public static func change(_ o: Output) -> String? {
        let who = o.replica ?? "the replica"
        if o.rehearsed == true { return "\(who): \(o.previousRole), promotion rehearsed, not made (still \(o.previousRole))" }
        return "\(who): \(o.previousRole)\(o.previousMaster.map { " of \($0)" } ?? "") → primary, taking writes"
            + (o.offsetBehind.map { "; \($0) bytes behind at promotion" } ?? "")
    }
    public static let summary = "Promotes the DR replica so DR takes writes: the pivot. A drill proves a promotion that could not be undone possible instead of making it."
    public static let observation: String? = "the replica's role: a primary now means the promotion landed"
    public static let kind = StepKind.pivot
    public static let compensation: String? = "makes DR a replica of the old primary again, discarding writes made on DR since (drills and explicit rollbacks only)"
    static let replica = Param<ProviderTarget>.target("replica", .replica, "the DR replica to promote, like \"${runbook.dr.redis}\"")
    static let primary = Param<ProviderTarget>.target("primary", .replica, "the primary it follows now, like \"${runbook.primary.redis}\"")
    static let resyncWithin = Param<Duration>.duration("resyncWithin", default: "60s", "how long compensation waits for the resync")
    public static let schema = StepSchema(replica, primary, resyncWithin)

    let providers: ProviderCatalog
    public init(providers: ProviderCatalog) { self.providers = providers }

    /// Whether this run proves the promotion possible instead of making it (a drill, when the
    /// promotion could not be undone).
    static func rehearses(_ replica: any Replica, _ ctx: any StepContext) -> Bool {
        ctx.mode == .drill && !replica.promotionUndoable
    }

    static func promotable(_ replica: any Replica) async throws {
        let problems = try await calling("checking that \(replica.target) can be promoted") { try await replica.promotionProblems() }
        guard problems.isEmpty else {
            throw StepError(code: "not-promotable", message: "\(replica.target) could not be promoted now: \(problems.joined(separator: "; "))", retryable: true)
        }
    }

    /// The replica's role now, and (in a drill that rehearses) that it could be promoted.
    public func preflight(_ p: StepParameters, _ ctx: any StepContext) async throws -> String? {
        let replica = try providers.replica(try p[Self.replica], ctx)
        let now = try await state(of: replica, doing: "reading the role of the DR replica")
        guard now.role == .replica else { return "\(replica.target) is already a primary; the step will find nothing to do" }
        if Self.rehearses(replica, ctx) {
            try await Self.promotable(replica)
            return "\(now.summary), and could be promoted (the drill rehearses it)"
        }
        // A live run promotes without asking (its primary may be the thing that is down, so
        // the replica not streaming is expected): what stands in the way is said, not refused.
        let problems = (try? await replica.promotionProblems()) ?? []
        return "\(now.summary)\(problems.isEmpty ? "" : "; note: \(problems.joined(separator: "; ")) (the run promotes anyway)")"
    }

    public func execute(_ p: StepParameters, _ ctx: any StepContext) async throws -> Output {
        let replica = try providers.replica(try p[Self.replica], ctx)
        let before = try await ctx.recordBefore(Before.self) {
            Before(try await state(of: replica, doing: "reading the role of the DR replica"))
        }
        // The primary may be the thing that is down: the offset gap is best effort.
        var behind: Int64?
        if let primary = try? providers.replica(try p[Self.primary], ctx), let pi = try? await primary.state(), let po = pi.offset, let ro = before.offset {
            behind = max(0, po - ro)
        }
        if Self.rehearses(replica, ctx) && before.role != "master" {
            // A drill rolls back; this promotion could not be: prove it possible instead.
            try await Self.promotable(replica)
            try await ctx.note("drill: \(replica.target) can be promoted (a replica of \(before.master ?? "?"), streaming and replaying, and the role may promote it); the promotion was rehearsed, not made: it cannot be undone without rebuilding the replica")
            return Output(
                previousRole: before.role, previousMaster: before.master, secondsSinceMasterIO: before.secondsSinceMasterIO, offsetBehind: behind,
                rehearsed: true, replica: replica.target)
        }
        // A retry after a promotion that landed late (or a timeout) must not promote again.
        let current = try await state(of: replica, doing: "reading the role of the DR replica")
        if before.role != "master" && current.role != .primary {
            let proof = try await ctx.proof()
            try await calling("promoting the DR replica") { try await replica.promote(proof) }
        }
        let after = try await state(of: replica, doing: "confirming the promotion")
        guard after.role == .primary else {
            throw StepError(code: "not-promoted", message: "\(replica.target) still reports role replica after the promotion", retryable: true)
        }
        try await ctx.note("\(replica.target): \(before.role) of \(before.master ?? "nobody") -> primary (writes enabled)")
        return Output(
            previousRole: before.role, previousMaster: before.master, secondsSinceMasterIO: before.secondsSinceMasterIO, offsetBehind: behind, replica: replica.target)
    }

    public func observe(_ p: StepParameters, _ ctx: any StepContext) async throws -> Output? {
        guard let before = await ctx.recordedBefore(Before.self) else { return nil }
        let replica = try providers.replica(try p[Self.replica], ctx)
        let now = try await state(of: replica, doing: "reading the role of the DR replica")
        guard now.role == .primary else { return nil }
        return Output(
            previousRole: before.role, previousMaster: before.master, secondsSinceMasterIO: before.secondsSinceMasterIO, offsetBehind: nil, replica: replica.target)
    }

    public func compensate(_ p: StepParameters, _ output: Output, _ ctx: any StepContext) async throws {
        guard output.previousRole != "master", output.rehearsed != true else { return }
        let replica = try providers.replica(try p[Self.replica], ctx)
        let master: String
        if let m = output.previousMaster {
            master = m
        } else {
            master = try providers.replica(try p[Self.primary], ctx).address
        }
        if !replica.promotionUndoable {
            // Only a person can turn it back (rewind or rebuild); once they have, the undo is done.
            let now = try await state(of: replica, doing: "reading the role of \(replica.target)")
            if now.role == .replica && now.following == master && now.linkUp {
                try await ctx.note("\(replica.target): a replica of \(master) again (rebuilt by a person)")
                return
            }
        }
        try await ReplicationFollow.point(replica, at: master, within: try p[Self.resyncWithin], ctx)
        try await ctx.note("\(replica.target): replica of \(master) again; writes made on DR since the promotion are discarded")
    }
}
