import CutoverCore
import CutoverProviders
import Foundation

/// `instances.scale`: sets the desired size of an instance group (the DR GPU group, on any
/// provider that offers one) and waits until that many instances run. Growing checks the
/// group's limits first (`capacity.check`); a stall the provider names (a GPU stock-out) ends
/// the wait at once and the group is set back. Compensation sets the old size back and waits.
public struct InstancesScale: StepType {
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

    public static func change(_ o: Output) -> String? {
        "\(o.group): \(o.previous) → \(o.capacity) instances (\(o.inService) in service)"
    }
    public static let summary = "Sets the desired size of an instance group (an Auto Scaling group, a managed instance group) and waits until exactly that many instances run; a stock-out or a quota stops it at once and scales back."
    public static let observation: String? = "the group's size: when it runs the capacity asked, the step is done"
    public static let kind = StepKind.compensable
    public static let compensation: String? = "sets the group's desired capacity back to what it was and waits for it"
    static let group = Param<ProviderTarget>.target("group", .instanceGroup, "the instance group, like \"${runbook.dr.gpuGroup}\"")
    static let capacity = Param<Int>.integer("capacity", 0...10_000, "the desired capacity to reach")
    static let waitFor = Param<Duration>.duration("waitFor", default: "10m", "how long to wait for the instances to run")
    static let pollInterval = Param<Duration>.duration("pollInterval", default: "2s", "how often to look")
    public static let schema = StepSchema(group, capacity, waitFor, pollInterval)

    let providers: ProviderCatalog
    public init(providers: ProviderCatalog) { self.providers = providers }

    func size(_ g: any InstanceGroup) async throws -> GroupSize {
        try await calling("reading the size of \(g.target)") { try await g.size() }
    }

    func resize(_ g: any InstanceGroup, to capacity: Int, _ ctx: any StepContext) async throws {
        let proof = try await ctx.proof()
        try await calling("setting the desired capacity of \(g.target) to \(capacity)") { try await g.resize(to: capacity, proof) }
    }

    /// Waits until exactly `capacity` instances run and no others linger.
    func waitFor(_ capacity: Int, _ g: any InstanceGroup, _ p: StepParameters, _ ctx: any StepContext) async throws -> GroupSize {
        let limit = try p[Self.waitFor]
        var last: GroupSize?
        let reached = try await poll(ctx, every: try p[Self.pollInterval], until: ctx.now().adding(limit)) { () async throws -> GroupSize? in
            let s = try await size(g)
            last = s
            // A stock-out or a quota reached does not pass by waiting: name it now.
            if let stall = s.stall, s.running < capacity { throw stall }
            return s.running == capacity && s.total == capacity ? s : nil
        }
        guard let reached else {
            throw StepError(
                code: "capacity-not-reached",
                message: "\(g.target) did not reach \(capacity) running instances within \(DurationText.format(limit)) (\(last?.running ?? 0) running of \(last?.total ?? 0)); check quotas and capacity for the instance type",
                retryable: false)
        }
        return reached
    }

    static func fits(_ capacity: Int, max: Int, _ g: any InstanceGroup) throws {
        if capacity > max {
            throw StepError(code: "over-max-size", message: "\(g.target) allows at most \(max) instances; \(capacity) asked. Raise the group's maximum or lower the runbook's capacity", retryable: false)
        }
    }

    /// The group's size now, and whether its bounds allow the capacity asked.
    public func preflight(_ p: StepParameters, _ ctx: any StepContext) async throws -> String? {
        let g = try providers.instanceGroup(try p[Self.group], ctx)
        let capacity = try p[Self.capacity]
        let s = try await size(g)
        try Self.fits(capacity, max: s.max, g)
        return "\(g.name): \(s.running) of \(s.desired) running (bounds \(s.min)–\(s.max)); the step sets \(capacity)"
    }

    public func execute(_ p: StepParameters, _ ctx: any StepContext) async throws -> Output {
        let g = try providers.instanceGroup(try p[Self.group], ctx)
        let capacity = try p[Self.capacity]
        let before = try await ctx.recordBefore(Before.self) {
            let s = try await size(g)
            return Before(desired: s.desired, min: s.min, max: s.max)
        }
        try Self.fits(capacity, max: before.max, g)
        let started = ctx.now()
        // An earlier attempt's resize may have landed (the driver stopped before recording it):
        // the same resize is not sent twice.
        let now = try await size(g)
        if now.desired != capacity {
            if capacity > now.desired { _ = try await CapacityCheck.check(g, capacity) }
            try await resize(g, to: capacity, ctx)
        }
        try await ctx.note("\(g.target): desired capacity \(before.desired) -> \(capacity); waiting for the instances to run")
        let s: GroupSize
        do {
            s = try await waitFor(capacity, g, p, ctx)
        } catch let error as StepError {
            // The step cleans up its own partial change: a failed step is not compensated.
            try? await resize(g, to: before.desired, ctx)
            try? await ctx.note("\(g.target): desired capacity set back to \(before.desired) after the failed wait")
            _ = try? await waitFor(before.desired, g, p, ctx)
            throw error
        }
        try await ctx.note("\(g.target): \(s.running) running after \(DurationText.format(.milliseconds(millis(since: started, ctx))))")
        return Output(group: g.name, previous: before.desired, capacity: capacity, inService: s.running)
    }

    public func observe(_ p: StepParameters, _ ctx: any StepContext) async throws -> Output? {
        guard let before = await ctx.recordedBefore(Before.self) else { return nil }
        let g = try providers.instanceGroup(try p[Self.group], ctx)
        let capacity = try p[Self.capacity]
        // The resize landed: wait for its instances here, so resuming does not resize again.
        guard try await size(g).desired == capacity else { return nil }
        let s: GroupSize
        do {
            s = try await waitFor(capacity, g, p, ctx)
        } catch let error as StepError {
            // As execute does: a failed step is not compensated, so it sets the group back itself.
            try? await resize(g, to: before.desired, ctx)
            _ = try? await waitFor(before.desired, g, p, ctx)
            throw error
        }
        return Output(group: g.name, previous: before.desired, capacity: capacity, inService: s.running)
    }

    public func compensate(_ p: StepParameters, _ output: Output, _ ctx: any StepContext) async throws {
        let g = try providers.instanceGroup(try p[Self.group], ctx)
        let now = try await size(g)
        if now.desired != output.previous { try await resize(g, to: output.previous, ctx) }
        try await ctx.note("\(g.target): desired capacity \(now.desired) -> \(output.previous)")
        _ = try await waitFor(output.previous, g, p, ctx)
    }
}
