import CutoverCore
import CutoverStore
import Foundation

/// `approve`, `pause`, `resume`, `abort`, `rollback`: requests from people, recorded as
/// events that the driving process reads at step boundaries and during waits.
enum SignalCommands {
    static func pause(_ args: Arguments, _ ctx: Context) throws -> Int32 {
        let runID = try args.positionals("RUN")[0]
        let store = try ctx.openStore(creating: false)
        let state = try InspectCommands.fold(runID, store)
        guard [.running, .waitingApproval, .compensating].contains(state.status) else {
            throw CommandFailure("run \(runID) is \(state.status.rawValue) and cannot be paused; nothing recorded")
        }
        _ = try append(.pauseRequested(Signal(reason: args["--reason"])), to: runID, by: ctx.actor(of: store), store)
        ctx.console.out("pause requested for \(runID); the driver pauses at the next step boundary or wait")
        return ExitCode.ok
    }

    static func resume(_ args: Arguments, _ ctx: Context) async throws -> Int32 {
        let runID = try args.positionals("RUN")[0]
        let store = try ctx.openStore(creating: false)
        let state = try InspectCommands.fold(runID, store)
        if state.status.isTerminal {
            Summary.print(state, ctx, json: args.has("--json"))
            throw CommandFailure("run \(runID) is \(state.status.rawValue); there is nothing to resume (`cutover rollback \(runID)` undoes a succeeded run)")
        }
        if let halt = try HaltCommands.current(store) {
            throw CommandFailure("the log is \(halt.summary); nothing carries on until `cutover unhalt` (nothing recorded)", code: ExitCode.busy)
        }
        if (state.status == .paused || state.status == .needsAttention), state.resumeRequest == nil {
            _ = try append(.resumeRequested(Signal()), to: runID, by: ctx.actor(of: store), store)
        }
        return try await Driving.driveUnlessDriven(runID, store: store, ctx, detach: args.has("--detach"), json: args.has("--json"))
    }

    static func override(_ args: Arguments, _ ctx: Context) async throws -> Int32 {
        let operands = try args.positionals("RUN", "STEP", "RULE")
        let (runID, step, rule) = (operands[0], operands[1], operands[2])
        let store = try ctx.openStore(creating: false)
        let state = try InspectCommands.fold(runID, store)
        guard let planned = state.planned(step) else {
            throw CommandFailure("run \(runID) has no step \(InspectCommands.line(step)); its steps: \(state.plan?.steps.map(\.id).joined(separator: ", ") ?? "none") (nothing recorded)")
        }
        guard let rules = planned.safety, rules.contains(rule) else {
            let guarding = planned.safety.map { "the rules guarding it: \($0.joined(separator: ", "))" } ?? "no rule guards it"
            throw CommandFailure("safety rule \(InspectCommands.line(rule)) does not guard step \(step) of run \(runID); \(guarding) (nothing recorded)")
        }
        guard !state.status.isTerminal, state.steps[step]?.phase != .succeeded else {
            throw CommandFailure("run \(runID) is \(state.status.rawValue) and step \(step) will not start again; there is nothing to override (nothing recorded)")
        }
        let actor = ctx.actor(of: store)
        let body = SafetyOverridden(step: step, rule: rule, by: actor, reason: args["--reason"] ?? "")
        if let problem = state.overrideProblem(body, actor: actor) {
            throw CommandFailure("your override would not count: \(problem); ask one of the runbook's approvers (nothing recorded)")
        }
        if let halt = try HaltCommands.current(store) {
            throw CommandFailure("the log is \(halt.summary); nothing carries on until `cutover unhalt` (nothing recorded)", code: ExitCode.busy)
        }
        _ = try append(.safetyOverridden(body), to: runID, by: actor, store)
        ctx.console.out("safety rule \(rule) overridden for step \(step) of \(runID) by \(actor)")
        return try await Driving.driveUnlessDriven(runID, store: store, ctx, detach: args.has("--detach"), json: args.has("--json"))
    }

    static func abort(_ args: Arguments, _ ctx: Context) async throws -> Int32 {
        let runID = try args.positionals("RUN")[0]
        let store = try ctx.openStore(creating: false)
        let state = try InspectCommands.fold(runID, store)
        guard !state.status.isTerminal, state.status != .compensating, !(state.status == .paused && state.statusBeforePause == .compensating) else {
            throw CommandFailure("run \(runID) is \(state.status.rawValue); abort stops a run in progress (nothing recorded)")
        }
        _ = try append(.abortRequested(Signal(reason: args["--reason"])), to: runID, by: ctx.actor(of: store), store)
        ctx.console.out("abort requested for \(runID); what changed is compensated in reverse (never past the pivot of a live run)")
        return try await Driving.driveUnlessDriven(runID, store: store, ctx, detach: args.has("--detach"), json: args.has("--json"), goal: .undo)
    }

    static func rollback(_ args: Arguments, _ ctx: Context) async throws -> Int32 {
        let runID = try args.positionals("RUN")[0]
        let store = try ctx.openStore(creating: false)
        let state = try InspectCommands.fold(runID, store)
        guard state.status == .succeeded || state.status == .needsAttention else {
            let hint = state.status == .compensating ? "; its rollback is under way or was interrupted: `cutover resume \(runID)` carries it on" : ""
            throw CommandFailure("run \(runID) is \(state.status.rawValue); rollback undoes a succeeded run or one that needs attention (nothing recorded)\(hint)")
        }
        do {
            _ = try append(.rollbackRequested(Signal(reason: args["--reason"])), to: runID, by: ctx.actor(of: store), store, relock: state.status == .succeeded)
        } catch let locked as StoreError where locked.code == .scopeLocked {
            let scope = locked.scope ?? "", holder = locked.holder ?? ""
            throw CommandFailure("service \(scope) has another active run, \(holder); finish it before rolling back \(runID) (nothing recorded)", code: ExitCode.busy)
        }
        ctx.console.out("rollback requested for \(runID); compensating every completed step in reverse, the pivot included")
        return try await Driving.driveUnlessDriven(runID, store: store, ctx, detach: args.has("--detach"), json: args.has("--json"), goal: .undo)
    }

    /// Appends one signal after the run's latest event, folding again if someone else wrote first.
    static func append(_ body: EventBody, to runID: String, by actor: String, _ store: any EventStore, relock: Bool = false) throws -> RunState {
        for _ in 0..<20 {
            let events = try store.events(of: runID, after: 0)
            var state = try RunState.fold(runID, events)
            do {
                let appended = try store.append(
                    [EventDraft(at: Date(), actor: actor, body: body)], to: runID, expectedNext: state.lastRunSeq + 1,
                    options: AppendOptions(now: Date(), lockScope: relock ? state.plan?.scope : nil))
                for e in appended { try state.apply(e) }
                return state
            } catch let e as StoreError where e.code == .conflict {
                continue
            }
        }
        throw CommandFailure("run \(runID) is changing too fast to record this; try again")
    }

    static func nextStepHint(_ runID: String, _ store: any EventStore) -> String {
        if let holder = try? store.leaseHolder(run: runID), holder.expires > Date(), !ProcessIdentity.isGone(holder.owner) {
            return "enough approvals; the driving process (\(holder.owner)) carries on"
        }
        return "enough approvals; run `cutover resume \(runID)` to carry on"
    }
}
