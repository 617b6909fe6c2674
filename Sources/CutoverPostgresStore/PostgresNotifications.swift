import CutoverCore
import CutoverPQ
import CutoverStore
import Foundation

/// A connection of its own that listens to the log's `cutover_events` channel (notified by
/// every transaction that inserts events, schema version 2): what wakes a worker when someone
/// approves, resumes or starts a run, instead of its next poll. The connection has TCP
/// keepalives and a connect timeout, so a partition is noticed within seconds rather than
/// hours; one that is lost, or never made, is made again at a later wait (at most every five
/// seconds), the wait meanwhile a plain sleep: polling is the fallback.
public final class PostgresNotifications: @unchecked Sendable {
    // @unchecked: used by one waiting thread at a time.
    public static let channel = "cutover_events"
    private let uri: String
    private let location: String
    private var conn: PQConnection?
    private var nextAttempt = Date.distantPast

    public init(uri: String) {
        // A listener that goes quiet must be noticed: keepalives, and a bounded connect.
        let extra = ["connect_timeout=5", "keepalives=1", "keepalives_idle=5", "keepalives_interval=2", "keepalives_count=3"]
            .filter { !uri.contains($0.split(separator: "=")[0] + "=") }
        self.uri = extra.isEmpty ? uri : uri + (uri.contains("?") ? "&" : "?") + extra.joined(separator: "&")
        location = StoreLocation.redacted(uri)
    }

    /// Whether it listens now (a connection made and listening).
    public var listening: Bool { conn?.isOK == true }

    private func connect() throws {
        conn = nil
        nextAttempt = Date().addingTimeInterval(5)
        let c = try PostgresStoreDatabase.connect(uri, location)
        do { _ = try c.execute("LISTEN \(Self.channel)") } catch let e as PostgresError { throw PostgresStoreDatabase.storeError(e, location, doing: "listening") }
        conn = c
    }

    /// Whether a notification came within `timeout`.
    public func wait(_ timeout: Duration) -> Bool {
        do {
            if conn?.isOK != true {
                guard Date() >= nextAttempt else { throw CancellationError() }
                try connect()
            }
            return try conn!.waitForNotification(timeout)
        } catch {
            conn = nil
            Thread.sleep(forTimeInterval: Double(timeout.components.seconds) + Double(timeout.components.attoseconds) / 1e18)
            return false
        }
    }
}
