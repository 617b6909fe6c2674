/// A run's state as people read it in `status`, `list`, `report` and the HTML export. A
/// drill's rollback is its plan: one that rolled back as planned passed, one that ended any
/// other way failed. Scripts read the plain `state` (`RunStatus`) beside it.
public struct RunVerdict: Sendable, Equatable {
    public enum Tone: String, Sendable {
        /// Done as wanted: green.
        case good
        /// Failed, or undone because it failed: red.
        case bad
        /// Waits for a person: yellow.
        case waiting
        /// Under way: cyan.
        case busy
    }

    public let text: String
    public let tone: Tone

    public init(_ text: String, _ tone: Tone) {
        self.text = text
        self.tone = tone
    }
}

extension RunState {
    public var verdict: RunVerdict {
        let drill = plan?.mode == .drill
        switch status {
        case .succeeded: return RunVerdict("succeeded", .good)
        case .rolledBack where drill: return outcome?.planned == true ? RunVerdict("drill passed", .good) : RunVerdict("drill failed", .bad)
        case .rolledBack: return RunVerdict("rolled-back", .bad)
        case .failed: return RunVerdict(drill ? "drill failed" : "failed", .bad)
        case .aborted: return RunVerdict("aborted", .bad)
        case .needsAttention: return RunVerdict("needs-attention", .waiting)
        case .waitingApproval: return RunVerdict("waiting-approval", .waiting)
        case .paused: return RunVerdict("paused", .waiting)
        case .running, .compensating: return RunVerdict(status.rawValue, .busy)
        }
    }
}

extension RunState {
    /// Whether a driver taking the run now would carry it on, rather than find it waiting for
    /// a person: a run going forward or rolling back, an approval step that has the approvals
    /// it needs, a pause asked to end, a resume, abort or rollback asked of a run that needs
    /// attention, a rollback asked of a run that succeeded. A worker drives only such runs
    /// (and only when no live lease holds them); a run that waits for a person's decision, or
    /// has ended for good, is left alone.
    public var awaitsDriver: Bool {
        switch status {
        case .running, .compensating:
            return true
        case .waitingApproval:
            if abortRequest != nil { return true }
            // Any step in flight whose approvals are all in (members of a parallel group wait
            // for theirs each), or none waiting at all.
            let waiting = orderedSteps.filter { $0.phase == .running && $0.approvalRequest != nil }
            if waiting.isEmpty { return true }
            return waiting.contains { countedApprovers($0.id).count >= $0.approvalRequest?.required ?? 0 }
        case .paused:
            // A run the log's halt paused is resumed by a driver once the halt is lifted
            // (workers take up nothing while it holds).
            return resumeRequest != nil || abortResumes || (pausedByHalt && pauseRequest == nil)
        case .needsAttention:
            return rollbackRequest != nil || abortRequest != nil || resumeRequest != nil || overrideArrived
        case .succeeded:
            return rollbackRequest != nil
        case .rolledBack, .failed, .aborted:
            return false
        }
    }

    /// Ended for good: no request can carry the run on again (a succeeded run can still be
    /// rolled back).
    public var isFinal: Bool {
        switch status {
        case .rolledBack, .failed, .aborted: true
        default: false
        }
    }
}
