import CutoverCore
import CutoverProviders
import Foundation

/// `replication.follow`: makes a node a replica of another and waits until it is in sync (a
/// failback first makes the returning primary follow DR). Compensation gives the node back
/// the role it had: primary again, or a replica of what it followed.
public struct ReplicationFollow: StepType {
    public struct Output: Codable, Sendable, Equatable {
        public var previousRole: String
        public var previousMaster: String?
        public var syncedAfterMillis: Int64
    }

    public static let name = "replication.follow"

    public static func change(_ o: Output) -> String? {
        "\(o.previousRole)\(o.previousMaster.map { " of \($0)" } ?? "") → replica, in sync after \(DurationText.format(.milliseconds(o.syncedAfterMillis)))"
    }
    public static let summary = "Makes a node a replica of another and waits until it is in sync (a failback first makes the returning primary follow DR)."
    public static let observation: String? = "the node's role: a replica of the node to follow, in sync, means it is done"
    public static let kind = StepKind.compensable
    public static let compensation: String? = "gives the node back its old role (primary, or a replica of what it followed)"
    static let node = Param<ProviderTarget>.target("node", .replica, "the node that will follow, like \"${runbook.primary.redis}\"")
    static let of = Param<ProviderTarget>.target("of", .replica, "the node to follow, like \"${runbook.dr.redis}\"")
    static let syncWithin = Param<Duration>.duration("syncWithin", default: "60s", "how long to wait for the sync")
    public static let schema = StepSchema(node, of, syncWithin)

    let providers: ProviderCatalog
    public init(providers: ProviderCatalog) { self.providers = providers }

    /// Points `node` at `master` (nil: make it a primary) and waits for the link when following.
    static func point(_ node: any Replica, at master: String?, within limit: Duration, _ ctx: any StepContext) async throws {
        let proof = try await ctx.proof()
        if let master {
            try await calling("making \(node.target) a replica of \(master)") { try await node.follow(master, proof) }
        } else {
            try await calling("making \(node.target) a primary") { try await node.promote(proof) }
            return
        }
        let synced = try await poll(ctx, every: .milliseconds(100), until: ctx.now().adding(limit)) { () async throws -> Bool? in
            let s = try await state(of: node, doing: "waiting for \(node.target) to sync")
            return s.role == .replica && s.linkUp && !s.syncing ? true : nil
        }
        guard synced != nil else {
            throw StepError(code: "sync-timeout", message: "\(node.target) did not finish syncing from \(master ?? "?") within \(DurationText.format(limit))", retryable: true)
        }
    }

    /// Both nodes' roles now.
    public func preflight(_ p: StepParameters, _ ctx: any StepContext) async throws -> String? {
        let node = try providers.replica(try p[Self.node], ctx)
        let of = try providers.replica(try p[Self.of], ctx)
        let n = try await state(of: node, doing: "reading the role of \(node.target)")
        let o = try await state(of: of, doing: "reading the role of \(of.target)")
        return "\(node.target) is \(n.summary); \(of.target) is \(o.summary)"
    }

    public func execute(_ p: StepParameters, _ ctx: any StepContext) async throws -> Output {
        let node = try providers.replica(try p[Self.node], ctx)
        let master = try providers.replica(try p[Self.of], ctx).address
        let before = try await ctx.recordBefore(WritesEnable.Before.self) {
            WritesEnable.Before(try await state(of: node, doing: "reading the role of \(node.target)"))
        }
        let started = ctx.now()
        try await Self.point(node, at: master, within: try p[Self.syncWithin], ctx)
        let took = millis(since: started, ctx)
        try await ctx.note("\(node.target): \(before.role) -> replica of \(master), in sync after \(took)ms")
        return Output(previousRole: before.role, previousMaster: before.master, syncedAfterMillis: took)
    }

    public func observe(_ p: StepParameters, _ ctx: any StepContext) async throws -> Output? {
        guard let before = await ctx.recordedBefore(WritesEnable.Before.self) else { return nil }
        let node = try providers.replica(try p[Self.node], ctx)
        let master = try providers.replica(try p[Self.of], ctx).address
        let now = try await state(of: node, doing: "reading the role of \(node.target)")
        guard now.role == .replica, now.following == master, now.linkUp, !now.syncing else { return nil }
        return Output(previousRole: before.role, previousMaster: before.master, syncedAfterMillis: 0)
    }

    public func compensate(_ p: StepParameters, _ output: Output, _ ctx: any StepContext) async throws {
        let node = try providers.replica(try p[Self.node], ctx)
        let master = output.previousRole != "master" ? output.previousMaster : nil
        try await Self.point(node, at: master, within: try p[Self.syncWithin], ctx)
        try await ctx.note("\(node.target): back to \(master.map { "replica of \($0)" } ?? "primary")")
    }
}
