import CutoverCore
import Foundation

/// Child runs as the engine starts and drives them for a `workflow` step: each its own run,
/// with its own stream, lease and service lock, its start naming the parent run and step.
struct EngineChildRuns: ChildRuns {
    let engine: Engine
    let parent: RunParent
    let mode: RunMode
    let startedBy: String

    func state(of id: String) throws -> RunState? { try engine.store.fold(id) }

    func drive(_ id: String, workflow: String, runbook: String) async throws -> RunState {
        if try engine.store.fold(id) == nil {
            guard let load = engine.configuration.childDefinitions else {
                throw StepError(code: "no-child-runs", message: "step \(parent.step): this process was not given a way to load child workflows", retryable: false)
            }
            var request: Engine.StartRequest
            do {
                request = try load(workflow, runbook, mode)
            } catch {
                throw StepError(code: "bad-child", message: "step \(parent.step): the child workflow \(workflow) for \(runbook) does not load: \(error)", retryable: false)
            }
            // The child is the parent's work: same person, same mode, linked to the step.
            request.startedBy = startedBy
            request.mode = mode
            request.parent = parent
            do {
                _ = try engine.start(request, runID: id)
            } catch let halted as HaltedError {
                throw StepError(code: "halted", message: "step \(parent.step): \(halted)", retryable: true)
            } catch let e as StoreError where e.code == .scopeLocked {
                throw StepError(
                    code: "child-service-held",
                    message: "step \(parent.step): service \(e.scope ?? request.runbook.service) of the child run is held by run \(e.holder ?? "another run"); it starts once that run ends",
                    retryable: true)
            }
        }
        return try await driveHeld(id)
    }

    func rollBack(_ id: String, reason: String) async throws -> RunState {
        guard var state = try engine.store.fold(id) else {
            // Never started: nothing of it to undo.
            return RunState(runID: id)
        }
        if [.rolledBack, .failed, .aborted].contains(state.status) { return state }
        if state.rollback == nil, state.rollbackRequest == nil {
            for _ in 0..<20 {
                do {
                    _ = try engine.store.append(
                        [EventDraft(at: engine.clock.now(), actor: engine.configuration.actor, body: .rollbackRequested(Signal(reason: reason)))],
                        to: id, expectedNext: state.lastRunSeq + 1,
                        options: AppendOptions(now: engine.clock.now(), lockScope: state.status == .succeeded ? state.plan?.scope : nil))
                    break
                } catch let e as StoreError where e.code == .conflict {
                    state = try engine.state(of: id)
                }
            }
        }
        return try await driveHeld(id)
    }

    /// Drives the child; one another process still drives is waited for by the step's retry.
    /// The child's driver reads the parent's new events at each boundary and wait: an abort of
    /// the parent aborts the child, which rolls back what it changed.
    private func driveHeld(_ id: String) async throws -> RunState {
        var configuration = engine.configuration
        let watch = ParentWatch(store: engine.store, run: parent.run)
        configuration.parentAbort = { try watch.abortReason() }
        let child = Engine(
            store: engine.store, registry: engine.registry, clock: engine.clock, ids: engine.ids, configuration: configuration, observer: engine.observer)
        do {
            return try await child.drive(id)
        } catch let e as StoreError where e.code == .leaseHeld {
            throw StepError(code: "child-driven-elsewhere", message: "step \(parent.step): child run \(id) is driven by another process (\(e.holder ?? "unknown")); trying again later", retryable: true)
        }
    }
}

/// The parent run's events as a child's driver reads them: only those it has not seen yet.
final class ParentWatch: @unchecked Sendable {
    // @unchecked: `seen` and `reason` are only touched under `lock`.
    private let lock = NSLock()
    private let store: any EventStore
    private let run: String
    private var seen: Int64 = 0
    private var reason: String?

    init(store: any EventStore, run: String) {
        self.store = store
        self.run = run
    }

    func abortReason() throws -> String? {
        try lock.withLock {
            if let reason { return reason }
            for e in try store.events(of: run, after: seen) {
                seen = e.runSeq
                if case .abortRequested(let p) = e.body {
                    reason = "its parent run \(run) was aborted by \(e.actor)\(p.reason.map { ": \($0)" } ?? "")"
                }
            }
            return reason
        }
    }
}
