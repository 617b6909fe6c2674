import CutoverCore

/// Builds a run's events by hand, numbered as the log would number them, for fold and
/// decision tests that need no store.
struct RunBuilder {
    let runID = "run-1"
    var events: [Event] = []
    var now: Int64 = 1_000_000

    static let checkStep = PlannedStep(id: "health", type: "sim.check", kind: .check, pivot: false, retry: .default, timeoutMillis: nil)
    static let scaleStep = PlannedStep(id: "scale", type: "sim.set", kind: .compensable, pivot: false, retry: RetryPolicy(attempts: 2), timeoutMillis: nil)
    static let writesStep = PlannedStep(id: "writes", type: "sim.pivot", kind: .pivot, pivot: true, retry: .default, timeoutMillis: nil)
    static let dnsStep = PlannedStep(id: "dns", type: "sim.set", kind: .compensable, pivot: false, retry: .default, timeoutMillis: nil)

    init(mode: RunMode = .live, steps: [PlannedStep] = [checkStep, scaleStep, writesStep, dnsStep], groups: [PlannedGroup]? = nil) {
        add(.runStarted(RunStarted(
            workflow: "w", workflowDigest: "d", runbook: "r", runbookDigest: "d", scope: "svc", mode: mode,
            startedBy: "oncall", steps: steps, workflowSnapshot: .null, runbookSnapshot: .null, groups: groups)))
    }

    /// `health`, then a parallel group `all` of `members` (compensable; `pivot` among them
    /// is a pivot) at most `limit` at a time, then `dns`.
    static func grouped(_ members: [String], limit: Int, pivot: String? = nil, mode: RunMode = .live) -> RunBuilder {
        let inGroup = members.map {
            PlannedStep(id: $0, type: "sim.set", kind: $0 == pivot ? .pivot : .compensable, pivot: $0 == pivot, retry: RetryPolicy(attempts: 2), timeoutMillis: nil, group: "all")
        }
        return RunBuilder(mode: mode, steps: [checkStep] + inGroup + [dnsStep], groups: [PlannedGroup(id: "all", maxConcurrency: limit)])
    }

    @discardableResult
    mutating func add(_ body: EventBody, by actor: String = "cutover@test", after millis: Int64 = 100) -> Self {
        now += millis
        let n = Int64(events.count + 1)
        events.append(Event(seq: n, runID: runID, runSeq: n, atMillis: now, actor: actor, body: body, bodyJSON: "{}", hash: []))
        return self
    }

    /// Started and succeeded, with the output a compensable step would keep.
    mutating func pass(_ step: String, attempt: Int = 1) {
        add(.stepStarted(StepAttempt(step: step, attempt: attempt)))
        add(.stepSucceeded(StepSucceeded(step: step, attempt: attempt, output: .object(["previous": .string("old")]))))
    }

    mutating func fail(_ step: String, attempt: Int = 1, retryable: Bool = false, retryAt: Int64? = nil) {
        add(.stepStarted(StepAttempt(step: step, attempt: attempt)))
        add(.stepFailed(StepFailed(step: step, attempt: attempt, error: StepError(code: "boom", message: "it broke", retryable: retryable), retryAtMillis: retryAt)))
    }

    func state() throws -> RunState { try RunState.fold(runID, events) }
}
