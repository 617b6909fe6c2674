/// The commands, their flags, and where each is carried out.
enum Command: String, CaseIterable {
    case validate, plan, preflight, start, resume, status, list, history, approve, pause, abort, rollback, keys, audit, report, schedule, scheduler

    var options: Set<String> {
        switch self {
        case .plan, .preflight: ["--runbook"]
        case .start: ["--runbook"]
        case .approve: ["--as", "--comment"]
        case .pause, .abort, .rollback: ["--reason"]
        case .keys: ["--dir"]
        case .audit: ["--run", "--key", "--bundle", "--at", "--format", "-o", "--checkpoint"]
        case .report: ["--since"]
        case .schedule: ["--workflow", "--runbook", "--cron", "--tz", "--catch-up", "--approved-by", "--count", "--reason"]
        case .scheduler: ["--poll", "--grace"]
        default: []
        }
    }

    /// Whether the command records who did what (the actor reaches the log).
    var recordsActor: Bool {
        switch self {
        case .start, .resume, .approve, .pause, .abort, .rollback, .schedule, .scheduler: true
        default: false
        }
    }

    /// Whether the command reads or writes the event log (validate and plan touch nothing).
    var usesDatabase: Bool { self != .validate && self != .plan && self != .preflight }

    var switches: Set<String> {
        switch self {
        case .validate: []
        case .plan, .preflight: ["--drill", "--json"]
        case .start: ["--drill", "--readiness-only", "--no-preflight", "--detach", "--json"]
        case .resume, .abort, .rollback: ["--detach", "--json"]
        case .status, .list, .history: ["--json"]
        case .approve, .pause, .keys: []
        case .audit: ["--json", "--chain-only"]
        case .report: ["--json"]
        case .schedule: ["--drill", "--readiness-only", "--json"]
        case .scheduler: ["--once"]
        }
    }

    func run(_ args: Arguments, _ ctx: Context) async throws -> Int32 {
        switch self {
        case .validate: try ValidateCommand.run(args, ctx)
        case .plan: try PlanCommand.run(args, ctx)
        case .preflight: try await PreflightCommand.run(args, ctx)
        case .start: try await StartCommand.run(args, ctx)
        case .resume: try await SignalCommands.resume(args, ctx)
        case .status: try InspectCommands.status(args, ctx)
        case .list: try InspectCommands.list(args, ctx)
        case .history: try InspectCommands.history(args, ctx)
        case .approve: try SignalCommands.approve(args, ctx)
        case .pause: try SignalCommands.pause(args, ctx)
        case .abort: try await SignalCommands.abort(args, ctx)
        case .rollback: try await SignalCommands.rollback(args, ctx)
        case .keys: try AuditCommands.keys(args, ctx)
        case .audit: try await AuditCommands.audit(args, ctx)
        case .report: try AuditCommands.report(args, ctx)
        case .schedule: try ScheduleCommands.run(args, ctx)
        case .scheduler: try await SchedulerCommand.run(args, ctx)
        }
    }
}

extension Arguments {
    /// Exactly `count` positionals, named in the usage error.
    func positionals(_ names: String...) throws -> [String] {
        if positionals.count < names.count {
            throw UsageError("missing \(names[positionals.count])")
        }
        if positionals.count > names.count {
            throw UsageError("unexpected argument \"\(positionals[names.count])\"")
        }
        return positionals
    }
}
