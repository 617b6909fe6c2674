import Foundation

/// What an event says. The case is the fold's to switch on; its name in the log, its payload
/// type and how the payload is read and written come from its entry in `EventBody.kinds`.
/// A new event is a case here, one entry there, and its case in the fold.
public enum EventBody: Sendable, Equatable {
    case runStarted(RunStarted)
    case driverAttached(DriverAttached)
    case stepStarted(StepAttempt)
    case stepSucceeded(StepSucceeded)
    case stepFailed(StepFailed)
    case stepNote(StepNote)
    case stepProgress(StepProgress)
    case beforeRecorded(BeforeRecorded)
    case timerSet(TimerSet)
    case approvalRequested(ApprovalRequested)
    case approvalGranted(ApprovalGranted)
    case safetyChecked(SafetyChecked)
    case safetyOverridden(SafetyOverridden)
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
    // The log's own streams (`LogStream.imports`, `LogStream.halt`).
    case logImported(LogImported)
    case haltRequested(Signal)
    case haltLifted(Signal)

    /// Every kind of event, the frequent first (finding a body's kind walks this list).
    public static let kinds: [EventKind] = [
        .kind("StepStarted", { .stepStarted($0) }) { if case .stepStarted(let p) = $0 { p } else { nil } },
        .kind("StepSucceeded", { .stepSucceeded($0) }) { if case .stepSucceeded(let p) = $0 { p } else { nil } },
        .kind("StepNote", { .stepNote($0) }) { if case .stepNote(let p) = $0 { p } else { nil } },
        .kind("StepProgress", { .stepProgress($0) }) { if case .stepProgress(let p) = $0 { p } else { nil } },
        .kind("StepFailed", { .stepFailed($0) }) { if case .stepFailed(let p) = $0 { p } else { nil } },
        .kind("BeforeRecorded", { .beforeRecorded($0) }) { if case .beforeRecorded(let p) = $0 { p } else { nil } },
        .kind("TimerSet", { .timerSet($0) }) { if case .timerSet(let p) = $0 { p } else { nil } },
        .kind("DriverAttached", { .driverAttached($0) }) { if case .driverAttached(let p) = $0 { p } else { nil } },
        .kind("RunStarted", { .runStarted($0) }) { if case .runStarted(let p) = $0 { p } else { nil } },
        .kind("ApprovalRequested", { .approvalRequested($0) }) { if case .approvalRequested(let p) = $0 { p } else { nil } },
        .kind("ApprovalGranted", { .approvalGranted($0) }) { if case .approvalGranted(let p) = $0 { p } else { nil } },
        .kind("SafetyChecked", { .safetyChecked($0) }) { if case .safetyChecked(let p) = $0 { p } else { nil } },
        .kind("SafetyOverridden", { .safetyOverridden($0) }) { if case .safetyOverridden(let p) = $0 { p } else { nil } },
        .kind("PauseRequested", { .pauseRequested($0) }) { if case .pauseRequested(let p) = $0 { p } else { nil } },
        .kind("ResumeRequested", { .resumeRequested($0) }) { if case .resumeRequested(let p) = $0 { p } else { nil } },
        .kind("AbortRequested", { .abortRequested($0) }) { if case .abortRequested(let p) = $0 { p } else { nil } },
        .kind("RollbackRequested", { .rollbackRequested($0) }) { if case .rollbackRequested(let p) = $0 { p } else { nil } },
        .kind("RunPaused", { .runPaused($0) }) { if case .runPaused(let p) = $0 { p } else { nil } },
        .kind("RunResumed", { .runResumed($0) }) { if case .runResumed(let p) = $0 { p } else { nil } },
        .kind("RollbackStarted", { .rollbackStarted($0) }) { if case .rollbackStarted(let p) = $0 { p } else { nil } },
        .kind("CompensationStarted", { .compensationStarted($0) }) { if case .compensationStarted(let p) = $0 { p } else { nil } },
        .kind("CompensationSucceeded", { .compensationSucceeded($0) }) { if case .compensationSucceeded(let p) = $0 { p } else { nil } },
        .kind("CompensationFailed", { .compensationFailed($0) }) { if case .compensationFailed(let p) = $0 { p } else { nil } },
        .kind("RunSucceeded", { .runSucceeded($0) }) { if case .runSucceeded(let p) = $0 { p } else { nil } },
        .kind("RunRolledBack", { .runRolledBack($0) }) { if case .runRolledBack(let p) = $0 { p } else { nil } },
        .kind("RunFailed", { .runFailed($0) }) { if case .runFailed(let p) = $0 { p } else { nil } },
        .kind("RunNeedsAttention", { .runNeedsAttention($0) }) { if case .runNeedsAttention(let p) = $0 { p } else { nil } },
        .kind("RunAborted", { .runAborted($0) }) { if case .runAborted(let p) = $0 { p } else { nil } },
        .kind("ScheduleAdded", { .scheduleAdded($0) }) { if case .scheduleAdded(let p) = $0 { p } else { nil } },
        .kind("SchedulePaused", { .schedulePaused($0) }) { if case .schedulePaused(let p) = $0 { p } else { nil } },
        .kind("ScheduleResumed", { .scheduleResumed($0) }) { if case .scheduleResumed(let p) = $0 { p } else { nil } },
        .kind("ScheduleRemoved", { .scheduleRemoved($0) }) { if case .scheduleRemoved(let p) = $0 { p } else { nil } },
        .kind("DrillDue", { .drillDue($0) }) { if case .drillDue(let p) = $0 { p } else { nil } },
        .kind("DrillStarted", { .drillStarted($0) }) { if case .drillStarted(let p) = $0 { p } else { nil } },
        .kind("DrillSkipped", { .drillSkipped($0) }) { if case .drillSkipped(let p) = $0 { p } else { nil } },
        .kind("DrillsMissed", { .drillsMissed($0) }) { if case .drillsMissed(let p) = $0 { p } else { nil } },
        .kind("DrillFinished", { .drillFinished($0) }) { if case .drillFinished(let p) = $0 { p } else { nil } },
        .kind("DrillNotified", { .drillNotified($0) }) { if case .drillNotified(let p) = $0 { p } else { nil } },
        .kind("LogImported", { .logImported($0) }) { if case .logImported(let p) = $0 { p } else { nil } },
        .kind("HaltRequested", { .haltRequested($0) }) { if case .haltRequested(let p) = $0 { p } else { nil } },
        .kind("HaltLifted", { .haltLifted($0) }) { if case .haltLifted(let p) = $0 { p } else { nil } },
    ]

    /// The kinds by their stored name.
    public static let kindsByName: [String: EventKind] = Dictionary(uniqueKeysWithValues: kinds.map { ($0.name, $0) })

    /// This body's entry in `kinds`.
    public var kind: EventKind {
        for k in Self.kinds where k.matches(self) { return k }
        preconditionFailure("EventBody.kinds has no entry for \(self)")
    }

    /// The name stored in the event's `type` column.
    public var typeName: String { kind.name }

    /// The step an event is about, if any.
    public var stepID: String? { kind.stepID(self) }

    /// The canonical JSON of the payload, as stored and hashed.
    /// - Throws: `EncodingError` when the payload has a value JSON cannot hold.
    public func encodedPayload() throws -> String {
        try kind.encode(self).canonicalString
    }

    /// The canonical payload through Foundation's `JSONEncoder`: the reference the stored
    /// form must equal, byte for byte (a test holds them equal).
    package func codablePayload() throws -> String {
        let payload = kind.foundationEncodable(self)
        return try JSONValue.parse(Self.foundationEncode(payload)).canonicalString
    }

    private static func foundationEncode<P: Encodable>(_ payload: P) throws -> Data {
        try JSONEncoder().encode(payload)
    }

    /// Rebuilds a body from its stored type and payload.
    /// - Throws: `EventDecodingError` when the type is unknown or the payload does not match it.
    public static func decode(type: String, payload: String) throws -> EventBody {
        var payload = payload
        return try payload.withUTF8 { try decode(type: type, payload: UnsafeRawBufferPointer($0)) }
    }

    /// Rebuilds a body from its stored type and the payload's bytes, without Foundation.
    /// - Throws: `EventDecodingError` when the type is unknown or the payload does not match it.
    public static func decode(type: String, payload: UnsafeRawBufferPointer) throws -> EventBody {
        guard let kind = kindsByName[type] else { throw EventDecodingError(type: type, reason: "unknown event type") }
        return try kind.decode(payload: payload)
    }

    /// The kind stored under the name in `type` (bytes as stored), found without making a String.
    /// - Throws: `EventDecodingError` for a name no kind has.
    public static func kind(named type: UnsafeRawBufferPointer) throws -> EventKind {
        for k in kinds where k.nameBytes.elementsEqual(type) { return k }
        throw EventDecodingError(type: String(decoding: type, as: UTF8.self), reason: "unknown event type")
    }
}

/// A stored event that cannot be read back.
public struct EventDecodingError: Error, Sendable, CustomStringConvertible {
    public let type: String
    public let reason: String
    public var description: String { "event of type \"\(type)\": \(reason)" }
}
