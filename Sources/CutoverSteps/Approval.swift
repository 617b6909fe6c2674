import CutoverCore

/// `approval`: waits until enough distinct people allowed to approve have run
/// `cutover approve`. In a live run the person who started it cannot approve it.
public struct Approval: StepType {
    public struct Output: Codable, Sendable {
        public var approvedBy: [String]
    }

    public static let name = "approval"
    public static let summary = "Waits until enough distinct people allowed to approve have run `cutover approve`; in a live run the person who started it cannot approve it. Changes nothing."
    public static let observation: String? = "the approvals recorded so far"
    public static let kind = StepKind.check
    static let required = Param<Int>.integer("required", 1...100, default: 1, "how many distinct approvers")
    static let approvers = Param<[Approver]?>.approvers("approvers", "who may approve (names, or {\"name\", \"key\"} with an OpenSSH Ed25519 key whose signature the approval must carry); default anyone but the starter of a live run")
    static let message = Param<String?>.string("message", "what the approvers are asked")
    public static let schema = StepSchema(required, approvers, message)

    /// More approvals required than people listed to give them would wait for ever.
    public static func problems(with: [String: JSONValue], timeout: Duration?) -> [(field: String, problem: String)] {
        guard let list = with["approvers"]?.arrayValue, let needed = with["required"]?.intValue else { return [] }
        let people = Set(list.compactMap { Approver.parse($0)?.name })
        guard !people.isEmpty, needed > Int64(people.count) else { return [] }
        return [("required", "\(needed) approvals needed, but only \(people.count) \(people.count == 1 ? "person" : "people") may approve (\(people.sorted().joined(separator: ", "))); list more approvers or require fewer")]
    }

    public init() {}

    public func execute(_ p: StepParameters, _ ctx: any StepContext) async throws -> Output {
        let required = try p[Self.required]
        let approvers = try p[Self.approvers] ?? []
        if ctx.mode == .live, !approvers.isEmpty, approvers.filter({ $0.name != ctx.startedBy }).count < required {
            throw StepError(
                code: "too-few-approvers",
                message: "approval needs \(required) approver(s) besides \(ctx.startedBy), who started this live run, but only \(approvers.map(\.name).joined(separator: ", ")) may approve; add approvers to the runbook",
                retryable: false)
        }
        if let message = try p[Self.message] { try await ctx.note(message) }
        return Output(approvedBy: try await ctx.awaitApprovals(required: required, approvers: approvers))
    }

    /// After a restart or a detach: the approvals that arrived meanwhile settle the step.
    public func observe(_ p: StepParameters, _ ctx: any StepContext) async throws -> Output? {
        let approved = await ctx.currentApprovals()
        let required = try p[Self.required]
        return approved.count >= required ? Output(approvedBy: Array(approved.prefix(required))) : nil
    }
}
