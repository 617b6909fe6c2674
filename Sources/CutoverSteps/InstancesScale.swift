import CutoverCore
import CutoverNet
import Foundation

/// `instances.scale`: sets the desired capacity of the DR GPU group (AWS Auto Scaling) and
/// waits until that many instances are InService. Compensation sets the old capacity back.
public struct InstancesScale: StepType {
    public struct Parameters: Codable, Sendable {
        public var endpoint: String
        public var region: String
        public var accessKey: String
        public var secretKey: String
        public var sessionToken: String?
        public var group: String
        public var capacity: Int
        public var waitFor: String?
        public var pollInterval: String?
    }

    /// What the group looked like before the change.
    public struct Before: Codable, Sendable, Equatable {
        public var desired: Int
        public var min: Int
        public var max: Int
    }

    public struct Output: Codable, Sendable, Equatable {
        public var group: String
        public var previous: Int
        public var capacity: Int
        public var inService: Int
    }

    public static let name = "instances.scale"
    public static let kind = StepKind.compensable
    public static let compensation: String? = "sets the group's desired capacity back to what it was and waits for it"
    public static let parameters = AWSAccess.fields + [
        ParameterField("group", .string, required: true, "the Auto Scaling group name"),
        ParameterField("capacity", .integer(min: 0), required: true, "the desired capacity to reach"),
        ParameterField("waitFor", .duration, "how long to wait for the instances to be InService (default 10m)"),
        ParameterField("pollInterval", .duration, "how often to look (default 2s)"),
    ]

    let http: HTTPClient
    public init(http: HTTPClient) { self.http = http }

    struct Group {
        var desired: Int
        var min: Int
        var max: Int
        var inService: Int
        var total: Int
    }

    func client(_ p: Parameters, _ ctx: any StepContext) throws -> AWSClient {
        try AWSAccess.client(
            service: "autoscaling", endpoint: p.endpoint, region: p.region, accessKey: p.accessKey, secretKey: p.secretKey,
            sessionToken: p.sessionToken, ctx: ctx, http: http)
    }

    func describe(_ aws: AWSClient, _ name: String) async throws -> Group {
        let root = try await calling("describing Auto Scaling group \(name)") {
            try await aws.query(action: "DescribeAutoScalingGroups", version: "2011-01-01", [("AutoScalingGroupNames.member.1", name)])
        }
        guard let list = root.find("AutoScalingGroups") else {
            throw StepError(code: "aws-garbage", message: "\(aws.signer.service): DescribeAutoScalingGroups answered without AutoScalingGroups", retryable: true)
        }
        guard let g = list.all("member").first(where: { $0["AutoScalingGroupName"]?.text == name }) else {
            throw StepError(code: "no-such-group", message: "Auto Scaling group \(name) does not exist in \(aws.signer.region); check the runbook's group name", retryable: false)
        }
        func int(_ field: String) throws -> Int {
            guard let v = g[field]?.text, let n = Int(v) else {
                throw StepError(code: "aws-garbage", message: "DescribeAutoScalingGroups: \(field) of \(name) is not a number", retryable: true)
            }
            return n
        }
        let instances = g["Instances"]?.all("member") ?? []
        let inService = instances.filter { $0["LifecycleState"]?.text == "InService" && ($0["HealthStatus"]?.text ?? "Healthy") == "Healthy" }.count
        return Group(desired: try int("DesiredCapacity"), min: try int("MinSize"), max: try int("MaxSize"), inService: inService, total: instances.count)
    }

    func setCapacity(_ aws: AWSClient, _ name: String, _ capacity: Int) async throws {
        _ = try await calling("setting the desired capacity of \(name) to \(capacity)") {
            try await aws.query(action: "SetDesiredCapacity", version: "2011-01-01", [
                ("AutoScalingGroupName", name), ("DesiredCapacity", String(capacity)), ("HonorCooldown", "false"),
            ])
        }
    }

    /// Waits until exactly `capacity` instances are InService and no others linger.
    func waitFor(_ capacity: Int, _ aws: AWSClient, _ p: Parameters, _ ctx: any StepContext) async throws -> Group {
        let limit = try duration(p.waitFor ?? "10m", field: "waitFor")
        let interval = try duration(p.pollInterval ?? "2s", field: "pollInterval")
        var last: Group?
        let reached = try await poll(ctx, every: interval, until: ctx.now().adding(limit)) { () async throws -> Group? in
            let g = try await describe(aws, p.group)
            last = g
            return g.inService == capacity && g.total == capacity ? g : nil
        }
        guard let reached else {
            throw StepError(
                code: "capacity-not-reached",
                message: "\(p.group) did not reach \(capacity) InService instances within \(DurationText.format(limit)) (\(last?.inService ?? 0) InService of \(last?.total ?? 0)); check quotas and capacity for the instance type in \(p.region)",
                retryable: false)
        }
        return reached
    }

    public func execute(_ p: Parameters, _ ctx: any StepContext) async throws -> Output {
        let aws = try client(p, ctx)
        let before = try await ctx.recordBefore(Before.self) {
            let g = try await describe(aws, p.group)
            return Before(desired: g.desired, min: g.min, max: g.max)
        }
        if p.capacity > before.max {
            throw StepError(code: "over-max-size", message: "\(p.group) allows at most \(before.max) instances; \(p.capacity) asked. Raise MaxSize or lower the runbook's capacity", retryable: false)
        }
        let started = ctx.now()
        try await setCapacity(aws, p.group, p.capacity)
        try await ctx.note("\(p.group): desired capacity \(before.desired) -> \(p.capacity); waiting for InService")
        let g: Group
        do {
            g = try await waitFor(p.capacity, aws, p, ctx)
        } catch let error as StepError {
            // The step cleans up its own partial change: a failed step is not compensated.
            try? await setCapacity(aws, p.group, before.desired)
            try? await ctx.note("\(p.group): desired capacity set back to \(before.desired) after the failed wait")
            throw error
        }
        try await ctx.note("\(p.group): \(g.inService) InService after \(DurationText.format(.milliseconds(millis(since: started, ctx))))")
        return Output(group: p.group, previous: before.desired, capacity: p.capacity, inService: g.inService)
    }

    public func observe(_ p: Parameters, _ ctx: any StepContext) async throws -> Output? {
        guard let before = await ctx.recordedBefore(Before.self) else { return nil }
        let g = try await describe(try client(p, ctx), p.group)
        guard g.desired == p.capacity, g.inService == p.capacity, g.total == p.capacity else { return nil }
        return Output(group: p.group, previous: before.desired, capacity: p.capacity, inService: g.inService)
    }

    public func compensate(_ p: Parameters, _ output: Output, _ ctx: any StepContext) async throws {
        let aws = try client(p, ctx)
        let now = try await describe(aws, p.group)
        if now.desired != output.previous { try await setCapacity(aws, p.group, output.previous) }
        try await ctx.note("\(p.group): desired capacity \(now.desired) -> \(output.previous)")
        _ = try await waitFor(output.previous, aws, p, ctx)
    }
}
