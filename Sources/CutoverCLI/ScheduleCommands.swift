import CutoverCore
import CutoverEngine
import CutoverSchedule
import CutoverStore
import Foundation

/// `cutover schedule add|list|next|pause|resume|remove` (declared in `Commands`): schedules
/// are events in the log.
enum ScheduleCommands {
    /// The schedule's NAME, the one operand.
    static func name(_ rest: [String]) throws -> String {
        guard let name = rest.first else { throw UsageError("missing NAME") }
        guard rest.count == 1 else { throw UsageError("unexpected argument \"\(rest[1])\"") }
        guard Workflow.isIdentifier(name) else { throw UsageError("schedule name \"\(name)\": use letters, digits, \"-\" or \"_\"") }
        return name
    }

    static func add(_ name: String, _ args: Arguments, _ ctx: Context) throws -> Int32 {
        let workflow = args.value("--workflow")
        let runbook = args.value("--runbook")
        let cronText = args.value("--cron")
        // The parser has made sure exactly one of --drill and --readiness-only is given.
        let mode: RunMode = args.has("--readiness-only") ? .readiness : .drill
        let cron: CronExpression
        do { cron = try CronExpression(parsing: cronText) } catch { throw CommandFailure("\(error); nothing was written", code: ExitCode.usage) }
        let zoneName = args.value("--tz")
        let zone: ZoneInfo
        do { zone = try ZoneInfo.load(zoneName) } catch { throw CommandFailure("--tz: \(error); nothing was written", code: ExitCode.usage) }
        // The parser has checked the value against the declared choices.
        let catchUp = CatchUpPolicy(rawValue: args.value("--catch-up")) ?? .skip
        var approvedBy: [String] = []
        for name in (args["--approved-by"] ?? "").split(separator: ",").map({ $0.trimmingCharacters(in: .whitespaces) }) where !name.isEmpty {
            // Approvals count distinct people: a name twice would promise one it cannot keep.
            guard !approvedBy.contains(name) else { throw UsageError("--approved-by: \(name) is named twice; approvals must come from different people") }
            approvedBy.append(name)
        }
        // Found once, kept as absolute paths; they must load now, as the scheduler will load
        // them at each firing.
        let runbookPath = absolute(try Definitions.locate(runbook, in: "runbooks", kind: "runbook"))
        let workflowPath = absolute(try Definitions.locate(workflow, in: "workflows", kind: "workflow"))
        let definition = ScheduleDefinition(
            name: name, workflow: workflowPath, runbook: runbookPath, cron: cron.source, timeZone: zone.identifier, mode: mode,
            catchUp: catchUp, approvedBy: approvedBy)
        let request = try SchedulerHost.request(definition, firing: ScheduledFiring(name: name, dueAtMillis: 0), ctx)
        try checkApprovals(request, approvedBy: approvedBy, workflow: workflow)
        if let hook = request.runbook.source["notify"]?["webhook"]?.stringValue, !SecretReference.isReference(hook),
            let host = URLComponents(string: hook)?.host, !["127.0.0.1", "localhost", "::1"].contains(host)
        {
            ctx.console.err(
                "warning: runbook \(request.runbook.file) has notify.webhook as a literal URL; webhook URLs often carry a token, and the runbook is snapshotted into the log with every run: use env:NAME")
        }
        let store = try ctx.openStore(creating: true)
        let existing = try store.schedule(name)
        if let existing, existing.definition != nil, !existing.removed {
            throw CommandFailure("schedule \(name) already exists (\(existing.definition!.cron)); `cutover schedule remove \(name)` first; nothing was written")
        }
        _ = try store.append(
            [EventDraft(at: Date(), actor: ctx.actor(of: store), body: .scheduleAdded(definition))], to: ScheduleStream.id(name),
            expectedNext: (existing?.lastRunSeq ?? 0) + 1, options: AppendOptions(now: Date()))
        let what = mode == .readiness ? "readiness check (\(request.workflow.steps.map(\.id).joined(separator: ", ")))" : "drill"
        ctx.console.out("schedule \(name) added: \(what) of \(request.workflow.name) for \(request.runbook.service), \(cron.source) in \(zone.identifier), catch-up \(catchUp.rawValue)")
        let now = Int64(Date().timeIntervalSince1970)
        for t in cron.times(after: now, count: 3, in: zone) { ctx.console.out("  next: \(LocalTimeText.format(t, zone))") }
        return ExitCode.ok
    }

    /// A scheduled drill runs unattended: its approval steps need standing approval from
    /// people the runbook allows to approve, enough of them for each step.
    private static func checkApprovals(_ request: Engine.StartRequest, approvedBy: [String], workflow: String) throws {
        let approvals = request.workflow.steps.filter { $0.type == "approval" }
        guard !approvals.isEmpty else { return }
        let allowed = request.runbook.approvers
        if let stranger = approvedBy.first(where: { !allowed.isEmpty && !allowed.contains($0) }) {
            throw CommandFailure(
                "--approved-by: \(stranger) is not an approver in runbook \(request.runbook.file) (\(allowed.joined(separator: ", "))); nothing was written",
                code: ExitCode.usage)
        }
        if let keyed = approvedBy.first(where: { name in request.runbook.approverList.contains { $0.name == name && $0.key != nil } }) {
            throw CommandFailure(
                "--approved-by: \(keyed) approves with a signature (runbook \(request.runbook.file) lists a key for them), which cannot be given in advance; name an approver without a key, or drop the key; nothing was written",
                code: ExitCode.usage)
        }
        for step in approvals {
            let required = step.with["required"]?.intValue ?? 1
            if approvedBy.count < required {
                let who = allowed.isEmpty ? "" : " (of \(allowed.joined(separator: ", ")))"
                throw CommandFailure(
                    "workflow \(workflow) waits for \(required) approval(s) at step \(step.id), and a scheduled drill runs unattended: pass --approved-by NAME[,NAME]\(who) to approve its drills in advance; nothing was written",
                    code: ExitCode.usage)
            }
        }
    }

    private static func absolute(_ path: String) -> String {
        path.hasPrefix("/") ? path : FileManager.default.currentDirectoryPath + "/" + path
    }

    static func signal(_ name: String, _ body: EventBody, _ args: Arguments, _ ctx: Context) throws -> Int32 {
        let store = try ctx.openStore(creating: false)
        guard let state = try store.schedule(name), state.definition != nil, !state.removed else {
            let known = try store.scheduleNames().filter { (try? store.schedule($0))??.removed == false }
            throw CommandFailure("no schedule \(name)\(Suggestion.hint(for: name, in: known)); `cutover schedule list` shows them")
        }
        switch body {
        case .schedulePaused where state.paused: throw CommandFailure("schedule \(name) is already paused; nothing recorded")
        case .scheduleResumed where !state.paused: throw CommandFailure("schedule \(name) is not paused; nothing recorded")
        default: break
        }
        _ = try store.append(
            [EventDraft(at: Date(), actor: ctx.actor(of: store), body: body)], to: ScheduleStream.id(name), expectedNext: state.lastRunSeq + 1,
            options: AppendOptions(now: Date()))
        let verb = switch body {
        case .schedulePaused: "paused: the scheduler starts none of its drills until `cutover schedule resume \(name)`"
        case .scheduleResumed: "resumed: firings from now on are started; those while paused are not made up"
        default: "removed; its history stays in the log"
        }
        ctx.console.out("schedule \(name) \(verb)")
        return ExitCode.ok
    }

    static func next(_ name: String, _ args: Arguments, _ ctx: Context) throws -> Int32 {
        let count = Int(args.value("--count")) ?? 0
        guard (1...1_000).contains(count) else { throw UsageError("--count: expected a number from 1 to 1000") }
        let store = try ctx.openStore(creating: false)
        guard let state = try store.schedule(name), let d = state.definition, !state.removed else {
            throw CommandFailure("no schedule \(name); `cutover schedule list` shows them")
        }
        let cron = try CronExpression(parsing: d.cron)
        let zone = try ZoneInfo.load(d.timeZone)
        let times = cron.times(after: Int64(Date().timeIntervalSince1970), count: count, in: zone)
        if args.has("--json") {
            for t in times { ctx.console.json(JSONValue.object(["at": .string(Summary.iso(t * 1_000)), "local": .string(LocalTimeText.format(t, zone))])) }
            return ExitCode.ok
        }
        ctx.console.out("\(name): \(d.cron) in \(d.timeZone)\(state.paused ? " (paused: none of these starts until resumed)" : "")")
        if times.isEmpty { ctx.console.out("  never fires") }
        for t in times { ctx.console.out("  \(LocalTimeText.format(t, zone))") }
        return ExitCode.ok
    }
}

/// "2027-03-28 03:00 CEST (01:00 UTC)": a firing as people near the schedule read it.
enum LocalTimeText {
    static func format(_ instant: Int64, _ zone: ZoneInfo) -> String {
        let offset = zone.offset(at: instant)
        let local = fmt(instant + Int64(offset), "yyyy-MM-dd HH:mm")
        let utc = fmt(instant, offset == 0 ? "" : "yyyy-MM-dd HH:mm")
        return offset == 0 ? "\(local) \(zone.abbreviation(at: instant))" : "\(local) \(zone.abbreviation(at: instant)) (\(utc) UTC)"
    }

    private static func fmt(_ seconds: Int64, _ pattern: String) -> String {
        let f = DateFormatter()
        f.locale = Locale(identifier: "en_US_POSIX")
        f.timeZone = TimeZone(identifier: "UTC")
        f.dateFormat = pattern
        return f.string(from: Date(timeIntervalSince1970: Double(seconds)))
    }
}

extension ScheduleCommands {
    static func list(_ rest: [String], _ args: Arguments, _ ctx: Context) throws -> Int32 {
        guard rest.isEmpty else { throw UsageError("unexpected argument \"\(rest[0])\"") }
        guard ctx.logExists else {
            ctx.console.out("no schedules (no event log at \(ctx.dbPath) yet)")
            return ExitCode.ok
        }
        let store = try ctx.openStore(creating: false)
        let schedules = try store.scheduleNames().compactMap { try store.schedule($0) }.filter { $0.definition != nil && !$0.removed }
        let now = Int64(Date().timeIntervalSince1970)
        func nextTime(_ d: ScheduleDefinition) -> (Int64, ZoneInfo)? {
            guard let cron = try? CronExpression(parsing: d.cron), let zone = try? ZoneInfo.load(d.timeZone), let t = cron.next(after: now, in: zone) else { return nil }
            return (t, zone)
        }
        if args.has("--json") {
            for s in schedules {
                let d = s.definition!
                var o: [String: JSONValue] = [
                    "name": .string(s.name), "cron": .string(d.cron), "timeZone": .string(d.timeZone), "mode": .string(d.mode.rawValue),
                    "workflow": .string(d.workflow), "runbook": .string(d.runbook), "catchUp": .string(d.catchUp.rawValue),
                    "paused": .bool(s.paused), "addedBy": .string(s.addedBy), "addedAt": .string(Summary.iso(s.addedAtMillis)),
                    "drills": .int(Int64(s.drills.count)), "skipped": .int(Int64(s.skips.count)),
                    "missed": .int(Int64(s.misses.reduce(0) { $0 + $1.missed.total })),
                ]
                if let (t, _) = nextTime(d), !s.paused { o["next"] = .string(Summary.iso(t * 1_000)) }
                if let last = s.drills.last {
                    o["lastRun"] = .string(last.run)
                    if let f = last.finished { o["lastPassed"] = .bool(f.passed) }
                }
                ctx.console.json(JSONValue.object(o))
            }
            return ExitCode.ok
        }
        guard !schedules.isEmpty else {
            ctx.console.out("no schedules; `cutover schedule add NAME --workflow W --runbook R --cron \"0 3 * * MON\" --readiness-only` makes one")
            return ExitCode.ok
        }
        let c = ctx.console
        let rows = schedules.map { s -> [String] in
            let d = s.definition!
            let next = s.paused ? c.paint("paused", .yellow) : nextTime(d).map { LocalTimeText.format($0.0, $0.1) } ?? "never"
            var last = "—"
            if let l = s.drills.last {
                let verdict = l.finished.map { $0.passed ? c.paint("passed", .green) : c.paint("did not pass", .red) } ?? "running"
                last = "\(Summary.iso(l.startedAtMillis).prefix(10)) \(verdict)"
            }
            let missed = s.misses.reduce(0) { $0 + $1.missed.total }
            let gaps = [s.skips.isEmpty ? nil : "\(s.skips.count) skipped", missed == 0 ? nil : "\(missed) missed"].compactMap { $0 }.joined(separator: ", ")
            return [s.name, d.mode.rawValue, "\(d.cron) \(d.timeZone)", next, last, gaps.isEmpty ? "—" : c.paint(gaps, .yellow)]
        }
        for line in Table.render(["SCHEDULE", "MODE", "CRON", "NEXT", "LAST", "GAPS"], rows) { c.out(line) }
        return ExitCode.ok
    }
}
