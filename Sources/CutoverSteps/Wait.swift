import CutoverCore

/// `wait`: a durable soak timer. After a crash only the time left is waited.
public struct Wait: StepType {
    public struct Output: Codable, Sendable {
        public var waitedMillis: Int64
    }

    public static let name = "wait"
    public static let summary = "A durable soak timer: after a crash only the time left is waited. Changes nothing."
    public static let kind = StepKind.check
    public static let observation: String? = "nothing to read: the timer is durable, so a run resumed after a crash waits only the time left, never the whole duration again"
    static let duration = Param<Duration>.duration("duration", "how long to wait")
    public static let schema = StepSchema(duration)

    /// A wait its own timeout cuts short always fails.
    public static func problems(with: [String: JSONValue], timeout: Duration?) -> [(field: String, problem: String)] {
        guard let timeout, let wait = with["duration"]?.stringValue.flatMap(DurationText.parse), wait >= timeout else { return [] }
        return [("timeout", "\(DurationText.format(timeout)) is not longer than the wait (\(DurationText.format(wait))): the step would always time out; give it a longer timeout")]
    }

    public init() {}

    public func execute(_ p: StepParameters, _ ctx: any StepContext) async throws -> Output {
        let d = try p[Self.duration]
        // A wait of nothing has no timer to record or to find after a crash (the duration
        // is the plan's, the same at every attempt): done here, without asking the driver.
        guard d > .zero else { return Output(waitedMillis: 0) }
        try await ctx.durableTimer("wait", duration: d)
        return Output(waitedMillis: d.milliseconds)
    }
}
