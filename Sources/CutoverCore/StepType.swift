import Foundation

/// A kind of step: Swift code with typed parameters that can change the world, say what is
/// true now (after a crash), and undo its change from the before-state it recorded.
public protocol StepType: Sendable {
    associatedtype Output: Codable & Sendable

    /// The name workflows use in `"type"`, like `dns.switch`.
    static var name: String { get }
    /// The kind of the step when its parameters do not say otherwise.
    static var kind: StepKind { get }
    /// The kind of one step of this type, from its `with` as written (a step compensable only
    /// when it is given an undo says so here).
    static func kind(with parameters: [String: JSONValue]) -> StepKind
    /// The fields of `with`, declared once: checked before anything is written, read by the
    /// step through `StepParameters`, shown by `plan`.
    static var schema: StepSchema { get }
    /// What compensation does, for `cutover plan`; nil when there is nothing to undo.
    static var compensation: String? { get }
    /// What the step does and what it changes, one or two sentences, for the reference.
    static var summary: String { get }
    /// What `observe` reads to settle an attempt a crash left in flight, for the reference; nil
    /// when it reads nothing (the attempt runs again).
    static var observation: String? { get }
    /// Rules across fields that each pass alone (three approvals of one approver, a window
    /// longer than the step may run): `(field, problem)`, the field `timeout` for the step's
    /// own. `with` holds the values as resolved where they could be (a step reference stays
    /// as written); checked when a workflow loads with its runbook.
    static func problems(with: [String: JSONValue], timeout: Duration?) -> [(field: String, problem: String)]

    func execute(_ p: StepParameters, _ ctx: any StepContext) async throws -> Output
    /// What is true now, used to settle an attempt left in flight by a crash: the output the
    /// attempt would have recorded if it had completed, or nil to execute it again.
    func observe(_ p: StepParameters, _ ctx: any StepContext) async throws -> Output?
    func compensate(_ p: StepParameters, _ output: Output, _ ctx: any StepContext) async throws
    /// What `cutover preflight` reads for a step that changes something, through the same
    /// read calls `execute` makes before it changes anything: a short line of what it found
    /// (the record set DNS serves now, the group's size), or nil when the step has nothing to
    /// read. Throws what would stop the step (a replica that is not one). Never changes anything:
    /// the preflight's context refuses `proof()` and `recordBefore`.
    func preflight(_ p: StepParameters, _ ctx: any StepContext) async throws -> String?
    /// What the step changed, from the output it recorded: one line, before → after (the
    /// record set, the group's size, the replica's role), for `status`, the drill report and
    /// the HTML export; nil when it changed nothing worth saying. Asked only of steps planned
    /// as ones that change something (not of a `check`, which changes nothing).
    static func change(_ output: Output) -> String?
}

extension StepType {
    public static var compensation: String? { nil }
    public static var summary: String { "" }
    public static var observation: String? { nil }
    public static func kind(with parameters: [String: JSONValue]) -> StepKind { kind }
    public static func problems(with: [String: JSONValue], timeout: Duration?) -> [(field: String, problem: String)] { [] }
    public func observe(_ p: StepParameters, _ ctx: any StepContext) async throws -> Output? { nil }
    public func compensate(_ p: StepParameters, _ output: Output, _ ctx: any StepContext) async throws {}
    public func preflight(_ p: StepParameters, _ ctx: any StepContext) async throws -> String? { nil }
    public static func change(_ output: Output) -> String? { nil }
}

/// What a step can ask of the engine while it runs.
public protocol StepContext: Sendable {
    var runID: String { get }
    var stepID: String { get }
    var attempt: Int { get }
    var mode: RunMode { get }
    /// Who started the run.
    var startedBy: String { get }
    /// `runID/stepID`, for providers that accept an idempotency key.
    var idempotencyKey: String { get }
    /// The engine's clock.
    func now() -> Date
    /// Waits until `deadline`, reading pause and abort signals meanwhile.
    /// - Throws: `RunInterruption` when the run is aborted or the driver must stop.
    func sleep(until deadline: Date) async throws
    /// A timer that survives a crash: the first call for `name` in this step records its
    /// end; later calls (after a resume) wait only the time left.
    func durableTimer(_ name: String, duration: Duration) async throws
    /// Records an approval request once, then waits until `required` distinct people allowed
    /// to approve have approved; returns who approved.
    func awaitApprovals(required: Int, approvers: [Approver]) async throws -> [String]
    /// The distinct people whose approvals of this step count so far (for `observe`).
    func currentApprovals() async -> [String]
    /// Resolves a secret reference (`env:NAME`, `file:/path`; `aws-sm:` and `gcp-sm:` as read
    /// right before the step ran) at execution time.
    /// - Throws: `StepError` naming the reference (never its value) when it cannot be read.
    func secret(_ reference: String) throws -> String
    /// An optional secret: nil when the reference names nothing (an unset variable, a missing
    /// file), where `secret` throws.
    func secretIfSet(_ reference: String) throws -> String?
    /// The before-state of this step: the one an earlier attempt recorded, or else what `read`
    /// returns now, recorded durably before the caller changes anything.
    func recordBefore(_ read: @Sendable () async throws -> JSONValue) async throws -> JSONValue
    /// The before-state an attempt of this step recorded, if any (for `observe`).
    func recordedBefore() async -> JSONValue?
    /// Records a line of progress in the log and shows it live.
    func note(_ message: String) async throws
    /// Records how far the step got, `data` under `key` (what a later attempt takes up with
    /// `recordedProgress`), with a line for people shown live. `inPlace`: the step has made a
    /// change that stays whether or not it succeeds (a child run started); a rollback
    /// compensates it from this output if the step never records one.
    func progress(_ message: String, key: String, data: JSONValue, inPlace: JSONValue?) async throws
    /// The latest progress data every attempt of this step recorded, by key.
    func recordedProgress() async -> [String: JSONValue]
    /// Proves, right now, that this process still holds the run: what every mutating
    /// provider call takes. Ask for it immediately before the call.
    /// - Throws: when the lease is lost (the driver stops; nothing is changed).
    func proof() async throws -> RunProof
    /// Child runs of this run, for the `workflow` step; nil where runs cannot be started
    /// (preflight, a step tested alone).
    var children: (any ChildRuns)? { get }
}

/// What a `workflow` step asks of the engine: child runs of the run it belongs to, each with
/// its own log stream and its own service lock, driven by this process.
public protocol ChildRuns: Sendable {
    /// Child run `id` as its events fold, or nil when it was never started.
    func state(of id: String) throws -> RunState?
    /// Starts child run `id` of `workflow` for `runbook`, linked to this run's step, unless
    /// it was started already (before a crash); then drives it until it ends or waits for a
    /// person.
    /// - Throws: `StepError` when the definitions do not load or the child's service is held.
    func drive(_ id: String, workflow: String, runbook: String) async throws -> RunState
    /// Asks child run `id` to roll back, unless it has already ended without its changes, and
    /// drives it until it ends or waits for a person.
    func rollBack(_ id: String, reason: String) async throws -> RunState
    /// Whether this process is stopping (asked to stop at the next step boundary): a step
    /// whose child waits for a person leaves it waiting rather than watching it.
    var stopping: Bool { get }
}

/// Thrown out of a step when the run must stop driving: aborted, or detached to wait for a human.
public enum RunInterruption: Error, Sendable, Equatable {
    case aborted
    case detached
    /// The step's parallel group stops (a sibling failed, or an abort): thrown at the step's
    /// next safe point (a wait, or the proof right before a change), never in the middle of one.
    case cancelled
}

extension StepContext {
    public var children: (any ChildRuns)? { nil }

    /// Progress with no change in place.
    public func progress(_ message: String, key: String, data: JSONValue) async throws {
        try await progress(message, key: key, data: data, inPlace: nil)
    }

    public func secretIfSet(_ reference: String) throws -> String? {
        do { return try secret(reference) } catch let e as StepError where e.code == "secret-missing" { return nil }
    }

    /// Typed `recordBefore`.
    public func recordBefore<T: Codable & Sendable>(_ type: T.Type, _ read: @Sendable () async throws -> T) async throws -> T {
        let value = try await recordBefore { try JSONValue.encode(try await read()) }
        return try value.decode(T.self)
    }

    /// Typed `recordedBefore`.
    public func recordedBefore<T: Decodable>(_ type: T.Type) async -> T? {
        try? await recordedBefore()?.decode(T.self)
    }
}
