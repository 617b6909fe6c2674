import CutoverCore
import CutoverCrypto
import CutoverStore
import Foundation

/// `status`, `list` and `history`: reading the log, never writing it.
enum InspectCommands {
    static func status(_ args: Arguments, _ ctx: Context) async throws -> Int32 {
        let store = try ctx.openStore(creating: false)
        let runID: String
        if args.positionals.isEmpty {
            guard let last = try store.runIDs().last else { throw CommandFailure("no runs yet in \(ctx.dbPath)") }
            runID = last
        } else {
            runID = try args.positionals("RUN")[0]
        }
        let state = try fold(runID, store)
        let view = try RunView(state, store: store)
        let halt = try HaltCommands.current(store)
        let shipped = await LogCommands.lag(store, ctx)
        if args.has("--json") {
            var o = Summary.json(state, changes: state.changes(ctx.registry)).objectValue ?? [:]
            o.merge(view.json) { _, new in new }
            if let halt { o["halt"] = HaltCommands.json(halt) }
            if !shipped.isEmpty { o["shipping"] = .array(shipped.map(\.json)) }
            ctx.console.json(JSONValue.object(o))
            return ExitCode.ok
        }
        let c = ctx.console
        let plan = state.plan!
        if let halt { HaltCommands.banner(halt, c) }
        c.out(c.paint(line(runID), .bold) + "  \(line(plan.workflow)) for \(line(plan.scope)) (\(plan.mode.rawValue))  " + c.paint(view.verdict.text, RunView.tone(view.verdict.tone)))
        c.out("started \(Summary.iso(state.startedAtMillis)) by \(line(plan.startedBy)); last event \(Summary.iso(state.lastEventMillis))")
        c.out("workflow \(plan.workflowDigest.prefix(16)) · runbook \(plan.runbookDigest.prefix(16)) (SHA-256 of the definitions as run)")
        if let driver = view.driver { c.out("driven by \(line(driver))") }
        if let a = view.approvals {
            let who = a.counted.isEmpty ? "none yet" : a.counted.map(line).joined(separator: ", ")
            let more = a.counted.count < a.required && !a.others.isEmpty ? "; may approve: \(a.others.map(line).joined(separator: ", "))" : ""
            c.out("approvals for \(line(a.step)): \(a.counted.count) of \(a.required) (\(who))\(more)")
        }
        for note in view.notes { c.out(c.paint(line(note), .yellow)) }
        for s in shipped { c.out(s.problem == nil && s.behindEvents == 0 ? s.text : c.paint(s.text, .yellow)) }
        c.out("")
        let rows = state.orderedSteps.map { step -> [String] in
            let planned = state.planned(step.id)
            let duration = step.firstStartedMillis.flatMap { f in step.finishedMillis.map { DurationText.format(.milliseconds($0 - f)) } } ?? ""
            let undo = planned?.isCompensable == true ? (step.compensation == .pending ? (step.phase == .succeeded ? "to undo" : "") : step.compensation.rawValue) : ""
            return [line(step.id), line(planned?.type ?? "") + (planned?.pivot == true ? " (pivot)" : ""), step.phase.rawValue, "\(step.attempts)", duration, undo]
        }
        for line in Table.render(["STEP", "TYPE", "STATE", "ATTEMPTS", "TOOK", "UNDO"], rows) { c.out("  " + line) }
        if let failing = state.orderedSteps.last(where: { $0.lastError != nil && $0.phase != .succeeded }), let e = failing.lastError {
            c.out("")
            c.out("last error (\(line(failing.id))): \(line(e.message))")
        }
        c.out("")
        Summary.print(state, ctx, json: false, view: view)
        return ExitCode.ok
    }

    static func list(_ args: Arguments, _ ctx: Context) throws -> Int32 {
        guard ctx.logExists else {
            if args.has("--json") { return ExitCode.ok }
            ctx.console.out("no runs yet (\(ctx.dbPath) does not exist)")
            return ExitCode.ok
        }
        let store = try ctx.openStore(creating: false)
        let views = try store.runIDs().map { try RunView(fold($0, store), store: store) }
        let halt = try HaltCommands.current(store)
        if args.has("--json") {
            // A halt comes first, as a line of its own kind.
            if let halt { ctx.console.json(HaltCommands.json(halt)) }
            for v in views {
                let s = v.state
                ctx.console.json(JSONValue.object([
                    "kind": .string("run"), "run": .string(s.runID), "state": .string(s.status.rawValue), "verdict": .string(v.verdict.text), "service": .string(s.plan?.scope ?? ""),
                    "workflow": .string(s.plan?.workflow ?? ""), "mode": .string(s.plan?.mode.rawValue ?? ""),
                    "startedBy": .string(s.plan?.startedBy ?? ""), "startedAt": .string(Summary.iso(s.startedAtMillis)),
                    "startedAtMillis": .int(s.startedAtMillis ?? 0),
                ]))
            }
            return ExitCode.ok
        }
        let rows = views.map { v in
            let s = v.state
            return [line(s.runID), line(s.plan?.scope ?? ""), line(s.plan?.workflow ?? ""), s.plan?.mode.rawValue ?? "", ctx.console.paint(v.verdict.text, RunView.tone(v.verdict.tone)),
             Summary.iso(s.startedAtMillis), line(s.plan?.startedBy ?? "")]
        }
        if let halt { HaltCommands.banner(halt, ctx.console) }
        for line in Table.render(["RUN", "SERVICE", "WORKFLOW", "MODE", "STATE", "STARTED", "BY"], rows) { ctx.console.out(line) }
        return ExitCode.ok
    }

    static func history(_ args: Arguments, _ ctx: Context) throws -> Int32 {
        let runID = try args.positionals("RUN")[0]
        let store = try ctx.openStore(creating: false)
        let events = try store.events(of: runID, after: 0)
        guard !events.isEmpty else { throw StoreError.unknownRun(runID) }
        let stepWidth = max(4, events.compactMap { $0.body.stepID?.count }.max() ?? 0)
        let c = ctx.console
        if !args.has("--json") {
            c.out(c.paint("   #  \("AT".padding(toLength: 24, withPad: " ", startingAt: 0))  \("HASH".padding(toLength: 12, withPad: " ", startingAt: 0))  \("EVENT".padding(toLength: 22, withPad: " ", startingAt: 0)) \("STEP".padding(toLength: stepWidth, withPad: " ", startingAt: 0))  WHAT", .dim))
        }
        for e in events {
            if args.has("--json") {
                c.json(eventJSON(e))
            } else {
                let step = line(e.body.stepID ?? "")
                c.out("\(String(e.runSeq).leftPad(4))  \(Summary.iso(e.atMillis))  \(Hex.encode(e.hash).prefix(12))  \(line(e.type).padding(toLength: 22, withPad: " ", startingAt: 0)) \(step.padding(toLength: stepWidth, withPad: " ", startingAt: 0))  \(line(describe(e)))")
            }
        }
        return ExitCode.ok
    }

    /// One event as JSON: `history --json`, and the event lines of `start --json`,
    /// `resume --json` and `watch --json`.
    static func eventJSON(_ e: Event) -> JSONValue {
        .object([
            "kind": .string("event"), "run": .string(e.runID), "seq": .int(e.seq), "runSeq": .int(e.runSeq), "type": .string(e.type),
            "step": e.body.stepID.map(JSONValue.string) ?? .null, "at": .string(Summary.iso(e.atMillis)), "atMillis": .int(e.atMillis),
            "actor": .string(e.actor), "hash": .string(Hex.encode(e.hash)), "body": (try? JSONValue.parse(Data(e.bodyJSON.utf8))) ?? .null,
        ])
    }

    /// At most `limit` characters of `text`, with "…" where it was cut.
    static func cut(_ text: String, _ limit: Int = 160) -> String {
        text.count > limit ? text.prefix(limit - 1) + "…" : text
    }

    static func fold(_ runID: String, _ store: any EventStore) throws -> RunState {
        let events = try store.events(of: runID, after: 0)
        guard !events.isEmpty else { throw StoreError.unknownRun(runID) }
        do { return try RunState.fold(runID, events) } catch let e as FoldError {
            throw CommandFailure("run \(runID) does not fold: \(e); run `cutover audit verify` on this database")
        }
    }

    /// Log text on one line of a terminal: control characters and newlines written out visibly.
    static func line(_ text: String) -> String { TerminalText.escaped(text) }

    /// One human line for an event in `history`.
    static func describe(_ e: Event) -> String {
        switch e.body {
        case .runStarted(let p): "\(p.workflow) for \(p.scope), \(p.mode.rawValue), by \(p.startedBy) (workflow \(p.workflowDigest.prefix(12)))"
        case .driverAttached(let p): "\(p.owner)\(p.resumed ? " (resumed)" : "")"
        case .stepStarted(let p), .compensationStarted(let p), .compensationSucceeded(let p): "attempt \(p.attempt)"
        case .stepSucceeded(let p): "attempt \(p.attempt)\(p.observed ? " (observed after restart)" : ""): \(cut(p.output.canonicalString))"
        case .stepFailed(let p), .compensationFailed(let p):
            "attempt \(p.attempt) [\(p.error.code)] \(p.error.message)\(p.retryAtMillis.map { " · retry at \(Summary.iso($0))" } ?? "")"
        case .stepNote(let p): p.message
        case .stepProgress(let p): p.message
        case .beforeRecorded(let p): "before: \(cut(p.state.canonicalString))"
        case .timerSet(let p): "\(p.name) until \(Summary.iso(p.untilMillis))"
        case .approvalRequested(let p): "\(p.required) of \(p.approvers.isEmpty ? "anyone" : p.approvers.joined(separator: ", "))"
        case .approvalGranted(let p): "by \(p.by)\(p.comment.map { ": \($0)" } ?? "")"
        case .safetyChecked(let p):
            "rule \(p.rule) \(p.held ? "holds" : p.overriddenBy.map { "does not hold, overridden by \($0)" } ?? "does not hold"): \(p.detail)\(p.recheckAtMillis.map { " · looked at again at \(Summary.iso($0))" } ?? "")\(p.stops == true ? " · stops for a person" : "")"
        case .safetyOverridden(let p): "rule \(p.rule) overridden by \(p.by): \(p.reason)"
        case .pauseRequested(let p), .resumeRequested(let p), .abortRequested(let p), .rollbackRequested(let p), .runPaused(let p), .runResumed(let p):
            "by \(e.actor)\(p.reason.map { ": \($0)" } ?? "")"
        case .rollbackStarted(let p): "\(p.planned ? "planned" : "unplanned"): \(p.reason)"
        case .runSucceeded, .runRolledBack, .runFailed, .runAborted:
            {
                if case .runRolledBack(let o) = e.body { return "\(o.planned == true ? "planned" : "unplanned")\(o.reason.map { ": \($0)" } ?? "")" }
                if case .runFailed(let o) = e.body { return o.reason ?? "" }
                if case .runAborted(let o) = e.body { return o.reason ?? "" }
                return ""
            }()
        case .runNeedsAttention(let p): p.reason
        case .scheduleAdded(let d): "\(d.cron) (\(d.timeZone)), \(d.mode.rawValue) of \(d.workflow) with \(d.runbook), catch-up \(d.catchUp.rawValue)"
        case .schedulePaused(let p), .scheduleResumed(let p), .scheduleRemoved(let p): "by \(e.actor)\(p.reason.map { ": \($0)" } ?? "")"
        case .drillDue(let p): "due \(Summary.iso(p.dueAtMillis))\(p.catchingUp.map { ", standing in for \($0.count) missed" } ?? "")"
        case .drillStarted(let p): "due \(Summary.iso(p.dueAtMillis)): run \(p.run)"
        case .drillSkipped(let p): "due \(Summary.iso(p.dueAtMillis)): \(p.reason)"
        case .drillsMissed(let p): "\(p.total) firing(s) missed (first \(Summary.iso(p.dueAtMillis.first ?? 0))), policy \(p.policy.rawValue)"
        case .drillFinished(let p): "\(p.run) \(p.status): \(p.summary)\(p.logShipping.map { "; " + $0.joined(separator: "; ") } ?? "")"
        case .drillNotified(let p): "\(p.run) \(p.format): \(p.delivered ? "delivered" : "NOT delivered"), \(p.detail)"
        case .logImported(let p): "\(p.events) events and \(p.checkpoints) checkpoints from \(p.source), by \(e.actor)"
        case .haltRequested(let p): "every run halted by \(e.actor)\(p.reason.map { ": \($0)" } ?? "")"
        case .haltLifted(let p): "halt lifted by \(e.actor)\(p.reason.map { ": \($0)" } ?? "")"
        }
    }
}

extension String {
    func leftPad(_ n: Int) -> String { count >= n ? self : String(repeating: " ", count: n - count) + self }
}

/// Columns aligned by their widest cell (ANSI colour codes not counted).
enum Table {
    static func render(_ header: [String], _ rows: [[String]]) -> [String] {
        let all = [header] + rows
        var widths = [Int](repeating: 0, count: header.count)
        for row in all { for (i, cell) in row.enumerated() { widths[i] = max(widths[i], visible(cell)) } }
        return all.map { row in
            row.enumerated().map { i, cell in
                i == row.count - 1 ? cell : cell + String(repeating: " ", count: widths[i] - visible(cell) + 2)
            }.joined()
        }
    }

    static func visible(_ s: String) -> Int {
        var n = 0
        var inEscape = false
        for ch in s {
            if ch == "\u{1B}" { inEscape = true } else if inEscape { if ch == "m" { inEscape = false } } else { n += 1 }
        }
        return n
    }
}
