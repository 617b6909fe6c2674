import CutoverCore
import Foundation

/// Live progress of a run, one line per thing that happened: symbols and colour on a
/// terminal, plain words otherwise (logs, CI, pipes).
final class Progress: @unchecked Sendable {
    // @unchecked: `started` is only touched under `lock`; the engine calls `observe` from one actor.
    private let console: Console
    /// JSON Lines: every event of the run as it is appended, one object per line.
    private let json: Bool
    private let lock = NSLock()
    private var started: [String: Int64] = [:]

    init(_ console: Console, json: Bool) {
        self.console = console
        self.json = json
    }

    func observe(_ event: Event, _ state: RunState) {
        if json {
            console.json(InspectCommands.eventJSON(event))
            return
        }
        guard let line = line(for: event, state) else { return }
        console.out(line)
    }

    private func line(for event: Event, _ state: RunState) -> String? {
        let c = console
        let t = c.isTerminal
        // The step column, padded for a terminal only (plain lines name the step in words).
        let id = t ? event.body.stepID ?? "" : ""
        let step = id.count >= 14 ? id : id + String(repeating: " ", count: 14 - id.count)
        // Since this process saw it begin, else since the log says it began (a step another
        // process started, before a detach or a crash).
        func since(_ key: String, else recorded: Int64? = nil) -> String {
            lock.lock()
            defer { lock.unlock() }
            guard let s = started[key] ?? recorded else { return "" }
            return DurationText.format(.milliseconds(event.atMillis - s))
        }
        // Members of a parallel group run side by side: their notes say whose they are.
        func member(_ id: String) -> String { state.planned(id)?.group == nil ? "" : "\(id): " }
        func mark(_ key: String) {
            lock.lock()
            started[key] = event.atMillis
            lock.unlock()
        }
        switch event.body {
        case .runStarted(let p):
            mark("run")
            return "\(t ? c.paint("cutover", .bold) : "run") \(p.workflow) for \(p.scope) (\(p.mode.rawValue)) started by \(p.startedBy); \(p.steps.count) steps"
        case .driverAttached(let p):
            return p.resumed ? (t ? c.paint("  resumed by this process", .dim) : "driver attached (resume)") : nil
        case .stepStarted(let p):
            mark("step:\(p.step)")
            let type = state.planned(p.step)?.type ?? ""
            let attempt = p.attempt > 1 ? " attempt \(p.attempt)" : ""
            let group = state.planned(p.step)?.group.map { " in parallel group \($0)" } ?? ""
            return t ? "  \(c.paint("→", .cyan)) \(step)\(c.paint(type + attempt + group, .dim))" : "step \(p.step) started (\(type), attempt \(p.attempt))\(group)"
        case .stepSucceeded(let p):
            if p.observed {
                return t ? "  \(c.paint("✓", .green)) \(step)already done, found on resume" : "step \(p.step) succeeded (already done, found on resume)"
            }
            let d = since("step:\(p.step)", else: state.steps[p.step]?.firstStartedMillis)
            return t ? "  \(c.paint("✓", .green)) \(step)\(d)" : "step \(p.step) succeeded in \(d)"
        case .stepFailed(let p):
            let retry = p.retryAtMillis.map { "; next attempt in \(DurationText.format(.milliseconds(max(0, $0 - event.atMillis))))" } ?? ""
            return t ? "  \(c.paint("✗", .red)) \(step)attempt \(p.attempt): \(p.error.message)\(retry)" : "step \(p.step) attempt \(p.attempt) failed [\(p.error.code)]: \(p.error.message)\(retry)"
        case .stepNote(let p):
            return t ? "    \(c.paint(member(p.step) + p.message, .dim))" : "step \(p.step): \(p.message)"
        case .stepProgress(let p):
            return t ? "    \(c.paint(member(p.step) + p.message, .dim))" : "step \(p.step): \(p.message)"
        case .beforeRecorded:
            return nil
        case .timerSet(let p):
            let until = Date(timeIntervalSince1970: Double(p.untilMillis) / 1_000)
            let text = "waiting \(DurationText.format(.milliseconds(p.untilMillis - event.atMillis))) (until \(Self.clock(until)))"
            return t ? "    \(c.paint(text, .dim))" : "step \(p.step) \(text)"
        case .approvalRequested(let p):
            let who = p.approvers.isEmpty ? "anyone" : p.approvers.joined(separator: ", ")
            let excluded = p.excluded.isEmpty ? "" : "; not \(p.excluded.joined(separator: ", ")), who started it"
            let signed = p.keys?.isEmpty == false ? " --key FILE (signed)" : ""
            let text = "waiting for \(p.required) approval\(p.required == 1 ? "" : "s") from \(who)\(excluded): cutover approve \(state.runID)\(signed)"
            return t ? "  \(c.paint("⏸", .yellow)) \(step)\(text)" : "step \(p.step) \(text)"
        case .approvalGranted(let p):
            let how = p.signature != nil ? " (signed)" : p.standing != nil ? " (standing approval)" : ""
            return t ? "    \(c.paint("approved by \(p.by)\(how)", .green))" : "step \(p.step) approved by \(p.by)\(how)"
        case .safetyChecked(let p) where p.held:
            return t ? "    \(c.paint(member(p.step) + "safety rule \(p.rule) holds: \(p.detail)", .dim))" : "step \(p.step): safety rule \(p.rule) holds: \(p.detail)"
        case .safetyChecked(let p):
            let what = p.overriddenBy.map { "does not hold, overridden by \($0)" } ?? "does not hold"
            let next = p.recheckAtMillis.map { "; looked at again in \(DurationText.format(.milliseconds(max(0, $0 - event.atMillis))))" } ?? (p.stops == true ? "; the run stops for a person" : "")
            let text = "safety rule \(p.rule) \(what) before \(p.step): \(p.detail)\(next)"
            return t ? "  \(c.paint("⚠", .yellow)) \(text)" : "step \(p.step): \(text)"
        case .safetyOverridden(let p):
            return t ? "    \(c.paint("safety rule \(p.rule) overridden by \(p.by): \(p.reason)", .yellow))" : "step \(p.step): safety rule \(p.rule) overridden by \(p.by): \(p.reason)"
        case .pauseRequested, .resumeRequested, .abortRequested, .rollbackRequested:
            return "  \(event.type.replacingOccurrences(of: "Requested", with: "").lowercased()) requested by \(event.actor)"
        case .runPaused(let p) where p.halt == true:
            let why = p.reason ?? "the log is halted"
            return t ? "  \(c.paint("⏸ paused", .yellow)): \(why); it carries on once `cutover unhalt` lifts the halt" : "run paused: \(why); it carries on once cutover unhalt lifts the halt"
        case .runPaused:
            return t ? "  \(c.paint("⏸ paused", .yellow)); `cutover resume \(state.runID)` continues" : "run paused; cutover resume \(state.runID) continues"
        case .runResumed(let p) where p.halt == true:
            return "  resumed: \(p.reason ?? "the halt was lifted")"
        case .runResumed:
            return "  resumed"
        case .rollbackStarted(let p):
            mark("rollback")
            return t ? "  \(c.paint("↺ rolling back", .yellow)): \(p.reason)" : "rollback started (\(p.planned ? "planned" : "unplanned")): \(p.reason)"
        case .compensationStarted(let p):
            mark("comp:\(p.step)")
            return t ? nil : "compensation of \(p.step) started (attempt \(p.attempt))"
        case .compensationSucceeded(let p):
            let d = since("comp:\(p.step)")
            return t ? "  \(c.paint("↺", .green)) \(step)restored \(d)" : "compensation of \(p.step) succeeded in \(d)"
        case .compensationFailed(let p):
            let retry = p.retryAtMillis.map { "; next attempt in \(DurationText.format(.milliseconds(max(0, $0 - event.atMillis))))" } ?? ""
            return t ? "  \(c.paint("✗", .red)) \(step)restore attempt \(p.attempt): \(p.error.message)\(retry)" : "compensation of \(p.step) attempt \(p.attempt) failed: \(p.error.message)\(retry)"
        case .runSucceeded, .runRolledBack, .runFailed, .runAborted, .runNeedsAttention:
            return nil  // the summary says it
        case .scheduleAdded, .schedulePaused, .scheduleResumed, .scheduleRemoved, .drillDue, .drillStarted, .drillSkipped,
            .drillsMissed, .drillFinished, .drillNotified, .logImported, .haltRequested, .haltLifted:
            return nil  // not a run's event
        }
    }

    static func clock(_ date: Date) -> String {
        let f = DateFormatter()
        f.locale = Locale(identifier: "en_US_POSIX")
        f.timeZone = TimeZone(identifier: "UTC")
        f.dateFormat = "HH:mm:ss 'UTC'"
        return f.string(from: date)
    }
}
