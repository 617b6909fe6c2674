import CutoverCore

/// `approval`: waits until enough distinct people allowed to approve have run
/// `cutover approve`. In a live run the person who started it cannot approve it.
public struct Approval: StepType {
    public struct Parameters: Codable, Sendable {
        public var required: Int?
        public var approvers: [String]?
        public var message: String?
    }

    public struct Output: Codable, Sendable {
        public var approvedBy: [String]
    }

    public static let name = "approval"
    public static let kind = StepKind.check
    public static let parameters = [
        ParameterField("required", .integer(min: 1), "how many distinct approvers (default 1)"),
        ParameterField("approvers", .stringList, "who may approve; default anyone but the starter of a live run"),
        ParameterField("message", .string, "what the approvers are asked"),
    ]

    public init() {}

    public func execute(_ p: Parameters, _ ctx: any StepContext) async throws -> Output {
        let required = p.required ?? 1
        let approvers = p.approvers ?? []
        if ctx.mode == .live, !approvers.isEmpty, approvers.filter({ $0 != ctx.startedBy }).count < required {
            throw StepError(
                code: "too-few-approvers",
                message: "approval needs \(required) approver(s) besides \(ctx.startedBy), who started this live run, but only \(approvers.joined(separator: ", ")) may approve; add approvers to the runbook",
                retryable: false)
        }
        if let message = p.message { try await ctx.note(message) }
        return Output(approvedBy: try await ctx.awaitApprovals(required: required, approvers: approvers))
    }

    /// After a restart or a detach: the approvals that arrived meanwhile settle the step.
    public func observe(_ p: Parameters, _ ctx: any StepContext) async throws -> Output? {
        let approved = await ctx.currentApprovals()
        let required = p.required ?? 1
        return approved.count >= required ? Output(approvedBy: Array(approved.prefix(required))) : nil
    }
}
