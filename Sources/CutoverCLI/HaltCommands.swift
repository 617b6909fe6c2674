import CutoverCore
import CutoverEngine
import Foundation

/// `cutover halt` and `cutover unhalt`: the safety lever. A halt is an event in the log's own
/// stream; every driver and worker reads it at step boundaries, in waits and right before each
/// change, and pauses its run there; starts and scheduled drills are refused while it holds.
enum HaltCommands {
    static func halt(_ args: Arguments, _ ctx: Context) throws -> Int32 {
        guard let reason = args["--reason"], !reason.allSatisfy(\.isWhitespace) else {
            throw UsageError("missing --reason TEXT: a halt says why, for everyone whose run it stops")
        }
        let store = try ctx.openStore(creating: true)
        let state = try record(.haltRequested(Signal(reason: reason)), by: ctx.actor(of: store), store) {
            $0.halted ? "the log is already \($0.summary); nothing recorded (`cutover unhalt` lifts it)" : nil
        }
        let c = ctx.console
        c.out(c.paint("halted", .red) + ": \(state.summary)")
        c.out("every active run pauses at its next step boundary, wait or change; new starts and scheduled drills are refused until `cutover unhalt`")
        return ExitCode.ok
    }

    static func unhalt(_ args: Arguments, _ ctx: Context) throws -> Int32 {
        let store = try ctx.openStore(creating: false)
        let state = try record(.haltLifted(Signal(reason: args["--reason"])), by: ctx.actor(of: store), store) {
            $0.halted ? nil : "the log is not halted; nothing recorded"
        }
        ctx.console.out("halt lifted by \(state.liftedBy.map(InspectCommands.line) ?? "?"): runs it paused carry on (their drivers, or a worker's); starts are allowed again")
        return ExitCode.ok
    }

    /// Appends to the halt stream after folding it; `refusal` says why not, from the fold.
    private static func record(_ body: EventBody, by actor: String, _ store: any EventStore, refusal: (HaltState) -> String?) throws -> HaltState {
        for _ in 0..<20 {
            var state = try HaltState.fold(try store.events(of: LogStream.halt, after: 0))
            if let why = refusal(state) { throw CommandFailure(why) }
            do {
                let appended = try store.append(
                    [EventDraft(at: Date(), actor: actor, body: body)], to: LogStream.halt, expectedNext: state.lastRunSeq + 1,
                    options: AppendOptions(now: Date()))
                for e in appended { try state.apply(e) }
                return state
            } catch let e as StoreError where e.code == .conflict {
                continue
            }
        }
        throw CommandFailure("the log's halt is changing too fast to record this; try again")
    }

    /// The halt as `status` and `list` show it, or nil when the log is not halted.
    static func current(_ store: any EventStore) throws -> HaltState? {
        let state = try HaltState.fold(try store.events(of: LogStream.halt, after: 0))
        return state.halted ? state : nil
    }

    static func json(_ h: HaltState) -> JSONValue {
        .object([
            "kind": .string("halt"), "halted": .bool(true), "by": .string(h.by ?? ""), "reason": .string(h.reason ?? ""),
            "at": .string(Summary.iso(h.atMillis)),
        ])
    }

    static func banner(_ h: HaltState, _ c: Console) {
        c.out(c.paint("HALTED", .red) + " \(InspectCommands.line(h.summary)); `cutover unhalt` lifts it")
    }
}
