/// The plan a run follows, pinned when it starts so that a resume never depends on files
/// that may have changed since.
public struct RunStarted: BytesReadablePayload, Equatable {
    public var workflow: String
    public var workflowDigest: String
    public var runbook: String
    public var runbookDigest: String
    /// The service the run holds: one active run per scope.
    public var scope: String
    public var mode: RunMode
    public var startedBy: String
    public var steps: [PlannedStep]
    /// The plan's parallel groups; absent when every step runs alone.
    public var groups: [PlannedGroup]?
    /// The run and step this run is a child of (a `workflow` step); absent for a run started
    /// by a person or a schedule.
    public var parent: RunParent?
    /// The workflow and runbook as validated, with secrets as references.
    public var workflowSnapshot: JSONDocument
    public var runbookSnapshot: JSONDocument
    /// The schedule firing this run stands for, when the scheduler started it.
    public var schedule: ScheduledFiring?

    public init(
        workflow: String, workflowDigest: String, runbook: String, runbookDigest: String,
        scope: String, mode: RunMode, startedBy: String, steps: [PlannedStep],
        workflowSnapshot: JSONValue, runbookSnapshot: JSONValue, schedule: ScheduledFiring? = nil, groups: [PlannedGroup]? = nil,
        parent: RunParent? = nil
    ) {
        self.schedule = schedule
        self.groups = groups
        self.parent = parent
        self.workflow = workflow
        self.workflowDigest = workflowDigest
        self.runbook = runbook
        self.runbookDigest = runbookDigest
        self.scope = scope
        self.mode = mode
        self.startedBy = startedBy
        self.steps = steps
        self.workflowSnapshot = JSONDocument(workflowSnapshot)
        self.runbookSnapshot = JSONDocument(runbookSnapshot)
    }

    /// Read from the log without building the snapshots: they stay text until someone reads
    /// them. Nil (the ordinary path decides) for anything but the shape cutover writes.
    public static func read(_ m: JSONMembers) -> RunStarted? {
        guard m.has(only: Self.keys), let workflow = m.string("workflow"), let workflowDigest = m.string("workflowDigest"),
            let runbook = m.string("runbook"), let runbookDigest = m.string("runbookDigest"), let scope = m.string("scope"),
            let mode = m.string("mode").flatMap(RunMode.init(rawValue:)), let startedBy = m.string("startedBy"),
            let planned = m.objects("steps"),
            let workflowSnapshot = m.text("workflowSnapshot"), let runbookSnapshot = m.text("runbookSnapshot")
        else { return nil }
        let steps = planned.compactMap(PlannedStep.read)
        guard steps.count == planned.count else { return nil }
        var schedule: ScheduledFiring?
        if !m.isAbsent("schedule") {
            guard let s = m.value("schedule").flatMap({ try? $0.decode(ScheduledFiring.self) }) else { return nil }
            schedule = s
        }
        var groups: [PlannedGroup]?
        if !m.isAbsent("groups") {
            guard let g = m.value("groups").flatMap({ try? $0.decode([PlannedGroup].self) }) else { return nil }
            groups = g
        }
        var parent: RunParent?
        if !m.isAbsent("parent") {
            guard let p = m.value("parent").flatMap({ try? $0.decode(RunParent.self) }) else { return nil }
            parent = p
        }
        var p = RunStarted(
            workflow: workflow, workflowDigest: workflowDigest, runbook: runbook, runbookDigest: runbookDigest, scope: scope, mode: mode,
            startedBy: startedBy, steps: steps, workflowSnapshot: .null, runbookSnapshot: .null, schedule: schedule, groups: groups,
            parent: parent)
        p.workflowSnapshot = JSONDocument(checkedText: workflowSnapshot)
        p.runbookSnapshot = JSONDocument(checkedText: runbookSnapshot)
        return p
    }

    private static let keys: [StaticString] = [
        "workflow", "workflowDigest", "runbook", "runbookDigest", "scope", "mode", "startedBy", "steps", "workflowSnapshot", "runbookSnapshot",
        "schedule", "groups", "parent",
    ]
}

/// Which schedule started a run, for which firing.
public struct ScheduledFiring: Codable, Sendable, Equatable {
    public var name: String
    public var dueAtMillis: Int64

    public init(name: String, dueAtMillis: Int64) {
        self.name = name
        self.dueAtMillis = dueAtMillis
    }
}

/// The run, and its step, that started a child run.
public struct RunParent: Codable, Sendable, Equatable {
    public var run: String
    public var step: String

    public init(run: String, step: String) {
        self.run = run
        self.step = step
    }
}

/// A parallel group of a run's plan: its members are the planned steps that name it, side by
/// side in the plan.
public struct PlannedGroup: Codable, Sendable, Equatable {
    public var id: String
    /// How many members may be in flight at once.
    public var maxConcurrency: Int

    public init(id: String, maxConcurrency: Int) {
        self.id = id
        self.maxConcurrency = maxConcurrency
    }
}

/// One step of a run's plan with everything the fold and the decision need.
public struct PlannedStep: Codable, Sendable, Equatable {
    public var id: String
    public var type: String
    public var kind: StepKind
    public var pivot: Bool
    public var retry: RetryPolicy
    public var timeoutMillis: Int64?
    /// The parallel group the step belongs to; absent for a step that runs alone.
    public var group: String?
    /// The runbook's safety rules that guard this step, evaluated before each of its attempts
    /// starts; absent when none does (older logs keep their bytes).
    public var safety: [String]?

    public init(id: String, type: String, kind: StepKind, pivot: Bool, retry: RetryPolicy, timeoutMillis: Int64?, group: String? = nil, safety: [String]? = nil) {
        self.id = id
        self.type = type
        self.kind = kind
        self.pivot = pivot
        self.retry = retry
        self.timeoutMillis = timeoutMillis
        self.group = group
        self.safety = safety
    }

    /// Whether completing this step changed something that compensation must restore.
    public var isCompensable: Bool { kind != .check || pivot }
}

public struct DriverAttached: EventPayload, Equatable {
    /// `host:pid:nonce` of the process that took the lease.
    public var owner: String
    public var resumed: Bool
    public init(owner: String, resumed: Bool) {
        self.owner = owner
        self.resumed = resumed
    }
}

public struct StepAttempt: EventPayload, Equatable {
    public var step: String
    public var attempt: Int
    public init(step: String, attempt: Int) {
        self.step = step
        self.attempt = attempt
    }
}

public struct StepSucceeded: EventPayload, Equatable {
    public var step: String
    public var attempt: Int
    public var output: JSONValue
    /// True when the outcome was settled by `observe` after the driving process stopped.
    public var observed: Bool
    public init(step: String, attempt: Int, output: JSONValue, observed: Bool = false) {
        self.step = step
        self.attempt = attempt
        self.output = output
        self.observed = observed
    }
}

public struct StepFailed: EventPayload, Equatable {
    public var step: String
    public var attempt: Int
    public var error: StepError
    /// When the next attempt may start (ms since 1970); nil when no attempt follows.
    public var retryAtMillis: Int64?
    public init(step: String, attempt: Int, error: StepError, retryAtMillis: Int64?) {
        self.step = step
        self.attempt = attempt
        self.error = error
        self.retryAtMillis = retryAtMillis
    }
}

public struct StepNote: EventPayload, Equatable {
    public var step: String
    public var message: String
    public init(step: String, message: String) {
        self.step = step
        self.message = message
    }
}

/// How far a long step got (a copy's bytes), for people and for the next attempt: `data` under
/// `key` is what an attempt resumed after a crash takes up (the latest per key counts).
public struct StepProgress: EventPayload, Equatable {
    public var step: String
    public var key: String
    public var message: String
    public var data: JSONValue
    /// A change this attempt made that stays in place whether or not the step ever succeeds
    /// (a child run started): the output a rollback compensates the step from if it never
    /// records one of its own. Absent for plain progress (older logs keep their bytes).
    public var inPlace: JSONValue?
    public init(step: String, key: String, message: String, data: JSONValue, inPlace: JSONValue? = nil) {
        self.step = step
        self.key = key
        self.message = message
        self.data = data
        self.inPlace = inPlace
    }
}

/// What a compensable step found before changing anything, recorded before the change so
/// that a crash in the middle never loses it.
public struct BeforeRecorded: EventPayload, Equatable {
    public var step: String
    public var attempt: Int
    public var state: JSONValue
    public init(step: String, attempt: Int, state: JSONValue) {
        self.step = step
        self.attempt = attempt
        self.state = state
    }
}

/// A durable timer: after a crash only the time left until `untilMillis` is waited.
public struct TimerSet: EventPayload, Equatable {
    public var step: String
    public var name: String
    public var untilMillis: Int64
    public init(step: String, name: String, untilMillis: Int64) {
        self.step = step
        self.name = name
        self.untilMillis = untilMillis
    }
}

public struct ApprovalRequested: EventPayload, Equatable {
    public var step: String
    public var required: Int
    /// Who may approve; empty means anyone but the excluded.
    public var approvers: [String]
    /// Who may not approve (the starter of a live run).
    public var excluded: [String]
    /// The OpenSSH public keys of the approvers the runbook lists with one, by name: an
    /// approval in such a name counts only with that key's signature. Absent when none has one.
    public var keys: [String: String]?
    public init(step: String, required: Int, approvers: [String], excluded: [String], keys: [String: String]? = nil) {
        self.step = step
        self.required = required
        self.approvers = approvers
        self.excluded = excluded
        self.keys = keys
    }
}

public struct ApprovalGranted: EventPayload, Equatable {
    public var step: String
    /// Whose approval: the actor who appended it, or the listed approver whose key signed it.
    public var by: String
    public var comment: String?
    /// The armored OpenSSH signature (namespace `cutover-approval`) of the `ApprovalStatement`.
    public var signature: String?
    /// The schedule whose standing approval this is, when the scheduler appended it.
    public var standing: String?
    public init(step: String, by: String, comment: String? = nil, signature: String? = nil, standing: String? = nil) {
        self.step = step
        self.by = by
        self.comment = comment
        self.signature = signature
        self.standing = standing
    }
}

/// A request from a person or another process (pause, resume, abort, rollback), or the
/// driver's acknowledgement of one.
public struct Signal: EventPayload, Equatable {
    public var reason: String?
    /// On `RunPaused` and `RunResumed`: the log's halt paused the run, or its lifting resumed
    /// it (absent otherwise).
    public var halt: Bool?
    public init(reason: String? = nil, halt: Bool? = nil) {
        self.reason = reason
        self.halt = halt
    }
}

public struct RollbackStarted: EventPayload, Equatable {
    /// True for a drill's rollback after its last step passed.
    public var planned: Bool
    public var reason: String
    /// Whether this rollback ends the run as aborted.
    public var aborted: Bool
    public init(planned: Bool, reason: String, aborted: Bool = false) {
        self.planned = planned
        self.reason = reason
        self.aborted = aborted
    }
}

public struct RunOutcome: EventPayload, Equatable {
    public var reason: String?
    public var planned: Bool?
    public init(reason: String? = nil, planned: Bool? = nil) {
        self.reason = reason
        self.planned = planned
    }
}

public struct NeedsAttention: EventPayload, Equatable {
    /// What went wrong.
    public var reason: String
    /// What a human must decide, with the commands that carry out each choice.
    public var decision: String
    public init(reason: String, decision: String) {
        self.reason = reason
        self.decision = decision
    }
}

/// The payloads about one step say which.
extension StepAttempt { public var stepID: String? { step } }
extension StepSucceeded { public var stepID: String? { step } }
extension StepFailed { public var stepID: String? { step } }
extension StepNote { public var stepID: String? { step } }
extension StepProgress { public var stepID: String? { step } }
extension BeforeRecorded { public var stepID: String? { step } }
extension TimerSet { public var stepID: String? { step } }
extension ApprovalRequested { public var stepID: String? { step } }
extension ApprovalGranted { public var stepID: String? { step } }
