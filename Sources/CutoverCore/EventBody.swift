import Foundation

/// What an event says. The case name is the event's `type` column; the payload is its body.
public enum EventBody: Sendable, Equatable {
    case runStarted(RunStarted)
    case driverAttached(DriverAttached)
    case stepStarted(StepAttempt)
    case stepSucceeded(StepSucceeded)
    case stepFailed(StepFailed)
    case stepNote(StepNote)
    case beforeRecorded(BeforeRecorded)
    case timerSet(TimerSet)
    case approvalRequested(ApprovalRequested)
    case approvalGranted(ApprovalGranted)
    case pauseRequested(Signal)
    case resumeRequested(Signal)
    case abortRequested(Signal)
    case rollbackRequested(Signal)
    case runPaused(Signal)
    case runResumed(Signal)
    case rollbackStarted(RollbackStarted)
    case compensationStarted(StepAttempt)
    case compensationSucceeded(StepAttempt)
    case compensationFailed(StepFailed)
    case runSucceeded(RunOutcome)
    case runRolledBack(RunOutcome)
    case runFailed(RunOutcome)
    case runNeedsAttention(NeedsAttention)
    case runAborted(RunOutcome)
    // A schedule's stream (`ScheduleStream`).
    case scheduleAdded(ScheduleDefinition)
    case schedulePaused(Signal)
    case scheduleResumed(Signal)
    case scheduleRemoved(Signal)
    case drillDue(DrillDue)
    case drillStarted(DrillStarted)
    case drillSkipped(DrillSkipped)
    case drillsMissed(DrillsMissed)
    case drillFinished(DrillFinished)
    case drillNotified(DrillNotified)

    public var typeName: String {
        switch self {
        case .runStarted: "RunStarted"
        case .driverAttached: "DriverAttached"
        case .stepStarted: "StepStarted"
        case .stepSucceeded: "StepSucceeded"
        case .stepFailed: "StepFailed"
        case .stepNote: "StepNote"
        case .beforeRecorded: "BeforeRecorded"
        case .timerSet: "TimerSet"
        case .approvalRequested: "ApprovalRequested"
        case .approvalGranted: "ApprovalGranted"
        case .pauseRequested: "PauseRequested"
        case .resumeRequested: "ResumeRequested"
        case .abortRequested: "AbortRequested"
        case .rollbackRequested: "RollbackRequested"
        case .runPaused: "RunPaused"
        case .runResumed: "RunResumed"
        case .rollbackStarted: "RollbackStarted"
        case .compensationStarted: "CompensationStarted"
        case .compensationSucceeded: "CompensationSucceeded"
        case .compensationFailed: "CompensationFailed"
        case .runSucceeded: "RunSucceeded"
        case .runRolledBack: "RunRolledBack"
        case .runFailed: "RunFailed"
        case .runNeedsAttention: "RunNeedsAttention"
        case .runAborted: "RunAborted"
        case .scheduleAdded: "ScheduleAdded"
        case .schedulePaused: "SchedulePaused"
        case .scheduleResumed: "ScheduleResumed"
        case .scheduleRemoved: "ScheduleRemoved"
        case .drillDue: "DrillDue"
        case .drillStarted: "DrillStarted"
        case .drillSkipped: "DrillSkipped"
        case .drillsMissed: "DrillsMissed"
        case .drillFinished: "DrillFinished"
        case .drillNotified: "DrillNotified"
        }
    }

    /// The step an event is about, if any.
    public var stepID: String? {
        switch self {
        case .stepStarted(let p), .compensationStarted(let p), .compensationSucceeded(let p): p.step
        case .stepSucceeded(let p): p.step
        case .stepFailed(let p), .compensationFailed(let p): p.step
        case .stepNote(let p): p.step
        case .beforeRecorded(let p): p.step
        case .timerSet(let p): p.step
        case .approvalRequested(let p): p.step
        case .approvalGranted(let p): p.step
        default: nil
        }
    }

    /// The canonical JSON of the payload, as stored and hashed.
    public func encodedPayload() throws -> String {
        try JSONValue.encode(payload).canonicalString
    }

    /// The canonical payload through Foundation's `JSONEncoder`: the reference the stored
    /// form must equal, byte for byte (a test holds them equal).
    package func codablePayload() throws -> String {
        try JSONValue.parse(JSONEncoder().encode(payload)).canonicalString
    }

    /// The payload, whatever its type.
    private var payload: any Encodable {
        switch self {
        case .runStarted(let p): p
        case .driverAttached(let p): p
        case .stepStarted(let p), .compensationStarted(let p), .compensationSucceeded(let p): p
        case .stepSucceeded(let p): p
        case .stepFailed(let p), .compensationFailed(let p): p
        case .stepNote(let p): p
        case .beforeRecorded(let p): p
        case .timerSet(let p): p
        case .approvalRequested(let p): p
        case .approvalGranted(let p): p
        case .pauseRequested(let p), .resumeRequested(let p), .abortRequested(let p),
            .rollbackRequested(let p), .runPaused(let p), .runResumed(let p), .schedulePaused(let p), .scheduleResumed(let p),
            .scheduleRemoved(let p):
            p
        case .rollbackStarted(let p): p
        case .runSucceeded(let p), .runRolledBack(let p), .runFailed(let p), .runAborted(let p): p
        case .runNeedsAttention(let p): p
        case .scheduleAdded(let p): p
        case .drillDue(let p): p
        case .drillStarted(let p): p
        case .drillSkipped(let p): p
        case .drillsMissed(let p): p
        case .drillFinished(let p): p
        case .drillNotified(let p): p
        }
    }

    /// Rebuilds a body from its stored type and payload.
    /// - Throws: `EventDecodingError` when the type is unknown or the payload does not match it.
    public static func decode(type: String, payload: String) throws -> EventBody {
        // The events a run is mostly made of are read by hand from the parsed JSON; anything
        // that does not fit exactly goes through the Codable path, which says what is wrong.
        if fastTypes.contains(type), let parsed = try? JSONValue.parse(payload), let body = fast(type: type, parsed) { return body }
        let data = Data(payload.utf8)
        let d = JSONDecoder()
        do {
            switch type {
            case "RunStarted": return .runStarted(try d.decode(RunStarted.self, from: data))
            case "DriverAttached": return .driverAttached(try d.decode(DriverAttached.self, from: data))
            case "StepStarted": return .stepStarted(try d.decode(StepAttempt.self, from: data))
            case "StepSucceeded": return .stepSucceeded(try d.decode(StepSucceeded.self, from: data))
            case "StepFailed": return .stepFailed(try d.decode(StepFailed.self, from: data))
            case "StepNote": return .stepNote(try d.decode(StepNote.self, from: data))
            case "BeforeRecorded": return .beforeRecorded(try d.decode(BeforeRecorded.self, from: data))
            case "TimerSet": return .timerSet(try d.decode(TimerSet.self, from: data))
            case "ApprovalRequested": return .approvalRequested(try d.decode(ApprovalRequested.self, from: data))
            case "ApprovalGranted": return .approvalGranted(try d.decode(ApprovalGranted.self, from: data))
            case "PauseRequested": return .pauseRequested(try d.decode(Signal.self, from: data))
            case "ResumeRequested": return .resumeRequested(try d.decode(Signal.self, from: data))
            case "AbortRequested": return .abortRequested(try d.decode(Signal.self, from: data))
            case "RollbackRequested": return .rollbackRequested(try d.decode(Signal.self, from: data))
            case "RunPaused": return .runPaused(try d.decode(Signal.self, from: data))
            case "RunResumed": return .runResumed(try d.decode(Signal.self, from: data))
            case "RollbackStarted": return .rollbackStarted(try d.decode(RollbackStarted.self, from: data))
            case "CompensationStarted": return .compensationStarted(try d.decode(StepAttempt.self, from: data))
            case "CompensationSucceeded": return .compensationSucceeded(try d.decode(StepAttempt.self, from: data))
            case "CompensationFailed": return .compensationFailed(try d.decode(StepFailed.self, from: data))
            case "RunSucceeded": return .runSucceeded(try d.decode(RunOutcome.self, from: data))
            case "RunRolledBack": return .runRolledBack(try d.decode(RunOutcome.self, from: data))
            case "RunFailed": return .runFailed(try d.decode(RunOutcome.self, from: data))
            case "RunNeedsAttention": return .runNeedsAttention(try d.decode(NeedsAttention.self, from: data))
            case "RunAborted": return .runAborted(try d.decode(RunOutcome.self, from: data))
            case "ScheduleAdded": return .scheduleAdded(try d.decode(ScheduleDefinition.self, from: data))
            case "SchedulePaused": return .schedulePaused(try d.decode(Signal.self, from: data))
            case "ScheduleResumed": return .scheduleResumed(try d.decode(Signal.self, from: data))
            case "ScheduleRemoved": return .scheduleRemoved(try d.decode(Signal.self, from: data))
            case "DrillDue": return .drillDue(try d.decode(DrillDue.self, from: data))
            case "DrillStarted": return .drillStarted(try d.decode(DrillStarted.self, from: data))
            case "DrillSkipped": return .drillSkipped(try d.decode(DrillSkipped.self, from: data))
            case "DrillsMissed": return .drillsMissed(try d.decode(DrillsMissed.self, from: data))
            case "DrillFinished": return .drillFinished(try d.decode(DrillFinished.self, from: data))
            case "DrillNotified": return .drillNotified(try d.decode(DrillNotified.self, from: data))
            default: throw EventDecodingError(type: type, reason: "unknown event type")
            }
        } catch let error as EventDecodingError {
            throw error
        } catch {
            throw EventDecodingError(type: type, reason: "payload does not match the type (\(error))")
        }
    }
}

/// A stored event that cannot be read back.
public struct EventDecodingError: Error, Sendable, CustomStringConvertible {
    public let type: String
    public let reason: String
    public var description: String { "event of type \"\(type)\": \(reason)" }
}

extension EventBody {
    static let fastTypes: Set<String> = [
        "StepStarted", "CompensationStarted", "CompensationSucceeded", "StepFailed", "CompensationFailed", "StepNote",
        "StepSucceeded", "DriverAttached", "TimerSet", "BeforeRecorded", "ApprovalGranted", "PauseRequested",
        "ResumeRequested", "AbortRequested", "RollbackRequested", "RunPaused", "RunResumed",
    ]

    /// The frequent small payloads, without Foundation's decoder; nil when anything is off.
    static func fast(type: String, _ v: JSONValue) -> EventBody? {
        guard case .object(let o) = v else { return nil }
        func str(_ k: String) -> String? { o[k]?.stringValue }
        func int(_ k: String) -> Int? {
            if case .int(let i)? = o[k] { return Int(exactly: i) }
            return nil
        }
        func optionalString(_ k: String) -> String?? {
            switch o[k] {
            case .none, .null?: return .some(nil)
            case .string(let s)?: return .some(s)
            default: return nil
            }
        }
        func attempt() -> StepAttempt? {
            guard o.count == 2, let step = str("step"), let n = int("attempt") else { return nil }
            return StepAttempt(step: step, attempt: n)
        }
        func failure() -> StepFailed? {
            guard let step = str("step"), let n = int("attempt"), case .object(let e)? = o["error"], e.count == 3,
                let code = e["code"]?.stringValue, let message = e["message"]?.stringValue, let retryable = e["retryable"]?.boolValue
            else { return nil }
            var retryAt: Int64?
            switch o["retryAtMillis"] {
            case .none, .null?: retryAt = nil
            case .int(let i)?: retryAt = i
            default: return nil
            }
            guard o.count == (o["retryAtMillis"] == nil ? 3 : 4) else { return nil }
            return StepFailed(step: step, attempt: n, error: StepError(code: code, message: message, retryable: retryable), retryAtMillis: retryAt)
        }
        func signal() -> Signal? {
            guard o.count == (o["reason"] == nil ? 0 : 1), let reason = optionalString("reason") else { return nil }
            return Signal(reason: reason)
        }
        switch type {
        case "StepStarted": return attempt().map(EventBody.stepStarted)
        case "CompensationStarted": return attempt().map(EventBody.compensationStarted)
        case "CompensationSucceeded": return attempt().map(EventBody.compensationSucceeded)
        case "StepFailed": return failure().map(EventBody.stepFailed)
        case "CompensationFailed": return failure().map(EventBody.compensationFailed)
        case "StepNote":
            guard o.count == 2, let step = str("step"), let message = str("message") else { return nil }
            return .stepNote(StepNote(step: step, message: message))
        case "StepSucceeded":
            guard let step = str("step"), let n = int("attempt"), let output = o["output"] else { return nil }
            let observed: Bool
            switch o["observed"] {
            case .none: observed = false
            case .bool(let b)?: observed = b
            default: return nil
            }
            guard o.count == (o["observed"] == nil ? 3 : 4) else { return nil }
            return .stepSucceeded(StepSucceeded(step: step, attempt: n, output: output, observed: observed))
        case "DriverAttached":
            guard o.count == 2, let owner = str("owner"), let resumed = o["resumed"]?.boolValue else { return nil }
            return .driverAttached(DriverAttached(owner: owner, resumed: resumed))
        case "TimerSet":
            guard o.count == 3, let step = str("step"), let name = str("name"), case .int(let until)? = o["untilMillis"] else { return nil }
            return .timerSet(TimerSet(step: step, name: name, untilMillis: until))
        case "BeforeRecorded":
            guard o.count == 3, let step = str("step"), let n = int("attempt"), let state = o["state"] else { return nil }
            return .beforeRecorded(BeforeRecorded(step: step, attempt: n, state: state))
        case "ApprovalGranted":
            guard o.count == (o["comment"] == nil ? 2 : 3), let step = str("step"), let by = str("by"), let comment = optionalString("comment") else { return nil }
            return .approvalGranted(ApprovalGranted(step: step, by: by, comment: comment))
        case "PauseRequested": return signal().map(EventBody.pauseRequested)
        case "ResumeRequested": return signal().map(EventBody.resumeRequested)
        case "AbortRequested": return signal().map(EventBody.abortRequested)
        case "RollbackRequested": return signal().map(EventBody.rollbackRequested)
        case "RunPaused": return signal().map(EventBody.runPaused)
        case "RunResumed": return signal().map(EventBody.runResumed)
        default: return nil
        }
    }
}
