import CutoverCore
import CutoverCrypto
import CutoverEngine
import Foundation

/// `cutover start WORKFLOW --runbook RUNBOOK [--drill | --readiness-only] [--no-preflight] [--detach] [--json]`.
enum StartCommand {
    static func run(_ args: Arguments, _ ctx: Context) async throws -> Int32 {
        let workflow = try args.positionals("WORKFLOW")[0]
        let runbook = args.value("--runbook")
        let mode: RunMode = args.has("--readiness-only") ? .readiness : args.has("--drill") ? .drill : .live
        // Everything is validated before the database is even opened.
        var (wf, rb, wfDigest, rbDigest) = try Definitions.load(workflow: workflow, runbook: runbook, mode: mode, registry: ctx.registry)
        let registry = ctx.registry
        if mode == .readiness {
            // The checks alone, recorded as a run (as readiness schedules make them): what they
            // find is the run's outcome, so preflight does not run them first.
            wf = try wf.readinessOnly(kindOf: { registry[$0.type]?.kind(with: $0.with) }, file: try Definitions.locate(workflow, in: "workflows", kind: "workflow"))
            wfDigest = SHA256.hex(wf.source.canonicalString)
        } else if !args.has("--no-preflight") {
            try await PreflightCommand.beforeStart(wf, rb, mode: mode, ctx)
        }
        let store = try ctx.openStore(creating: true)
        let progress = Progress(ctx.console, json: args.has("--json"))
        // The engine shows the start as it appends it; the run's id comes first for people,
        // so the line waits until the id is out.
        let startEvent = StartEvent()
        let engine = ctx.engine(store, detach: args.has("--detach"), observer: { startEvent.seen = ($0, $1) })
        let request = Engine.StartRequest(workflow: wf, runbook: rb, mode: mode, startedBy: ctx.actor(of: store), workflowDigest: wfDigest, runbookDigest: rbDigest)
        let runID: String
        do {
            runID = try engine.start(request)
        } catch let locked as StoreError where locked.code == .scopeLocked {
            let scope = locked.scope ?? "", holder = locked.holder ?? ""
            throw CommandFailure("service \(scope) already has an active run, \(holder); see `cutover status \(holder)`. One run per service at a time; nothing was started.", code: ExitCode.busy)
        } catch let halted as HaltedError {
            // Refused like a start that meets another active run: the same exit status.
            throw CommandFailure("\(halted); nothing was started", code: ExitCode.busy)
        }
        // For people the id first, to resume or approve it by; a script reads it from the
        // stream's first event.
        if !args.has("--json") { ctx.console.out(runID) }
        if let (first, state) = startEvent.seen { progress.observe(first, state) }
        return try await Driving.drive(runID, store: store, ctx, detach: args.has("--detach"), json: args.has("--json"), progress: progress, known: startEvent.seen?.1)
    }
}

/// The run's first event as `Engine.start` appended it. @unchecked: written and read on the
/// starting task only, the write inside `start`'s synchronous call.
private final class StartEvent: @unchecked Sendable {
    var seen: (Event, RunState)?
}
