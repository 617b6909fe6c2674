import CutoverCore
import CutoverNet
import Foundation

/// What `INFO replication` says about one Redis node.
struct ReplicationInfo: Codable, Sendable, Equatable {
    var role: String
    var masterHost: String?
    var masterPort: Int?
    var linkUp: Bool
    var secondsSinceMasterIO: Int?
    var offset: Int64?
    var syncing: Bool

    init(_ f: [String: String], target: String) throws {
        guard let role = f["role"] else {
            throw StepError(code: "redis-garbage", message: "\(target): INFO replication has no role", retryable: true)
        }
        self.role = role == "slave" ? "replica" : role
        masterHost = f["master_host"]
        masterPort = f["master_port"].flatMap { Int($0) }
        linkUp = f["master_link_status"] == "up"
        secondsSinceMasterIO = f["master_last_io_seconds_ago"].flatMap { Int($0) }.flatMap { $0 >= 0 ? $0 : nil }
        offset = (role == "master" ? f["master_repl_offset"] : f["slave_repl_offset"]).flatMap { Int64($0) }
        syncing = f["master_sync_in_progress"] == "1"
    }

    static func read(_ client: RedisClient, doing what: String) async throws -> ReplicationInfo {
        let fields = try await calling(what) { try await client.info("replication") }
        return try ReplicationInfo(fields, target: client.target)
    }

    var master: String? { masterHost.map { "\($0):\(masterPort ?? 6379)" } }
}

/// `replication.check`: the DR replica's link to the primary is up, and a write on the primary
/// shows on the replica within the runbook's RPO. The write is one heartbeat key.
public struct ReplicationCheck: StepType {
    public struct Parameters: Codable, Sendable {
        public var primary: String
        public var replica: String
        public var rpo: String
        public var password: String?
        public var heartbeatKey: String?
    }

    public struct Output: Codable, Sendable, Equatable {
        public var linkUp: Bool
        /// Time for a write on the primary to be readable on the replica.
        public var lagMillis: Int64
        /// Replication bytes the replica was behind when looked at.
        public var offsetBehind: Int64?
        public var rpoMillis: Int64
    }

    public static let name = "replication.check"
    public static let kind = StepKind.check
    public static let parameters = [
        ParameterField("primary", .string, required: true, "the primary, redis://host:port"),
        ParameterField("replica", .string, required: true, "the DR replica, redis://host:port"),
        ParameterField("rpo", .duration, required: true, "the most lag the runbook accepts"),
        ParameterField("password", .secret(literalAllowed: false), "a reference like env:REDIS_PASSWORD"),
        ParameterField("heartbeatKey", .string, "the key written to measure lag (default cutover:heartbeat)"),
    ]

    public init() {}

    public func execute(_ p: Parameters, _ ctx: any StepContext) async throws -> Output {
        let rpo = try duration(p.rpo, field: "rpo")
        let primary = try redis(p.primary, password: p.password, field: "primary", ctx: ctx)
        let replica = try redis(p.replica, password: p.password, field: "replica", ctx: ctx)
        let info = try await ReplicationInfo.read(replica, doing: "reading replication of the DR replica")
        guard info.role == "replica" else {
            throw StepError(code: "not-a-replica", message: "\(replica.target) is a \(info.role), not a replica; DR is not following the primary", retryable: false)
        }
        guard info.linkUp else {
            throw StepError(code: "link-down", message: "\(replica.target): replication link to \(info.master ?? "its primary") is down (last contact \(info.secondsSinceMasterIO.map { "\($0)s ago" } ?? "unknown"))", retryable: true)
        }
        let primaryInfo = try await ReplicationInfo.read(primary, doing: "reading replication of the primary")
        let behind = primaryInfo.offset.flatMap { po in info.offset.map { max(0, po - $0) } }
        let key = p.heartbeatKey ?? "cutover:heartbeat"
        let token = "\(ctx.runID)/\(ctx.stepID)/\(ctx.attempt)/\(Int64(ctx.now().timeIntervalSince1970 * 1_000))"
        let started = ctx.now()
        let set = try await calling("writing the heartbeat on the primary") { try await primary.command("SET", key, token) }
        if case .error(let e) = set {
            throw StepError(code: "redis-server", message: "\(primary.target) refused the heartbeat write: \(e)", retryable: true)
        }
        let seen = try await poll(ctx, every: .milliseconds(20), until: started.adding(rpo)) { () async throws -> Bool? in
            let got = try await calling("reading the heartbeat on the replica") { try await replica.command("GET", key) }
            return got.text == token ? true : nil
        }
        let lag = millis(since: started, ctx)
        guard seen != nil else {
            throw StepError(code: "rpo-exceeded", message: "a write on \(primary.target) did not reach \(replica.target) within the RPO of \(p.rpo)\(behind.map { " (replica \($0) bytes behind)" } ?? "")", retryable: true)
        }
        try await ctx.note("replication lag \(lag)ms (RPO \(p.rpo))\(behind.map { ", \($0) bytes behind" } ?? "")")
        return Output(linkUp: true, lagMillis: lag, offsetBehind: behind, rpoMillis: rpo.milliseconds)
    }
}

/// `writes.enable`: promotes the DR replica (`REPLICAOF NO ONE`), so DR takes writes. A pivot:
/// compensation makes it a replica of the old primary again, discarding writes made on DR
/// since, so it runs only in drills and explicit rollbacks.
public struct WritesEnable: StepType {
    public struct Parameters: Codable, Sendable {
        public var replica: String
        public var primary: String
        public var password: String?
        public var resyncWithin: String?
    }

    public struct Output: Codable, Sendable, Equatable {
        public var previousRole: String
        public var previousMaster: String?
        /// Seconds since the replica last heard from its primary when it was promoted.
        public var secondsSinceMasterIO: Int?
        /// Replication bytes the replica was behind at promotion, when the primary could be asked.
        public var offsetBehind: Int64?
    }

    public static let name = "writes.enable"
    public static let kind = StepKind.pivot
    public static let compensation: String? = "makes DR a replica of the old primary again, discarding writes made on DR since (drills and explicit rollbacks only)"
    public static let parameters = [
        ParameterField("replica", .string, required: true, "the DR replica to promote, redis://host:port"),
        ParameterField("primary", .string, required: true, "the primary it follows now, redis://host:port"),
        ParameterField("password", .secret(literalAllowed: false), "a reference like env:REDIS_PASSWORD"),
        ParameterField("resyncWithin", .duration, "how long compensation waits for the resync (default 60s)"),
    ]

    public init() {}

    public func execute(_ p: Parameters, _ ctx: any StepContext) async throws -> Output {
        let replica = try redis(p.replica, password: p.password, field: "replica", ctx: ctx)
        let before = try await ctx.recordBefore(ReplicationInfo.self) {
            try await ReplicationInfo.read(replica, doing: "reading the role of the DR replica")
        }
        // The primary may be the thing that is down: the offset gap is best effort.
        var behind: Int64?
        if let primary = try? redis(p.primary, password: p.password, field: "primary", ctx: ctx),
            let pi = try? await ReplicationInfo.read(primary, doing: ""), let po = pi.offset, let ro = before.offset {
            behind = max(0, po - ro)
        }
        if before.role != "master" {
            let reply = try await calling("promoting the DR replica") { try await replica.command("REPLICAOF", "NO", "ONE") }
            if case .error(let e) = reply {
                throw StepError(code: "redis-server", message: "\(replica.target) refused REPLICAOF NO ONE: \(e)", retryable: true)
            }
        }
        let after = try await ReplicationInfo.read(replica, doing: "confirming the promotion")
        guard after.role == "master" else {
            throw StepError(code: "not-promoted", message: "\(replica.target) still reports role \(after.role) after REPLICAOF NO ONE", retryable: true)
        }
        try await ctx.note("\(replica.target): \(before.role) of \(before.master ?? "nobody") -> primary (writes enabled)")
        return Output(previousRole: before.role, previousMaster: before.master, secondsSinceMasterIO: before.secondsSinceMasterIO, offsetBehind: behind)
    }

    public func observe(_ p: Parameters, _ ctx: any StepContext) async throws -> Output? {
        guard let before = await ctx.recordedBefore(ReplicationInfo.self) else { return nil }
        let replica = try redis(p.replica, password: p.password, field: "replica", ctx: ctx)
        let now = try await ReplicationInfo.read(replica, doing: "reading the role of the DR replica")
        guard now.role == "master" else { return nil }
        return Output(previousRole: before.role, previousMaster: before.master, secondsSinceMasterIO: before.secondsSinceMasterIO, offsetBehind: nil)
    }

    public func compensate(_ p: Parameters, _ output: Output, _ ctx: any StepContext) async throws {
        guard output.previousRole != "master" else { return }
        let replica = try redis(p.replica, password: p.password, field: "replica", ctx: ctx)
        let master = output.previousMaster ?? String(p.primary.dropFirst("redis://".count))
        let parts = master.split(separator: ":")
        guard parts.count == 2 else { throw StepError.badParameters("cannot tell the old primary's host and port from \"\(master)\"") }
        let limit = try duration(p.resyncWithin ?? "60s", field: "resyncWithin")
        try await ReplicationFollow.point(replica, at: (String(parts[0]), String(parts[1])), within: limit, ctx)
        try await ctx.note("\(replica.target): replica of \(master) again; writes made on DR since the promotion are discarded")
    }
}
