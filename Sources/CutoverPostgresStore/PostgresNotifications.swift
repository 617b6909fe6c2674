import CutoverCore
import CutoverPQ
import CutoverStore
import Foundation

/// A connection of its own that listens to the log's `cutover_events` channel (notified by
/// every transaction that inserts events, schema version 2): what wakes a worker when someone
/// approves, resumes or starts a run, instead of its next poll. A lost connection is made
/// again at the next wait; meanwhile the wait is a plain sleep.
public final class PostgresNotifications: @unchecked Sendable {
    // @unchecked: used by one waiting thread at a time.
    public static let channel = "cutover_events"
    private let uri: String
    private let location: String
    private var conn: PQConnection?

    public init(uri: String) throws {
        self.uri = uri
        location = StoreLocation.redacted(uri)
        try connect()
    }

    private func connect() throws {
        conn = nil
        let c = try PostgresStoreDatabase.connect(uri, location)
        do { _ = try c.execute("LISTEN \(Self.channel)") } catch let e as PostgresError { throw PostgresStoreDatabase.storeError(e, location, doing: "listening") }
        conn = c
    }

    /// Whether a notification came within `timeout`.
    public func wait(_ timeout: Duration) -> Bool {
        do {
            if conn?.isOK != true { try connect() }
            return try conn!.waitForNotification(timeout)
        } catch {
            conn = nil
            Thread.sleep(forTimeInterval: Double(timeout.components.seconds) + Double(timeout.components.attoseconds) / 1e18)
            return false
        }
    }
}
