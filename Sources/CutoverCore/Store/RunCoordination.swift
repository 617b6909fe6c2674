import Foundation

/// Who may act, as opposed to what happened: which process drives a run (a lease with an
/// expiry) and which run holds a service (one active run per scope). Kept in the same
/// database as the log, so that an append can be fenced by the lease in its own transaction.
public protocol RunCoordination: AnyObject, Sendable {
    /// Takes or renews the lease on `run` for `owner` until `now + ttl`. An expired lease, or
    /// one whose holder `isGone`, is taken over.
    /// - Throws: `StoreError` with code `.leaseHeld` naming the live holder.
    func acquireLease(run: String, owner: String, now: Date, ttl: Duration, isGone: (String) -> Bool) throws
    /// Extends the lease on `run` until `now + ttl`, only if `owner` holds it still (expired
    /// or not, as long as nobody took it over or released it): the fenced check a driver
    /// makes right before it changes the world.
    /// - Throws: `StoreError` with code `.leaseLost` naming the holder, if any.
    func extendLease(run: String, owner: String, now: Date, ttl: Duration) throws
    /// Gives the lease up, if `owner` holds it.
    func releaseLease(run: String, owner: String) throws
    /// The holder of `run`'s lease and when it expires, if anyone holds it.
    func leaseHolder(run: String) throws -> Lease?
    /// The run holding `scope` (one active run per service), if any.
    func lockHolder(scope: String) throws -> String?
}

/// A store: the event log and the coordination that fences it.
public typealias EventStore = EventLog & RunCoordination

/// The right of one process to drive a run, until `expires`.
public struct Lease: Sendable, Equatable {
    public let owner: String
    public let expiresMillis: Int64

    public init(owner: String, expiresMillis: Int64) {
        self.owner = owner
        self.expiresMillis = expiresMillis
    }

    public var expires: Date { Date(timeIntervalSince1970: Double(expiresMillis) / 1_000) }
}
