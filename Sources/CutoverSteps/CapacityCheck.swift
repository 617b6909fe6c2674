import CutoverCore
import CutoverProviders
import Foundation

/// `capacity.check`: can the instance group grow to the capacity at all? Reads, before anything
/// changes, every limit growing runs into (a managed instance group's regional GPU and CPU
/// quotas from its template's machine type, an Auto Scaling group's maximum size) and fails
/// naming each shortfall. GPU capacity is what fails a cross-cloud failover most often: this
/// stops the run before its pivot, and readiness runs it too.
public struct CapacityCheck: StepType {
    public struct Output: Codable, Sendable, Equatable {
        public var group: String
        public var capacity: Int
        public var limits: [CapacityLimit]
    }

    public static let name = "capacity.check"
    public static let summary = "Reads whether the instance group can grow to the capacity: its maximum size and the region's quotas (GPUs, CPUs, instances) less what is used. Changes nothing."
    public static let kind = StepKind.check
    static let group = Param<ProviderTarget>.target("group", .instanceGroup, "the instance group, like \"${runbook.dr.gpuGroup}\"")
    static let capacity = Param<Int>.integer("capacity", 0...10_000, "the size the group must be able to reach")
    public static let schema = StepSchema(group, capacity)

    let providers: ProviderCatalog
    public init(providers: ProviderCatalog) { self.providers = providers }

    public func execute(_ p: StepParameters, _ ctx: any StepContext) async throws -> Output {
        let g = try providers.instanceGroup(try p[Self.group], ctx)
        let capacity = try p[Self.capacity]
        let limits = try await Self.check(g, capacity)
        for l in limits {
            let left = l.available.map { "\($0) available" } ?? "not listed by the provider, not checked"
            try await ctx.note("\(l.limit): \(l.needed) needed, \(left)")
        }
        return Output(group: g.name, capacity: capacity, limits: limits)
    }

    /// The group's limits for `capacity`.
    /// - Throws: `StepError` `capacity-short` naming every shortfall, when there is one.
    static func check(_ g: any InstanceGroup, _ capacity: Int) async throws -> [CapacityLimit] {
        let limits = try await calling("reading the capacity limits of \(g.target)") { try await g.capacityLimits(toReach: capacity) }
        let short = limits.filter(\.short)
        guard short.isEmpty else {
            let list = short.map { "\($0.limit): \($0.needed) needed, \($0.available ?? 0) available" }.joined(separator: "; ")
            throw StepError(
                code: "capacity-short",
                message: "\(g.target) cannot grow to \(capacity) instances: \(list). Nothing was changed; raise the limit (a quota increase, the group's maximum) or lower the runbook's capacity",
                retryable: false)
        }
        return limits
    }
}
