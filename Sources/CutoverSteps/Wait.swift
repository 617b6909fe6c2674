import CutoverCore

/// `wait`: a durable soak timer. After a crash only the time left is waited.
public struct Wait: StepType {
    public struct Parameters: Codable, Sendable {
        public var duration: String
    }

    public struct Output: Codable, Sendable {
        public var waitedMillis: Int64
    }

    public static let name = "wait"
    public static let kind = StepKind.check
    public static let parameters = [ParameterField("duration", .duration, required: true, "how long to wait")]

    public init() {}

    public func execute(_ p: Parameters, _ ctx: any StepContext) async throws -> Output {
        let d = try duration(p.duration, field: "duration")
        try await ctx.durableTimer("wait", duration: d)
        return Output(waitedMillis: d.milliseconds)
    }
}
