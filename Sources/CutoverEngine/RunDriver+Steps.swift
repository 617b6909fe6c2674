@_spi(RunProof) import CutoverCore
import Foundation

extension RunDriver {
    enum StepResult { case recorded, detached }

    /// Runs one attempt of a step whose `StepStarted` is already durable, and records its outcome.
    func execute(_ id: String, attempt: Int) async throws -> StepResult {
        let started = engine.clock.now()
        let outcome = await perform(id, attempt: attempt)
        if let fatal { throw fatal }
        switch outcome {
        case .success(let output):
            let succeeded = EventBody.stepSucceeded(StepSucceeded(step: id, attempt: attempt, output: output))
            try recordSuccesses([succeeded], of: [id])
        case .failure(RunInterruption.detached):
            return .detached
        case .failure(let error as CancellationError):
            throw error
        case .failure(let error):
            try record([failed(id, attempt: attempt, error, since: started)])
        }
        return .recorded
    }

    /// Records successes; when they lead straight to starting the next steps, the starts go
    /// into the same durable transaction (group commit): nothing happens between them, and
    /// the next side effect still comes after both are on disk. Others' events first: the
    /// successes are recorded alone.
    func recordSuccesses(_ bodies: [EventBody], of ids: Set<String>) throws {
        if !config.stop.isRequested {
            let next = state.stepsStartingAfterSuccess(of: ids)
            if !next.isEmpty, try append(bodies + next.map { .stepStarted(StepAttempt(step: $0.id, attempt: $0.attempt)) }, unlock: false, relock: false) {
                for n in next { chained[n.id] = n.attempt }
                return
            }
        }
        try record(bodies)
    }

    /// One attempt of a step's action, with its parameters resolved and its timeout: the output,
    /// or why there is none. Records nothing itself.
    func perform(_ id: String, attempt: Int) async -> Result<JSONValue, Error> {
        do {
            let (type, parameters) = try prepare(id)
            try await vault.fetch(referencesIn: parameters)
            let ctx = context(id, attempt: attempt)
            return .success(try await withTimeout(id) { try await type.execute(parameters, ctx) })
        } catch {
            return .failure(error)
        }
    }

    /// The `StepFailed` of an attempt that failed with `error`, with the time of its next
    /// attempt if its retry policy allows one.
    func failed(_ id: String, attempt: Int, _ error: Error, since started: Date) -> EventBody {
        let stepError = classify(error, step: id, elapsed: engine.clock.now().timeIntervalSince(started))
        // An attempt cut short without failing (a child run driven elsewhere meanwhile) does
        // not count against the retry budget, as a crash's does not.
        let cut = stepError.code == StepError.interrupted.code ? 1 : 0
        let counted = attempt - (state.steps[id]?.interruptions ?? 0) - cut
        return .stepFailed(StepFailed(step: id, attempt: attempt, error: stepError, retryAtMillis: retryAt(id, counted, stepError)))
    }

    /// Settles an attempt left without an outcome by a stopped driver: `observe` says whether
    /// its change is already in place; if not, the attempt is recorded as interrupted and the
    /// step runs again.
    func settle(_ id: String, attempt: Int) async throws {
        let observed = await observation(id, attempt: attempt)
        if let fatal { throw fatal }
        if let observed {
            try record([.stepSucceeded(StepSucceeded(step: id, attempt: attempt, output: observed, observed: true))])
        } else {
            try record([.stepFailed(StepFailed(step: id, attempt: attempt, error: .interrupted, retryAtMillis: nowMillis))])
        }
    }

    /// What the step's `observe` finds of an attempt's change: its output if the change is in
    /// place; nil if not, or if observing failed (no reason to stop: the step is settled as
    /// not done).
    func observation(_ id: String, attempt: Int) async -> JSONValue? {
        do {
            let (type, parameters) = try prepare(id)
            try await vault.fetch(referencesIn: parameters)
            let ctx = context(id, attempt: attempt)
            return try await withTimeout(id) { try await type.observe(parameters, ctx) }
        } catch {
            return nil
        }
    }

    /// Runs one attempt of a step's compensation with the output it recorded. `.detached`: the
    /// driver left the run to wait (a halt in a worker); the attempt stays in flight, for the
    /// next driver to settle and run again, and nothing failed.
    func compensate(_ id: String, attempt: Int) async throws -> StepResult {
        let started = engine.clock.now()
        var failure: Error?
        do {
            let (type, parameters) = try prepare(id)
            try await vault.fetch(referencesIn: parameters)
            // A step that never succeeded is undone from the change it left in place.
            guard let output = state.steps[id]?.output ?? state.steps[id]?.inPlace else {
                throw StepError(code: "no-output", message: "step \(id) recorded no output to compensate from", retryable: false)
            }
            let ctx = context(id, attempt: attempt)
            try await withTimeout(id) { try await type.compensate(parameters, output: output, ctx) }
        } catch {
            failure = error
        }
        if let fatal { throw fatal }
        if let error = failure as? CancellationError { throw error }
        if failure as? RunInterruption == .detached { return .detached }
        if let failure {
            let stepError = classify(failure, step: id, elapsed: engine.clock.now().timeIntervalSince(started))
            let counted = attempt - (state.steps[id]?.compensationInterruptions ?? 0)
            try record([.compensationFailed(StepFailed(step: id, attempt: attempt, error: stepError, retryAtMillis: retryAt(id, counted, stepError)))])
        } else {
            try record([.compensationSucceeded(StepAttempt(step: id, attempt: attempt))])
        }
        return .recorded
    }

    // MARK: - Helpers

    /// When the next attempt may start; `attempt` counts only attempts that really failed.
    private func retryAt(_ id: String, _ attempt: Int, _ error: StepError) -> Int64? {
        guard let policy = state.planned(id)?.retry, policy.allowsRetry(after: attempt, error: error) else { return nil }
        if error == .interrupted { return nowMillis }
        return nowMillis + policy.backoffMillis(after: attempt, unit: engine.ids.unitRandom())
    }

    func classify(_ error: Error, step: String, elapsed: TimeInterval) -> StepError {
        var e: StepError
        switch error {
        case let s as StepError: e = s
        case RunInterruption.aborted:
            e = StepError(code: "aborted", message: "step \(step) was stopped by an abort request", retryable: false)
        case is DeadlineExceeded:
            e = .timeout(step, after: .milliseconds(state.planned(step)?.timeoutMillis ?? Int64(elapsed * 1_000)))
        case let t as TemplateError:
            e = .badParameters("step \(step): \(t.message)")
        default:
            e = StepError(code: "error", message: "step \(step): \(error)", retryable: false)
        }
        e.message = vault.redact(e.message)
        return e
    }

    /// The step's type and its parameters with every `${...}` resolved.
    func prepare(_ id: String) throws -> (AnyStepType, JSONValue) {
        guard let planned = state.planned(id), let plan = state.plan else {
            throw StepError(code: "unknown-step", message: "step \(id) is not in the run's plan", retryable: false)
        }
        guard let type = engine.registry[planned.type] else {
            throw StepError(code: "unknown-step-type", message: "step type \(planned.type) is not part of this cutover build; resume with the build that started the run", retryable: false)
        }
        // The snapshot lists the steps in plan order; a parallel group holds its members.
        let listed = plan.workflowSnapshot["steps"]?.arrayValue
        let at = state.position(of: id).flatMap { i in listed.flatMap { $0.indices.contains(i) && $0[i]["id"]?.stringValue == id ? $0[i] : nil } }
        let found = at ?? Workflow.stepSources(plan.workflowSnapshot.value).first { $0.step["id"]?.stringValue == id }?.step
        let with = found?["with"] ?? .object([:])
        // Outputs of earlier steps, gathered only when this step refers to them.
        var outputs: [String: JSONValue] = [:]
        if Template.refersToSteps(with) {
            for (sid, record) in state.steps { if let o = record.output { outputs[sid] = o } }
        }
        let scope = Template.Scope(
            runbook: plan.runbookSnapshot.value,
            parameters: plan.workflowSnapshot["parameters"]?.objectValue ?? [:],
            outputs: outputs,
            run: ["id": .string(runID), "mode": .string(plan.mode.rawValue), "startedBy": .string(plan.startedBy), "service": .string(plan.scope)])
        return (type, try Template.resolve(with, in: scope))
    }

    func context(_ id: String, attempt: Int) -> DriverContext {
        DriverContext(
            driver: self, runID: runID, stepID: id, attempt: attempt, mode: state.plan?.mode ?? .live,
            startedBy: state.plan?.startedBy ?? "", clock: engine.clock, vault: vault)
    }

    func withTimeout<T: Sendable>(_ id: String, _ body: @Sendable @escaping () async throws -> T) async throws -> T {
        guard let ms = state.planned(id)?.timeoutMillis else { return try await body() }
        return try await engine.clock.withDeadline(engine.clock.now().addingTimeInterval(Double(ms) / 1_000), body)
    }

    // MARK: - What steps ask for

    func durableTimer(step: String, name: String, duration: Duration) async throws {
        let until: Int64
        if let existing = state.steps[step]?.timers[name] {
            until = existing
        } else if duration <= .zero {
            // Nothing to wait for, so nothing to survive a crash: no timer is recorded, and
            // the step costs the one commit that carries its outcome.
            return
        } else {
            until = nowMillis + duration.milliseconds
            try record([.timerSet(TimerSet(step: step, name: name, untilMillis: until))])
        }
        if try await wait(until: Date(timeIntervalSince1970: Double(until) / 1_000), forStep: step) == .detached {
            throw RunInterruption.detached
        }
    }

    func sleep(step: String, until deadline: Date) async throws {
        if try await wait(until: deadline, forStep: step) == .detached { throw RunInterruption.detached }
    }

    func awaitApprovals(step: String, required: Int, approvers: [Approver]) async throws -> [String] {
        // Each attempt that waits says so again, so a resumed run shows as waiting-approval.
        if !state.isAwaitingApproval(step) {
            let excluded = state.plan?.mode == .live ? [state.plan?.startedBy ?? ""] : []
            var keys: [String: String] = [:]
            for a in approvers { if let key = a.key { keys[a.name] = key } }
            try record([.approvalRequested(ApprovalRequested(
                step: step, required: required, approvers: approvers.map(\.name), excluded: excluded, keys: keys.isEmpty ? nil : keys))])
        }
        while true {
            if try await handleSignalsDuringStep(step) == .detached { throw RunInterruption.detached }
            let counted = countedApprovers(step)
            if counted.count >= required { return Array(counted.prefix(required)) }
            if config.detachWhenWaiting { throw RunInterruption.detached }
            try await waitForNewEvents(for: step)
        }
    }

    /// The approvers of a step who count, signatures checked against the request's hash in
    /// the log.
    func countedApprovers(_ step: String) -> [String] {
        let proof = ApprovalProof(log: store, signatures: config.approvalSignatures ?? NoSignatureChecker())
        return state.countedApprovers(step, proof: proof)
    }

    func recordBefore(step: String, attempt: Int, _ read: @Sendable () async throws -> JSONValue) async throws -> JSONValue {
        if let before = state.steps[step]?.before { return before }
        let value = try await read()
        try record([.beforeRecorded(BeforeRecorded(step: step, attempt: attempt, state: value))])
        return value
    }

    func recordedBefore(step: String) -> JSONValue? { state.steps[step]?.before }

    func note(step: String, _ message: String) throws {
        try record([.stepNote(StepNote(step: step, message: vault.redact(message)))])
    }

    func progress(step: String, key: String, _ message: String, data: JSONValue, inPlace: JSONValue?) throws {
        try record([.stepProgress(StepProgress(step: step, key: key, message: vault.redact(message), data: data, inPlace: inPlace))])
    }

    /// Proves this process holds the run right now, with a fenced write: the log is still
    /// where it was opened, and the lease is extended only if this process holds it still
    /// (`extendLease` fails if another driver took the run over, or took it and let it go).
    /// The proof holds until that write plus the lease's TTL less the margin, on the
    /// monotonic clock; providers refuse it after that.
    func proof(step: String) async throws -> RunProof {
        if let hold = config.beforeProof { await hold(runID, step) }
        // A driver that failed (another member met it) acts no more.
        if let fatal { throw fatal }
        // The last safe point before a change: a member of a stopping group goes no further.
        if cancelling.contains(step) { throw RunInterruption.cancelled }
        // The log's halt holds the change here, right before it, until it is lifted.
        let halted: Bool
        do {
            halted = try engine.halt.current().halted
        } catch {
            let e = naming(inFlightIn: error)
            fatal = fatal ?? e
            throw e
        }
        // So does a pause a sibling in a parallel group recorded while this member ran.
        if halted || state.status == .paused, try await handleSignalsDuringStep(step) == .detached { throw RunInterruption.detached }
        if let fatal { throw fatal }
        if cancelling.contains(step) { throw RunInterruption.cancelled }
        // The log leaves the machine before the step's first change (its rules were looked at
        // before it started, its before-state is durable): then the proof, then the call.
        try await shipBeforeChange(step)
        let proof = try fencedProof()
        try keepParentAlive()
        return proof
    }
}

extension RunDriver {
    /// Ships the log through its head before every change (a shipper with nothing new still
    /// checks that the bucket holds this log's continuation, so an old copy thawed mid-step is
    /// stopped at its next change, not only its first).
    /// While it cannot be shipped the run pauses for a person (the runbook's `shipping.unshipped`,
    /// `stop` by default), who resumes once the buckets take writes again; with `proceed`, the
    /// failure is noted and the change goes ahead.
    func shipBeforeChange(_ step: String) async throws {
        guard let shipper = config.shipping else { return }
        let proceed = state.plan?.runbookSnapshot["shipping"]?["unshipped"]?.stringValue == "proceed"
        while true {
            let through = try store.head()?.seq ?? 0
            // The log failing under the driver, or the run taken over, stops it here as any
            // proof would; only the shipment's own failure waits for a person.
            let proof = try fencedProof()
            do {
                try await shipper.ship(through: through, proof)
                return
            } catch let e where !(e is RunInterruption) && !(e is CancellationError) {
                let why = vault.redact("\(e)")
                if proceed {
                    try note(step: step, "the log could not be shipped before this change (the runbook says proceed): \(why)")
                    return
                }
                // Stop for a person, before the change: paused with the reason, until resumed.
                if state.status != .paused {
                    try record([.runPaused(Signal(reason: "the log could not be shipped before step \(step) changes anything: \(why); `cutover resume \(runID)` tries again"))])
                }
                if try await handleSignalsDuringStep(step) == .detached { throw RunInterruption.detached }
                // Never faster than the signals are read: a resume that changes nothing for the
                // bucket does not turn into a loop of pauses.
                try await engine.clock.sleep(until: engine.clock.now().addingTimeInterval(Double(config.signalPollInterval.milliseconds) / 1_000))
            }
        }
    }

    /// A proof that this process holds the run right now: the log is still where it was
    /// opened, and a fenced write extended the lease (only if this process holds it still).
    func fencedProof() throws -> RunProof {
        let before = engine.clock.uptime()
        let now = engine.clock.now()
        do {
            try store.confirmLocation()
            try store.extendLease(run: runID, owner: config.owner, now: now, ttl: config.leaseTTL)
        } catch {
            let e = naming(inFlightIn: error)
            fatal = fatal ?? e
            throw e
        }
        leaseWritten(at: now, startedAt: before)
        let clock = engine.clock
        return RunProof(
            runID: runID, holder: config.owner, epoch: Int64((now.timeIntervalSince1970 * 1_000).rounded(.down)) + config.leaseTTL.milliseconds,
            validUntil: leaseTrustedUntil, uptime: { clock.uptime() })
    }
}

/// The engine as a step sees it.
struct DriverContext: StepContext {
    let driver: RunDriver
    let runID: String
    let stepID: String
    let attempt: Int
    let mode: RunMode
    let startedBy: String
    let clock: any RunClock
    let vault: SecretVault

    var idempotencyKey: String { "\(runID)/\(stepID)" }

    func now() -> Date { clock.now() }

    func sleep(until deadline: Date) async throws {
        try await driver.sleep(step: stepID, until: deadline)
    }

    func durableTimer(_ name: String, duration: Duration) async throws {
        try await driver.durableTimer(step: stepID, name: name, duration: duration)
    }

    func awaitApprovals(required: Int, approvers: [Approver]) async throws -> [String] {
        try await driver.awaitApprovals(step: stepID, required: required, approvers: approvers)
    }

    func currentApprovals() async -> [String] {
        await driver.countedApprovers(stepID)
    }

    func secret(_ reference: String) throws -> String {
        try vault.resolve(reference)
    }

    func recordBefore(_ read: @Sendable () async throws -> JSONValue) async throws -> JSONValue {
        try await driver.recordBefore(step: stepID, attempt: attempt, read)
    }

    func recordedBefore() async -> JSONValue? {
        await driver.recordedBefore(step: stepID)
    }

    func note(_ message: String) async throws {
        try await driver.note(step: stepID, message)
    }

    func progress(_ message: String, key: String, data: JSONValue, inPlace: JSONValue?) async throws {
        try await driver.progress(step: stepID, key: key, message, data: data, inPlace: inPlace)
    }

    func recordedProgress() async -> [String: JSONValue] {
        await driver.state.steps[stepID]?.progress ?? [:]
    }

    func proof() async throws -> RunProof {
        try await driver.proof(step: stepID)
    }

    var children: (any ChildRuns)? {
        EngineChildRuns(engine: driver.engine, parent: RunParent(run: runID, step: stepID), mode: mode, startedBy: startedBy)
    }
}

/// What an engine without a signature checker has: no signed approval counts.
struct NoSignatureChecker: ApprovalSignatureChecking {
    func problem(signature: String, key: String, statement: String) -> String? {
        "this process checks no signatures (EngineConfiguration.approvalSignatures is not set)"
    }
}
