import CutoverCore
import Foundation

/// The log's halt as one process follows it: each look reads only the halt stream's events it
/// has not seen yet (none, almost always: one indexed read).
public final class HaltWatch: @unchecked Sendable {
    // @unchecked: `state` is only touched under `lock`.
    private let lock = NSLock()
    private let store: any EventStore
    private var state = HaltState()

    public init(store: any EventStore) { self.store = store }

    /// The halt as the log says now.
    /// - Throws: the store's errors; `FoldError` for a halt stream that does not fold.
    public func current() throws -> HaltState {
        try lock.withLock {
            for e in try store.events(of: LogStream.halt, after: state.lastRunSeq) { try state.apply(e) }
            return state
        }
    }
}

/// A start refused because the log is halted.
public struct HaltedError: Error, Sendable, CustomStringConvertible {
    public let halt: HaltState
    public init(_ halt: HaltState) { self.halt = halt }
    public var description: String {
        "the log is \(halt.summary); nothing starts until `cutover unhalt`"
    }
}
