import CutoverCore
import Foundation

/// `workflow`: runs another workflow, for another service, as a child run of this one.
public struct ChildWorkflow: StepType {
    public struct Output: Codable, Sendable, Equatable {
        /// The child run's id.
        public var run: String
        public var workflow: String
        public var runbook: String
    }

    public static let name = "workflow"
    public static let kind = StepKind.compensable
    public static let summary =
        "Runs another workflow for another service as a child run: its own log stream, its own service lock, linked both ways (this step's output names the child run; the child's start names this run and step). A drill's child leaves its rollback to this run."
    public static let compensation: String? = "rolls the child run back through its own compensations, latest first, the child's pivot included"
    public static let observation: String? =
        "the child run's log: done when the child run succeeded; a child still under way is carried on by the next attempt, never started twice"
    static let workflow = Param<String>.string("workflow", "the child's workflow: a name in workflows/ or a file")
    static let runbook = Param<String>.string("runbook", "the child's runbook, for another service than this run's: a name in runbooks/ or a file")
    public static let schema = StepSchema(workflow, runbook)

    /// How often a step whose child waits for a person looks again.
    let pollInterval: Duration

    public init(pollInterval: Duration = .seconds(2)) { self.pollInterval = pollInterval }

    public static func change(_ output: Output) -> String? { "child run \(output.run) (\(output.workflow) for \(output.runbook))" }

    public func execute(_ p: StepParameters, _ ctx: any StepContext) async throws -> Output {
        let children = try Self.children(ctx)
        let wf = try p[Self.workflow], rb = try p[Self.runbook]
        let id = try await childID(ctx, children, workflow: wf, runbook: rb)
        // Starting a child takes its service: a change, made only by a process that proves it
        // holds this run (and held here while the log is halted).
        if try children.state(of: id) == nil { _ = try await ctx.proof() }
        var waiting: RunStatus?
        // The child's position when it was last driven: a child waiting for a person is driven
        // again only once someone added to its log (an approval, a resume), not every poll.
        var drivenAt: Int64?
        while true {
            var state: RunState
            if let at = drivenAt, let now = try children.state(of: id), now.lastRunSeq == at {
                state = now
            } else {
                state = try await children.drive(id, workflow: wf, runbook: rb)
                drivenAt = state.lastRunSeq
            }
            switch state.status {
            case .succeeded:
                return Output(run: id, workflow: wf, runbook: rb)
            case .rolledBack, .failed, .aborted:
                let why = state.outcome?.reason.map { ": \($0)" } ?? ""
                throw StepError(code: "child-\(state.status.rawValue)", message: "child run \(id) (\(wf) for \(rb)) ended \(state.status.rawValue)\(why)", retryable: false)
            case .running, .waitingApproval, .paused, .needsAttention, .compensating:
                // The child waits for a person (an approval, a pause, a decision): say so once
                // per wait, and look again; this run's own signals are read meanwhile.
                if waiting != state.status {
                    waiting = state.status
                    try await ctx.note("child run \(id) is \(state.status.rawValue) and waits for a person: `cutover status \(id)`")
                }
                // A driver asked to stop leaves the child waiting, and this attempt in flight:
                // the next one carries the same child on.
                if children.stopping { throw RunInterruption.detached }
                try await ctx.sleep(until: ctx.now().addingTimeInterval(Double(pollInterval.milliseconds) / 1_000))
            }
        }
    }

    public func observe(_ p: StepParameters, _ ctx: any StepContext) async throws -> Output? {
        let children = try Self.children(ctx)
        guard let id = await Self.recordedChild(ctx), try children.state(of: id)?.status == .succeeded else { return nil }
        return Output(run: id, workflow: try p[Self.workflow], runbook: try p[Self.runbook])
    }

    /// Also undoes the child of an attempt that never succeeded (failed, cancelled in its group,
    /// interrupted and never tried again): the child was recorded as a change in place before
    /// it started, so the rollback comes here with that child's run.
    public func compensate(_ p: StepParameters, _ output: Output, _ ctx: any StepContext) async throws {
        let children = try Self.children(ctx)
        var waiting: RunStatus?
        while true {
            // Never started (a crash between its record and its start), or ended undone.
            guard let current = try children.state(of: output.run), ![.rolledBack, .aborted, .failed].contains(current.status) else { return }
            // Asking the child to roll back is a change: made only while this run is held.
            if current.rollback == nil, current.rollbackRequest == nil { _ = try await ctx.proof() }
            let state = try await children.rollBack(output.run, reason: "its parent run \(ctx.runID) rolls back step \(ctx.stepID)")
            switch state.status {
            case .rolledBack, .aborted, .failed:
                return
            default:
                if waiting != state.status {
                    waiting = state.status
                    try await ctx.note("rolling back child run \(output.run), which is \(state.status.rawValue) and waits for a person: `cutover status \(output.run)`")
                }
                try await ctx.sleep(until: ctx.now().addingTimeInterval(Double(pollInterval.milliseconds) / 1_000))
            }
        }
    }

    private static func children(_ ctx: any StepContext) throws -> any ChildRuns {
        guard let children = ctx.children else {
            throw StepError(code: "no-child-runs", message: "step \(ctx.stepID): child runs can only be started by a run's driver", retryable: false)
        }
        return children
    }

    static func recordedChild(_ ctx: any StepContext) async -> String? {
        await ctx.recordedProgress()["child"]?["run"]?.stringValue
    }

    /// The child run this attempt drives: the one an earlier attempt recorded, unless it ended
    /// without succeeding; else a new one, recorded before it is started, so a crash between
    /// the two never starts a second child.
    private func childID(_ ctx: any StepContext, _ children: any ChildRuns, workflow: String, runbook: String) async throws -> String {
        let recorded = await Self.recordedChild(ctx)
        if let recorded {
            switch try children.state(of: recorded)?.status {
            case .none: return recorded
            case .some(let status) where ![.rolledBack, .failed, .aborted].contains(status): return recorded
            default: break
            }
        }
        // A later child takes the attempt after "+", which no step id holds: it cannot be the
        // first child of a step of a child run.
        let id = recorded == nil ? "\(ctx.runID).\(ctx.stepID)" : "\(ctx.runID).\(ctx.stepID)+\(ctx.attempt)"
        // The child is this step's change from the moment it may start: a rollback undoes it
        // even if this step never succeeds.
        let output = try JSONValue.encode(Output(run: id, workflow: workflow, runbook: runbook))
        try await ctx.progress("child run \(id): \(workflow) for \(runbook)", key: "child", data: .object(["run": .string(id)]), inPlace: output)
        return id
    }
}
