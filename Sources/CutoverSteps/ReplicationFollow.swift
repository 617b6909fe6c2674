import CutoverCore
import CutoverNet
import Foundation

/// `replication.follow`: makes a Redis node a replica of another and waits until it is in
/// sync (a failback first makes the returning primary follow DR). Compensation gives the node
/// back the role it had: primary again, or a replica of what it followed.
public struct ReplicationFollow: StepType {
    public struct Parameters: Codable, Sendable {
        public var node: String
        public var of: String
        public var password: String?
        public var syncWithin: String?
    }

    public struct Output: Codable, Sendable, Equatable {
        public var previousRole: String
        public var previousMaster: String?
        public var syncedAfterMillis: Int64
    }

    public static let name = "replication.follow"
    public static let kind = StepKind.compensable
    public static let compensation: String? = "gives the node back its old role (primary, or a replica of what it followed)"
    public static let parameters = [
        ParameterField("node", .string, required: true, "the node that will follow, redis://host:port"),
        ParameterField("of", .string, required: true, "the node to follow, redis://host:port"),
        ParameterField("password", .secret(literalAllowed: false), "a reference like env:REDIS_PASSWORD"),
        ParameterField("syncWithin", .duration, "how long to wait for the sync (default 60s)"),
    ]

    public init() {}

    func hostPort(_ url: String, field: String) throws -> (String, String) {
        guard let c = RedisClient(url: url) else { throw StepError.badParameters("\(field): expected redis://host:port, got \"\(url)\"") }
        return (c.host, String(c.port))
    }

    /// Points `node` at `master` (nil: make it a primary) and waits for the link when following.
    static func point(_ node: RedisClient, at master: (String, String)?, within limit: Duration, _ ctx: any StepContext) async throws {
        let args = master.map { ["REPLICAOF", $0.0, $0.1] } ?? ["REPLICAOF", "NO", "ONE"]
        let reply = try await calling("sending \(args.joined(separator: " ")) to \(node.target)") { try await node.run([args])[0] }
        if case .error(let e) = reply {
            throw StepError(code: "redis-server", message: "\(node.target) refused \(args.joined(separator: " ")): \(e)", retryable: true)
        }
        guard master != nil else { return }
        let synced = try await poll(ctx, every: .milliseconds(100), until: ctx.now().adding(limit)) { () async throws -> Bool? in
            let i = try await ReplicationInfo.read(node, doing: "waiting for \(node.target) to sync")
            return i.role == "replica" && i.linkUp && !i.syncing ? true : nil
        }
        guard synced != nil else {
            throw StepError(code: "sync-timeout", message: "\(node.target) did not finish syncing from \(master!.0):\(master!.1) within \(DurationText.format(limit))", retryable: true)
        }
    }

    public func execute(_ p: Parameters, _ ctx: any StepContext) async throws -> Output {
        let node = try redis(p.node, password: p.password, field: "node", ctx: ctx)
        let master = try hostPort(p.of, field: "of")
        let before = try await ctx.recordBefore(ReplicationInfo.self) {
            try await ReplicationInfo.read(node, doing: "reading the role of \(node.target)")
        }
        let started = ctx.now()
        try await Self.point(node, at: master, within: try duration(p.syncWithin ?? "60s", field: "syncWithin"), ctx)
        let took = millis(since: started, ctx)
        try await ctx.note("\(node.target): \(before.role) -> replica of \(master.0):\(master.1), in sync after \(took)ms")
        return Output(previousRole: before.role, previousMaster: before.master, syncedAfterMillis: took)
    }

    public func observe(_ p: Parameters, _ ctx: any StepContext) async throws -> Output? {
        guard let before = await ctx.recordedBefore(ReplicationInfo.self) else { return nil }
        let node = try redis(p.node, password: p.password, field: "node", ctx: ctx)
        let master = try hostPort(p.of, field: "of")
        let now = try await ReplicationInfo.read(node, doing: "reading the role of \(node.target)")
        guard now.role == "replica", now.master == "\(master.0):\(master.1)", now.linkUp, !now.syncing else { return nil }
        return Output(previousRole: before.role, previousMaster: before.master, syncedAfterMillis: 0)
    }

    public func compensate(_ p: Parameters, _ output: Output, _ ctx: any StepContext) async throws {
        let node = try redis(p.node, password: p.password, field: "node", ctx: ctx)
        var master: (String, String)?
        if output.previousRole != "master", let m = output.previousMaster {
            let parts = m.split(separator: ":")
            master = (String(parts[0]), String(parts.count > 1 ? parts[1] : "6379"))
        }
        try await Self.point(node, at: master, within: try duration(p.syncWithin ?? "60s", field: "syncWithin"), ctx)
        try await ctx.note("\(node.target): back to \(master.map { "replica of \($0.0):\($0.1)" } ?? "primary")")
    }
}
