import Foundation

/// A request to stop driving at the next step boundary: the step in flight finishes and its
/// outcome is recorded, then the driver lets the run go (lease released), to be resumed
/// later. This is how a scheduler shuts down on SIGTERM without leaving a step half done.
public final class StopRequest: @unchecked Sendable {
    // @unchecked: `requested` is only read and written under `lock`.
    private let lock = NSLock()
    private var requested = false

    public init() {}

    public func request() {
        lock.lock()
        requested = true
        lock.unlock()
    }

    public var isRequested: Bool {
        lock.lock()
        defer { lock.unlock() }
        return requested
    }
}
