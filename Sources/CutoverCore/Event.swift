import Foundation

/// One immutable fact about a run, as stored in the event log.
public struct Event: Sendable, Equatable {
    /// Position in the global order of all events of all runs (1-based).
    public let seq: Int64
    public let runID: String
    /// Position in this run's own order (1-based).
    public let runSeq: Int64
    /// Milliseconds since 1970 when the event was appended, from the engine's clock.
    public let atMillis: Int64
    /// Who caused the event: a person (`alice`) or a process (`cutover@host:4242`).
    public let actor: String
    public let body: EventBody
    /// The canonical JSON of the body, exactly as stored and hashed.
    public let bodyJSON: String
    /// The body's kind (its entry in `EventBody.kinds`).
    public let kind: EventKind
    /// The name of the body's kind, as stored in the `type` column.
    public var type: String { kind.name }
    /// SHA-256 over the previous event's hash and this event's canonical bytes
    /// (`CanonicalEvent`); empty when the reader did not need it.
    public let hash: [UInt8]

    public init(
        seq: Int64, runID: String, runSeq: Int64, atMillis: Int64, actor: String,
        body: EventBody, bodyJSON: String, hash: [UInt8], kind: EventKind? = nil
    ) {
        self.seq = seq
        self.runID = runID
        self.runSeq = runSeq
        self.atMillis = atMillis
        self.actor = actor
        self.body = body
        self.kind = kind ?? body.kind
        self.bodyJSON = bodyJSON
        self.hash = hash
    }

    public var at: Date { Date(timeIntervalSince1970: Double(atMillis) / 1_000) }

    /// The step the event is about, if any.
    public var stepID: String? { kind.stepID(body) }

    public static func == (a: Event, b: Event) -> Bool {
        a.seq == b.seq && a.runID == b.runID && a.runSeq == b.runSeq && a.atMillis == b.atMillis && a.actor == b.actor && a.body == b.body
            && a.bodyJSON == b.bodyJSON && a.hash == b.hash
    }
}

/// An event before it is appended: the log assigns its sequence numbers and hash.
public struct EventDraft: Sendable {
    public let atMillis: Int64
    public let actor: String
    public let body: EventBody

    public init(at: Date, actor: String, body: EventBody) {
        self.atMillis = Int64((at.timeIntervalSince1970 * 1_000).rounded(.down))
        self.actor = actor
        self.body = body
    }
}

/// Live runs change production; drills change it and roll it back on purpose; readiness
/// runs only check (the weekly "could we fail over now?") and change nothing.
public enum RunMode: String, Codable, Sendable {
    case live
    case drill
    case readiness

    /// Drills and readiness checks run with the runbook's `drill` overrides.
    public var usesDrillSettings: Bool { self != .live }
}
