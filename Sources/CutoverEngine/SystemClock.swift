import CutoverCore
import Foundation

/// Wall-clock time and real sleeps.
public struct SystemClock: RunClock {
    public init() {}

    public func now() -> Date { Date() }

    public func sleep(until deadline: Date) async throws {
        let seconds = deadline.timeIntervalSinceNow
        if seconds > 0 { try await Task.sleep(for: .milliseconds(Int64(seconds * 1_000))) }
        try Task.checkCancellation()
    }

    public func withDeadline<T: Sendable>(_ deadline: Date, _ body: @Sendable @escaping () async throws -> T) async throws -> T {
        try await withThrowingTaskGroup(of: T.self) { group in
            group.addTask { try await body() }
            group.addTask {
                try await sleep(until: deadline)
                throw DeadlineExceeded()
            }
            defer { group.cancelAll() }
            return try await group.next()!
        }
    }
}

/// Run ids like `run-20261125-0503-7f3a9c`: sortable by time, unique by chance.
public struct RandomIDs: IDSource {
    public init() {}

    public func newRunID(at date: Date) -> String {
        let suffix = String(UInt32.random(in: 0...UInt32.max), radix: 16)
        let millis = Int64((date.timeIntervalSince1970 * 1_000).rounded(.down))
        return "run-\(TimeText.compact(millis))-\(String(repeating: "0", count: 8 - suffix.count))\(suffix)"
    }

    public func unitRandom() -> Double { Double.random(in: 0..<1) }
}
