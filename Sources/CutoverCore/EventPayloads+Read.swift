/// The payloads a run is mostly made of, read straight from their checked bytes (see
/// `BytesReadablePayload`). Each reader takes exactly the shape cutover writes and returns nil
/// for anything else, so the ordinary `Codable` path decides it; `PayloadReaderTests` holds
/// every reader to that path.

extension StepAttempt: BytesReadablePayload {
    public static func read(_ m: JSONMembers) -> StepAttempt? {
        guard m.count == 2, let step = m.string("step"), let attempt = m.int("attempt").flatMap(Int.init(exactly:)) else { return nil }
        return StepAttempt(step: step, attempt: attempt)
    }
}

extension StepSucceeded: BytesReadablePayload {
    public static func read(_ m: JSONMembers) -> StepSucceeded? {
        guard m.has(only: ["step", "attempt", "output", "observed"]), let step = m.string("step"),
            let attempt = m.int("attempt").flatMap(Int.init(exactly:)), let output = m.value("output"), let observed = m.bool("observed")
        else { return nil }
        return StepSucceeded(step: step, attempt: attempt, output: output.asDecodedByFoundation, observed: observed)
    }
}

extension StepNote: BytesReadablePayload {
    public static func read(_ m: JSONMembers) -> StepNote? {
        guard m.count == 2, let step = m.string("step"), let message = m.string("message") else { return nil }
        return StepNote(step: step, message: message)
    }
}

extension StepError {
    static func read(_ m: JSONMembers) -> StepError? {
        guard m.count == 3, let code = m.string("code"), let message = m.string("message"), let retryable = m.bool("retryable") else { return nil }
        return StepError(code: code, message: message, retryable: retryable)
    }
}

extension StepFailed: BytesReadablePayload {
    public static func read(_ m: JSONMembers) -> StepFailed? {
        guard m.has(only: ["step", "attempt", "error", "retryAtMillis"]), let step = m.string("step"),
            let attempt = m.int("attempt").flatMap(Int.init(exactly:)), let error = m.members("error").flatMap(StepError.read)
        else { return nil }
        var retryAt: Int64?
        if !m.isAbsent("retryAtMillis") {
            guard let at = m.int("retryAtMillis") else { return nil }
            retryAt = at
        }
        return StepFailed(step: step, attempt: attempt, error: error, retryAtMillis: retryAt)
    }
}

extension BeforeRecorded: BytesReadablePayload {
    public static func read(_ m: JSONMembers) -> BeforeRecorded? {
        guard m.count == 3, let step = m.string("step"), let attempt = m.int("attempt").flatMap(Int.init(exactly:)), let state = m.value("state")
        else { return nil }
        return BeforeRecorded(step: step, attempt: attempt, state: state.asDecodedByFoundation)
    }
}

extension DriverAttached: BytesReadablePayload {
    public static func read(_ m: JSONMembers) -> DriverAttached? {
        guard m.count == 2, let owner = m.string("owner"), let resumed = m.bool("resumed") else { return nil }
        return DriverAttached(owner: owner, resumed: resumed)
    }
}

extension TimerSet: BytesReadablePayload {
    public static func read(_ m: JSONMembers) -> TimerSet? {
        guard m.count == 3, let step = m.string("step"), let name = m.string("name"), let until = m.int("untilMillis") else { return nil }
        return TimerSet(step: step, name: name, untilMillis: until)
    }
}

extension ApprovalGranted: BytesReadablePayload {
    public static func read(_ m: JSONMembers) -> ApprovalGranted? {
        guard m.has(only: ["step", "by", "comment", "signature", "standing"]), let step = m.string("step"), let by = m.string("by") else { return nil }
        var comment: String?, signature: String?, standing: String?
        if !m.isAbsent("comment") { guard let c = m.string("comment") else { return nil }; comment = c }
        if !m.isAbsent("signature") { guard let s = m.string("signature") else { return nil }; signature = s }
        if !m.isAbsent("standing") { guard let s = m.string("standing") else { return nil }; standing = s }
        return ApprovalGranted(step: step, by: by, comment: comment, signature: signature, standing: standing)
    }
}

extension Signal: BytesReadablePayload {
    public static func read(_ m: JSONMembers) -> Signal? {
        guard m.has(only: ["reason", "halt"]) else { return nil }
        var halt: Bool?
        if !m.isAbsent("halt") {
            guard let h = m.bool("halt") else { return nil }
            halt = h
        }
        if m.isAbsent("reason") { return Signal(halt: halt) }
        guard let reason = m.string("reason") else { return nil }
        return Signal(reason: reason, halt: halt)
    }
}

extension RetryPolicy {
    static func read(_ m: JSONMembers) -> RetryPolicy? {
        guard m.count == 6, let attempts = m.int("attempts").flatMap(Int.init(exactly:)), let initial = m.int("initialBackoffMillis"),
            let multiplier = m.double("multiplier"), let max = m.int("maxBackoffMillis"), let jitter = m.double("jitter"),
            let nonRetryable = m.strings("nonRetryable")
        else { return nil }
        return RetryPolicy(
            attempts: attempts, initialBackoffMillis: initial, multiplier: multiplier, maxBackoffMillis: max, jitter: jitter, nonRetryable: nonRetryable)
    }
}

extension PlannedStep {
    static func read(_ m: JSONMembers) -> PlannedStep? {
        guard m.has(only: ["id", "type", "kind", "pivot", "retry", "timeoutMillis", "group"]), let id = m.string("id"), let type = m.string("type"),
            let kind = m.string("kind").flatMap(StepKind.init(rawValue:)), let pivot = m.bool("pivot"),
            let retry = m.members("retry").flatMap(RetryPolicy.read)
        else { return nil }
        var timeout: Int64?
        if !m.isAbsent("timeoutMillis") {
            guard let t = m.int("timeoutMillis") else { return nil }
            timeout = t
        }
        var group: String?
        if !m.isAbsent("group") {
            guard let g = m.string("group") else { return nil }
            group = g
        }
        return PlannedStep(id: id, type: type, kind: kind, pivot: pivot, retry: retry, timeoutMillis: timeout, group: group)
    }
}
