/// Where a run stands.
public enum RunStatus: String, Codable, Sendable, CaseIterable {
    case running
    case waitingApproval = "waiting-approval"
    case paused
    case compensating
    case succeeded
    case rolledBack = "rolled-back"
    case failed
    case needsAttention = "needs-attention"
    case aborted

    /// No driver will act on the run again unless a person asks (`cutover rollback`).
    public var isTerminal: Bool {
        switch self {
        case .succeeded, .rolledBack, .failed, .aborted: true
        default: false
        }
    }
}

/// One step's history within a run, as the fold sees it.
public struct StepRecord: Sendable, Equatable {
    public enum Phase: String, Sendable, Equatable {
        case pending
        case running
        case succeeded
        /// Failed; another attempt follows at `retryAtMillis`.
        case retrying
        /// Failed with no attempt following.
        case failed
    }

    public var id: String
    public var phase: Phase = .pending
    /// The highest attempt started.
    public var attempts = 0
    /// Attempts cut short by a stopped driver; they do not count against the retry budget.
    public var interruptions = 0
    public var output: JSONValue?
    public var observed = false
    public var lastError: StepError?
    public var retryAtMillis: Int64?
    public var firstStartedMillis: Int64?
    public var finishedMillis: Int64?
    public var timers: [String: Int64] = [:]
    /// The latest `StepProgress` data of the step, by key.
    public var progress: [String: JSONValue] = [:]
    /// The first before-state any attempt recorded.
    public var before: JSONValue?
    /// A change an attempt left in place before any success (`StepProgress.inPlace`): the
    /// output a rollback compensates the step from when it recorded none of its own.
    public var inPlace: JSONValue?
    public var approvalRequest: ApprovalRequested?
    /// The global sequence of the latest `ApprovalRequested` (signatures cover its hash).
    public var approvalRequestSeq: Int64 = 0
    /// Every approval of this step, in order; see `RunState.countedApprovers`.
    public var grants: [ApprovalGrant] = []

    /// Safety rules before the next attempt: when they are looked at again (a rule that waits),
    /// the rule that stops the step for a person, since when each rule has not held, and the
    /// overrides that count, by rule.
    public var safetyRecheckAtMillis: Int64?
    public var safetyStop: SafetyStop?
    public var safetyFailingSince: [String: Int64] = [:]
    public var overrides: [String: String] = [:]

    public var compensation: Phase = .pending
    public var compensationAttempts = 0
    public var compensationInterruptions = 0
    public var compensationError: StepError?
    public var compensationRetryAtMillis: Int64?

    public init(id: String) { self.id = id }

    /// When a step that is not in flight may start next, if later than `nowMillis`: its retry's
    /// time, or when a safety rule that did not hold is looked at again.
    public func waitsUntil(_ nowMillis: Int64) -> Int64? {
        let at = [phase == .retrying ? retryAtMillis : nil, safetyRecheckAtMillis].compactMap { $0 }.max()
        return at.flatMap { $0 > nowMillis ? $0 : nil }
    }
}

/// A safety rule that stopped a step for a person: which, and what it found.
public struct SafetyStop: Sendable, Equatable {
    public var rule: String
    public var detail: String
    public init(rule: String, detail: String) {
        self.rule = rule
        self.detail = detail
    }
}
