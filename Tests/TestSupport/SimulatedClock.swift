import CutoverCore
import Foundation

/// Simulated time: sleeping moves the clock forward at once, so a 10-minute soak takes no
/// real time. A deadline set by `withDeadline` is honoured by the sleeps inside it, which is
/// how a slow simulated step times out deterministically.
public final class SimulatedClock: RunClock, @unchecked Sendable {
    // @unchecked: `current` is only touched under `lock`.
    private let lock = NSLock()
    private var current: Date

    @TaskLocal static var deadline: Date?

    private let start: Date

    public init(start: Date = Date(timeIntervalSince1970: 1_790_000_000)) {
        current = start
        self.start = start
    }

    /// Simulated time since the clock was made: leases are measured in simulated time too.
    public func uptime() -> Duration {
        .milliseconds(Int64((now().timeIntervalSince(start) * 1_000).rounded()))
    }

    public func now() -> Date {
        lock.lock()
        defer { lock.unlock() }
        return current
    }

    /// Moves the clock to `date` (never backwards).
    public func set(_ date: Date) {
        lock.lock()
        if date > current { current = date }
        lock.unlock()
    }

    public func advance(by seconds: TimeInterval) {
        lock.lock()
        current = current.addingTimeInterval(seconds)
        lock.unlock()
    }

    public func sleep(until target: Date) async throws {
        try Task.checkCancellation()
        if let limit = Self.deadline, limit < target {
            move(to: limit)
            throw DeadlineExceeded()
        }
        move(to: target)
        await Task.yield()
    }

    public func withDeadline<T: Sendable>(_ deadline: Date, _ body: @Sendable @escaping () async throws -> T) async throws -> T {
        let effective = Self.deadline.map { min($0, deadline) } ?? deadline
        return try await Self.$deadline.withValue(effective) { try await body() }
    }

    private func move(to target: Date) {
        lock.lock()
        if target > current { current = target }
        lock.unlock()
    }
}

/// Run ids `run-1`, `run-2`, ... and a fixed jitter, for reproducible runs.
public final class SequentialIDs: IDSource, @unchecked Sendable {
    // @unchecked: `next` is only touched under `lock`.
    private let lock = NSLock()
    private var next = 0
    private let prefix: String

    public init(prefix: String = "run") { self.prefix = prefix }

    public func newRunID(at: Date) -> String {
        lock.lock()
        defer { lock.unlock() }
        next += 1
        return "\(prefix)-\(next)"
    }

    public func unitRandom() -> Double { 0.5 }
}

/// A fresh folder per test, removed when the value is dropped.
public final class TemporaryDirectory: @unchecked Sendable {
    // @unchecked: immutable after init.
    public let url: URL

    public init() {
        url = FileManager.default.temporaryDirectory.appendingPathComponent("cutover-test-\(UUID().uuidString)")
        try! FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }

    deinit { try? FileManager.default.removeItem(at: url) }

    public func path(_ name: String) -> String { url.appendingPathComponent(name).path }

    /// Writes `text` to `name` inside the folder and returns its path.
    @discardableResult
    public func write(_ name: String, _ text: String) -> String {
        let p = path(name)
        try! FileManager.default.createDirectory(
            atPath: (p as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        try! text.write(toFile: p, atomically: true, encoding: .utf8)
        return p
    }
}
