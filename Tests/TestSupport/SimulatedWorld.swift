import CutoverCore
import CutoverEngine
import CutoverSteps
import Foundation

/// An in-process stand-in for the clouds: named values that steps set and restore, a record
/// of every change, and failures and crashes injected where a test asks.
public final class SimulatedWorld: @unchecked Sendable {
    // @unchecked: all mutable state is only touched under `lock`.
    public enum Operation: String, Sendable { case execute, compensate }

    public struct Effect: Sendable, Equatable {
        public var step: String
        public var operation: Operation
        public var key: String
        public var value: String
        /// The log already said this step (or its compensation) was done when it was applied.
        public var afterRecordedDone: Bool
    }

    private let lock = NSLock()
    private var values: [String: String]
    private var effectLog: [Effect] = []
    private var failures: [String: [StepError]] = [:]
    private var compensationFailures: [String: [StepError]] = [:]
    private var crashAfterEffect: Int?
    private var onCrash: (@Sendable () -> Void)?
    private var isRecordedDone: (@Sendable (String, Operation) -> Bool)?
    private var inside = 0
    private var mostInside = 0

    /// The most steps that were inside a `hold` at the same moment.
    public var mostAtOnce: Int {
        lock.lock()
        defer { lock.unlock() }
        return mostInside
    }

    private var released = false

    /// Ends every hold now and from now on: a test lets held steps go once what it waits for
    /// has happened, whatever the machine's load made of the real time in between.
    public func releaseHolds() { lock.withLock { released = true } }

    /// Ends every hold once `n` steps have been held at the same moment.
    public func releaseHolds(whenAtOnce n: Int) { lock.withLock { releaseAtOnce = n } }
    private var releaseAtOnce: Int?

    /// Holds a step for `duration` of real time (or until `releaseHolds`), counting how many
    /// are held at once.
    func hold(_ duration: Duration) async {
        lock.withLock {
            inside += 1
            mostInside = max(mostInside, inside)
        }
        let until = ContinuousClock.now + duration
        while ContinuousClock.now < until, !lock.withLock({ released || releaseAtOnce.map { mostInside >= $0 } == true }) {
            try? await Task.sleep(for: .milliseconds(10))
        }
        lock.withLock { inside -= 1 }
    }

    public init(_ values: [String: String]) { self.values = values }

    public subscript(key: String) -> String? {
        lock.lock()
        defer { lock.unlock() }
        return values[key]
    }

    public var snapshot: [String: String] {
        lock.lock()
        defer { lock.unlock() }
        return values
    }

    public var effects: [Effect] {
        lock.lock()
        defer { lock.unlock() }
        return effectLog
    }

    /// The next executions of `step` throw these errors, one each.
    public func failExecute(_ step: String, with errors: [StepError]) {
        lock.lock()
        failures[step, default: []] += errors
        lock.unlock()
    }

    public func failCompensate(_ step: String, with errors: [StepError]) {
        lock.lock()
        compensationFailures[step, default: []] += errors
        lock.unlock()
    }

    /// After the `n`-th change (1-based), call `crash`, as if the machine died right after
    /// the provider applied it.
    public func crash(afterEffect n: Int, _ crash: @escaping @Sendable () -> Void) {
        lock.lock()
        crashAfterEffect = n
        onCrash = crash
        lock.unlock()
    }

    /// How to ask the log whether a step was already recorded as done.
    public func checkDuplicates(_ check: @escaping @Sendable (String, Operation) -> Bool) {
        lock.lock()
        isRecordedDone = check
        lock.unlock()
    }

    func injectedFailure(_ step: String, _ op: Operation) throws {
        lock.lock()
        var error: StepError?
        if op == .execute, var list = failures[step], !list.isEmpty {
            error = list.removeFirst()
            failures[step] = list
        } else if op == .compensate, var list = compensationFailures[step], !list.isEmpty {
            error = list.removeFirst()
            compensationFailures[step] = list
        }
        lock.unlock()
        if let error { throw error }
    }

    public func set(_ key: String, _ value: String, by step: String, _ op: Operation) {
        lock.lock()
        let duplicate = isRecordedDone?(step, op) ?? false
        values[key] = value
        effectLog.append(Effect(step: step, operation: op, key: key, value: value, afterRecordedDone: duplicate))
        let crash = crashAfterEffect == effectLog.count ? onCrash : nil
        lock.unlock()
        crash?()
    }
}

/// Parameters and output shared by the simulated changing steps.
public struct SimChange: Codable, Sendable {
    public var key: String
    public var value: String
}

public struct SimPrevious: Codable, Sendable, Equatable {
    public var key: String
    public var previous: String?
}

/// What `sim.set` and `sim.pivot` share: set a world value, put the previous one back.
public protocol SimChanging: StepType where Output == SimPrevious {
    var world: SimulatedWorld { get }
}

extension SimChanging {
    public static var schema: StepSchema { SimSet.changeSchema }

    public func execute(_ p: StepParameters, _ ctx: any StepContext) async throws -> SimPrevious {
        let change = try SimSet.change(p)
        let before = try await ctx.recordBefore(SimPrevious.self) { SimPrevious(key: change.key, previous: world[change.key]) }
        // Real time, unlike the simulated clock: a parallel group's members overlap here.
        if let hold = try p[SimSet.hold] { await world.hold(hold) }
        // Like a provider call: the change is made only with a proof that the run is held.
        try (try await ctx.proof()).check(doing: "setting \(change.key)")
        try world.injectedFailure(ctx.stepID, .execute)
        world.set(change.key, change.value, by: ctx.stepID, .execute)
        return before
    }

    public func observe(_ p: StepParameters, _ ctx: any StepContext) async throws -> SimPrevious? {
        let change = try SimSet.change(p)
        guard world[change.key] == change.value, let before = await ctx.recordedBefore(SimPrevious.self) else { return nil }
        return before
    }

    public func compensate(_ p: StepParameters, _ output: SimPrevious, _ ctx: any StepContext) async throws {
        try (try await ctx.proof()).check(doing: "restoring \(output.key)")
        try world.injectedFailure(ctx.stepID, .compensate)
        world.set(output.key, output.previous ?? "", by: ctx.stepID, .compensate)
    }
}

/// `sim.set`: sets a world value; compensation puts the previous value back.
public struct SimSet: SimChanging {
    public static let name = "sim.set"
    public static let kind = StepKind.compensable
    public static let compensation: String? = "puts the previous value back"
    static let key = Param<String>.string("key", "the world's key")
    static let value = Param<String>.string("value", "what to set it to")
    static let hold = Param<Duration?>.duration("hold", "real time the step takes before its change")
    static let changeSchema = StepSchema(key, value, hold)
    public let world: SimulatedWorld
    public init(world: SimulatedWorld) { self.world = world }

    static func change(_ p: StepParameters) throws -> SimChange {
        SimChange(key: try p[key], value: try p[value])
    }
}

/// `sim.pivot`: like `sim.set`, but a pivot (think: writes enabled on DR).
public struct SimPivot: SimChanging {
    public static let name = "sim.pivot"
    public static let kind = StepKind.pivot
    public static let compensation: String? = "puts the previous value back (drills and explicit rollbacks only)"
    public let world: SimulatedWorld
    public init(world: SimulatedWorld) { self.world = world }
}

/// `sim.check`: reads a world value; fails (retryably) when it differs from `equals`.
public struct SimCheck: StepType {
    public struct Output: Codable, Sendable { public var value: String? }
    public static let name = "sim.check"
    public static let kind = StepKind.check
    static let key = Param<String>.string("key", "the world's key")
    static let equals = Param<String?>.string("equals", "the value it must have")
    static let takes = Param<Duration?>.duration("takes", "how long the check takes")
    public static let schema = StepSchema(key, equals, takes)
    let world: SimulatedWorld
    public init(world: SimulatedWorld) { self.world = world }

    public func execute(_ p: StepParameters, _ ctx: any StepContext) async throws -> Output {
        if let d = try p[Self.takes] {
            try await ctx.sleep(until: ctx.now().addingTimeInterval(Double(d.milliseconds) / 1_000))
        }
        try world.injectedFailure(ctx.stepID, .execute)
        let key = try p[Self.key]
        let value = world[key]
        if let expected = try p[Self.equals], value != expected {
            throw StepError(code: "mismatch", message: "\(key) is \(value ?? "unset"), expected \(expected)", retryable: true)
        }
        return Output(value: value)
    }
}

/// Built-in step types plus the simulated ones, bound to `world`.
public func simulatedRegistry(_ world: SimulatedWorld) -> StepRegistry {
    var registry = standardRegistry()
    registry.register(AnyStepType(SimSet(world: world)))
    registry.register(AnyStepType(SimPivot(world: world)))
    registry.register(AnyStepType(SimCheck(world: world)))
    return registry
}
