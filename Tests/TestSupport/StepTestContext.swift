@_spi(RunProof) import CutoverCore
import CutoverEngine
import Foundation

/// A StepContext for calling one step type directly, without an engine: records notes and
/// resolves secrets (`env:` from a given environment, `file:`) as the engine does.
public final class StepTestContext: StepContext, @unchecked Sendable {
    // @unchecked: `notes` is only touched under `lock`.
    public let runID = "run-test"
    public let stepID: String
    public let attempt = 1
    public let mode: RunMode
    public let startedBy = "oncall"
    private let environment: [String: String]
    private let lock = NSLock()
    private var recorded: [String] = []

    /// How long the proofs this context makes stay valid (a lease of that length).
    private let holdFor: TimeInterval
    private var proofs = 0
    /// After this many proofs the lease is lost: every later `proof()` throws, as the engine's
    /// does when another process took the run.
    private let leaseLostAfter: Int?

    public init(step: String = "step", mode: RunMode = .live, environment: [String: String] = [:], holdFor: TimeInterval = 3_600, leaseLostAfter: Int? = nil) {
        stepID = step
        self.mode = mode
        self.environment = environment
        self.holdFor = holdFor
        self.leaseLostAfter = leaseLostAfter
    }

    /// How many proofs a step asked for: one before each mutating call.
    public var proofsMade: Int { lock.withLock { proofs } }

    public func proof() async throws -> RunProof {
        let n = lock.withLock {
            proofs += 1
            return proofs
        }
        if let leaseLostAfter, n > leaseLostAfter {
            throw StepError(code: "lease-lost", message: "the lease of run-test is held by another process", retryable: false)
        }
        return Self.proof(runID: runID, holder: "test", lasting: holdFor)
    }

    /// A proof whose lease expired `ago` seconds ago: what a driver frozen past its lease holds.
    public static func staleProof(ago: TimeInterval = 1) -> RunProof {
        proof(runID: "run-test", holder: "frozen", lasting: -ago)
    }

    /// A proof on the system's monotonic clock that holds for `lasting` seconds from now.
    static func proof(runID: String, holder: String, lasting: TimeInterval) -> RunProof {
        let clock = SystemUptime()
        let until = clock.uptime() + .milliseconds(Int64(lasting * 1_000))
        return RunProof(runID: runID, holder: holder, epoch: Int64((Date().timeIntervalSince1970 + lasting) * 1_000), validUntil: until, uptime: { clock.uptime() })
    }

    /// A proof made from a lease that ends `lasting` seconds from now on `clock`.
    public static func proof(runID: String, clock: SimulatedClock, lasting: TimeInterval) -> RunProof {
        let until = clock.uptime() + .milliseconds(Int64(lasting * 1_000))
        return RunProof(runID: runID, holder: "test", epoch: Int64((clock.now().timeIntervalSince1970 + lasting) * 1_000), validUntil: until, uptime: { clock.uptime() })
    }

    /// A proof good for an hour, for calling adapters directly.
    public static func freshProof() -> RunProof {
        proof(runID: "run-test", holder: "test", lasting: 3_600)
    }

    public var idempotencyKey: String { "\(runID)/\(stepID)" }
    public var notes: [String] {
        lock.lock()
        defer { lock.unlock() }
        return recorded
    }

    public func now() -> Date { Date() }
    public func sleep(until deadline: Date) async throws {
        let s = deadline.timeIntervalSinceNow
        if s > 0 { try await Task.sleep(for: .milliseconds(Int64(s * 1_000))) }
    }
    public func durableTimer(_ name: String, duration: Duration) async throws { try await Task.sleep(for: duration) }
    public func awaitApprovals(required: Int, approvers: [Approver]) async throws -> [String] { [] }
    public func currentApprovals() async -> [String] { [] }
    private var before: JSONValue?

    /// As the engine: the first before-state recorded in this context is the one kept.
    public func recordBefore(_ read: @Sendable () async throws -> JSONValue) async throws -> JSONValue {
        if let kept = lock.withLock({ before }) { return kept }
        let value = try await read()
        lock.withLock { before = before ?? value }
        return value
    }

    public func recordedBefore() async -> JSONValue? { lock.withLock { before } }

    public func secret(_ reference: String) throws -> String {
        try SecretVault(environment: environment).resolve(reference)
    }

    public func note(_ message: String) async throws {
        lock.withLock { recorded.append(message) }
    }

    private var progressData: [String: JSONValue] = [:]

    /// Progress lines go to `notes`; the data is kept, as the engine keeps it, for a later attempt.
    public func progress(_ message: String, key: String, data: JSONValue, inPlace: JSONValue?) async throws {
        lock.withLock {
            recorded.append(message)
            progressData[key] = data
        }
    }

    public func recordedProgress() async -> [String: JSONValue] { lock.withLock { progressData } }
}

/// The system's monotonic clock as `RunClock.uptime` reads it.
struct SystemUptime: RunClock {
    func now() -> Date { Date() }
    func sleep(until deadline: Date) async throws {}
    func withDeadline<T: Sendable>(_ deadline: Date, _ body: @Sendable @escaping () async throws -> T) async throws -> T { try await body() }
}
