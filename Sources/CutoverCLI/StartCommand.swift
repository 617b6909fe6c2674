import CutoverCore
import CutoverEngine
import Foundation

/// `cutover start WORKFLOW --runbook RUNBOOK [--drill] [--detach] [--json]`.
enum StartCommand {
    static func run(_ args: Arguments, _ ctx: Context) async throws -> Int32 {
        let workflow = try args.positionals("WORKFLOW")[0]
        guard let runbook = args["--runbook"] else { throw UsageError("missing --runbook RUNBOOK") }
        let mode: RunMode = args.has("--drill") ? .drill : .live
        // Everything is validated before the database is even opened.
        let (wf, rb, wfDigest, rbDigest) = try Definitions.load(workflow: workflow, runbook: runbook, mode: mode, registry: ctx.registry)
        let store = try ctx.openStore(creating: true)
        let progress = Progress(ctx.console, quiet: args.has("--json"))
        let engine = ctx.engine(store, detach: args.has("--detach"), observer: nil)
        let request = Engine.StartRequest(workflow: wf, runbook: rb, mode: mode, startedBy: ctx.actor, workflowDigest: wfDigest, runbookDigest: rbDigest)
        let runID: String
        do {
            runID = try engine.start(request)
        } catch let locked as StoreError where locked.code == .scopeLocked {
            let scope = locked.scope ?? "", holder = locked.holder ?? ""
            throw CommandFailure("service \(scope) already has an active run, \(holder); see `cutover status \(holder)`. One run per service at a time.")
        }
        ctx.console.out(runID)
        if let first = try store.events(of: runID, after: 0).first, let state = try? RunState.fold(runID, [first]) {
            progress.observe(first, state)
        }
        return try await Driving.drive(runID, store: store, ctx, detach: args.has("--detach"), json: args.has("--json"))
    }
}
