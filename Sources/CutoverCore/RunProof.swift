import Foundation

/// Proof that the caller's process held the run a moment ago: the run, the lease holder and
/// the lease's epoch (the expiry the engine checked). Every mutating provider call takes one,
/// and only the engine can make one (`StepContext.proof()` checks the lease right then), so a
/// step that did not ask for it before changing the world does not compile.
///
/// A proof goes stale when the lease it was made from expires: `check()` refuses then, so a
/// driver frozen between asking and acting does not act on a run another process took over.
public struct RunProof: Sendable, CustomStringConvertible {
    public let runID: String
    public let holder: String
    /// The lease's expiry in milliseconds (wall clock, as stored) when the proof was made.
    public let epoch: Int64
    /// Until when, on this process's monotonic clock, it holds: the last write of the lease
    /// plus its time to live, less a safety margin for clocks that disagree between machines.
    private let validUntil: Duration
    private let uptime: @Sendable () -> Duration

    /// For the engine only (and test contexts that stand in for it): import with
    /// `@_spi(RunProof) import CutoverCore`.
    @_spi(RunProof)
    public init(runID: String, holder: String, epoch: Int64, validUntil: Duration, uptime: @escaping @Sendable () -> Duration) {
        self.runID = runID
        self.holder = holder
        self.epoch = epoch
        self.validUntil = validUntil
        self.uptime = uptime
    }


    /// Right before a mutating call: the lease the proof was made from is still current.
    /// - Throws: `StepError` `proof-expired` when it is not; nothing was sent. It is
    ///   retryable: the driver records the failure with a fenced append, which stops it if
    ///   another process took the run, and otherwise tries again with a new proof (a slow
    ///   call between asking and acting expires a proof without losing the lease).
    public func check(doing what: @autoclosure () -> String) throws {
        let now = uptime()
        guard now < validUntil else {
            throw StepError(
                code: "proof-expired",
                message: "not \(what()): the hold on run \(runID) this proof was made from ended \((now - validUntil).milliseconds)ms ago (lease and safety margin); nothing was sent",
                retryable: true)
        }
    }

    /// `check` as a transport's last-moment gate (`HTTPRequest.gate`, `RedisClient.run`):
    /// called once the connection is up, right before the request's bytes are written.
    public func gate(doing what: String) -> @Sendable () -> Error? {
        { [self] in
            do {
                try check(doing: what)
                return nil
            } catch {
                return error
            }
        }
    }

    public var description: String { "run \(runID) held by \(holder) until \(epoch)" }
}
