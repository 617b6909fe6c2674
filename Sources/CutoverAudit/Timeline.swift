import CutoverCore
import Foundation

/// A run's history as people read it: bars for step attempts and compensations, marks for
/// approvals, signals, the pivot and the outcome. Built from events alone.
public struct Timeline: Sendable {
    public struct Bar: Sendable, Equatable {
        public enum Kind: String, Sendable { case attempt, compensation }
        public enum Outcome: String, Sendable { case succeeded, failed, retrying, interrupted, running }
        public var step: String
        public var kind: Kind
        public var attempt: Int
        public var startMillis: Int64
        public var endMillis: Int64
        public var outcome: Outcome
        /// Waiting for people (an approval step's attempt).
        public var waitingForApproval: Bool
        public var note: String?
    }

    public struct Mark: Sendable, Equatable {
        public enum Kind: String, Sendable { case approval, signal, pivot, rollback, outcome, driver }
        public var atMillis: Int64
        public var kind: Kind
        public var actor: String
        public var text: String
    }

    public var runID: String
    public var startMillis: Int64
    public var endMillis: Int64
    public var steps: [String]
    public var bars: [Bar] = []
    public var marks: [Mark] = []

    /// Builds the timeline of `events` (one run's, in order).
    public init(runID: String, events: [Event]) {
        self.runID = runID
        startMillis = events.first?.atMillis ?? 0
        endMillis = events.last?.atMillis ?? 0
        var plan: RunStarted?
        var open: [String: Int] = [:]
        var openCompensation: [String: Int] = [:]
        steps = []
        for e in events {
            switch e.body {
            case .runStarted(let p):
                plan = p
                steps = p.steps.map(\.id)
            case .driverAttached(let p):
                marks.append(Mark(atMillis: e.atMillis, kind: .driver, actor: e.actor, text: p.resumed ? "resumed by \(p.owner)" : "driven by \(p.owner)"))
            case .stepStarted(let p):
                let approval = plan?.steps.first { $0.id == p.step }?.type == "approval"
                open[p.step] = bars.count
                bars.append(Bar(step: p.step, kind: .attempt, attempt: p.attempt, startMillis: e.atMillis, endMillis: e.atMillis, outcome: .running, waitingForApproval: approval, note: nil))
                if plan?.steps.first(where: { $0.id == p.step })?.pivot == true {
                    marks.append(Mark(atMillis: e.atMillis, kind: .pivot, actor: e.actor, text: "pivot: \(p.step) started"))
                }
            case .stepSucceeded(let p):
                close(&open, p.step, e.atMillis, .succeeded, p.observed ? "settled by observing after a restart" : nil)
            case .stepFailed(let p):
                let outcome: Bar.Outcome = p.error.code == StepError.interrupted.code ? .interrupted : p.retryAtMillis == nil ? .failed : .retrying
                close(&open, p.step, e.atMillis, outcome, p.error.message)
            case .approvalGranted(let p):
                let proof = p.signature != nil ? " (signed with \(p.by)'s key, by \(e.actor))" : p.standing.map { " (standing approval of schedule \($0))" } ?? ""
                marks.append(Mark(atMillis: e.atMillis, kind: .approval, actor: p.by, text: "approved \(p.step)" + proof + (p.comment.map { ": \($0)" } ?? "")))
            case .pauseRequested, .resumeRequested, .abortRequested, .rollbackRequested:
                let reason: String? = {
                    switch e.body {
                    case .pauseRequested(let s), .resumeRequested(let s), .abortRequested(let s), .rollbackRequested(let s): s.reason
                    default: nil
                    }
                }()
                marks.append(Mark(atMillis: e.atMillis, kind: .signal, actor: e.actor, text: e.type.replacingOccurrences(of: "Requested", with: "").lowercased() + " requested" + (reason.map { ": \($0)" } ?? "")))
            case .runPaused, .runResumed:
                marks.append(Mark(atMillis: e.atMillis, kind: .signal, actor: e.actor, text: e.type == "RunPaused" ? "paused" : "resumed"))
            case .rollbackStarted(let p):
                marks.append(Mark(atMillis: e.atMillis, kind: .rollback, actor: e.actor, text: (p.planned ? "planned rollback: " : "rollback: ") + p.reason))
            case .compensationStarted(let p):
                openCompensation[p.step] = bars.count
                bars.append(Bar(step: p.step, kind: .compensation, attempt: p.attempt, startMillis: e.atMillis, endMillis: e.atMillis, outcome: .running, waitingForApproval: false, note: nil))
            case .compensationSucceeded(let p):
                close(&openCompensation, p.step, e.atMillis, .succeeded, nil)
            case .compensationFailed(let p):
                close(&openCompensation, p.step, e.atMillis, p.retryAtMillis == nil ? .failed : .retrying, p.error.message)
            case .runSucceeded, .runRolledBack, .runFailed, .runAborted:
                marks.append(Mark(atMillis: e.atMillis, kind: .outcome, actor: e.actor, text: e.type.replacingOccurrences(of: "Run", with: "").lowercased()))
            case .runNeedsAttention(let p):
                marks.append(Mark(atMillis: e.atMillis, kind: .outcome, actor: e.actor, text: "needs attention: \(p.reason)"))
            default:
                break
            }
        }
        // Attempts still open run to the last event.
        for i in bars.indices where bars[i].outcome == .running { bars[i].endMillis = endMillis }
    }

    private mutating func close(_ open: inout [String: Int], _ step: String, _ at: Int64, _ outcome: Bar.Outcome, _ note: String?) {
        guard let i = open.removeValue(forKey: step) else { return }
        bars[i].endMillis = at
        bars[i].outcome = outcome
        bars[i].note = note
    }
}
