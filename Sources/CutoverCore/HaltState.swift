/// The log's halt, folded from `LogStream.halt`: `cutover halt` stops every active run at its
/// next step boundary (or in its wait) and refuses new starts and scheduled drills, until
/// `cutover unhalt`. Pure, like a run's fold.
public struct HaltState: Sendable, Equatable {
    public private(set) var halted = false
    /// Who halted the log (the event's proven actor), why and when.
    public private(set) var by: String?
    public private(set) var reason: String?
    public private(set) var atMillis: Int64?
    /// Who lifted the latest halt.
    public private(set) var liftedBy: String?
    public private(set) var lastRunSeq: Int64 = 0

    public init() {}

    /// - Throws: `FoldError` for an event out of place: a halt of a halted log, a lift of one
    ///   that is not, or any other kind of event.
    public mutating func apply(_ event: Event) throws {
        guard event.runSeq == lastRunSeq + 1 else {
            throw FoldError(event, "halt stream position \(event.runSeq) does not follow \(lastRunSeq)")
        }
        switch event.body {
        case .haltRequested(let p):
            guard !halted else { throw FoldError(event, "halts a log already halted by \(by ?? "someone")") }
            halted = true
            by = event.actor
            reason = p.reason
            atMillis = event.atMillis
        case .haltLifted:
            guard halted else { throw FoldError(event, "lifts a halt, but the log is not halted") }
            halted = false
            liftedBy = event.actor
        default:
            throw FoldError(event, "has no place in \(LogStream.halt), which holds HaltRequested and HaltLifted events only")
        }
        lastRunSeq = event.runSeq
    }

    public static func fold(_ events: some Sequence<Event>) throws -> HaltState {
        var state = HaltState()
        for e in events { try state.apply(e) }
        return state
    }

    /// "halted by NAME at TIME: REASON", for messages and events.
    public var summary: String {
        "halted by \(by ?? "someone") at \(atMillis.map(TimeText.rfc3339) ?? "?")\(reason.map { ": \($0)" } ?? "")"
    }
}
