import CutoverCore
import CutoverEngine
import CutoverProviders
import CutoverSQLite
import CutoverSteps
import CutoverStore
import Foundation
import Testing
import TestSupport

/// The user data's PostgreSQL primary and its streaming replica in the sandbox: read, marked,
/// refused when lagging, rehearsed in a drill, and a promotion a crash left unrecorded settled
/// by observing.
extension SandboxTests {
    static func postgres(_ port: Int) -> String {
        #"{"provider": "postgres", "host": "127.0.0.1", "port": \#(port), "database": "recsys", "user": "cutover", "password": "env:PG_CUTOVER_PASSWORD", "sslmode": "disable"}"#
    }

    /// psql as the sandbox's superuser (over the server's unix socket) against one of its servers.
    func psql(_ port: Int, _ sql: String) throws -> String {
        let socket = sandbox.directory.appendingPathComponent(port == 15432 ? "pg-primary/socket" : "pg-dr/socket").path
        let r = try sandbox.run(["psql", "-h", socket, "-p", String(port), "-U", "postgres", "-d", "recsys", "-XAtc", sql])
        #expect(r.status == 0, "psql: \(r.output)")
        return r.output.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    @Test func postgresKeepsItsReplicaContract() async throws {
        let primary = try catalog.replica(try target(Self.postgres(15432)), ctx)
        let dr = try catalog.replica(try target(Self.postgres(15433)), ctx)
        #expect(try await primary.state().role == .primary)
        let s = try await dr.state()
        #expect(s.role == .replica && s.following == "127.0.0.1:15432" && s.linkUp, "\(s)")
        #expect(try await dr.promotionProblems().isEmpty)
        #expect(!dr.promotionUndoable)

        // The heartbeat row is a check-and-set, and it reaches the replica.
        let key = "contract-\(UUID().uuidString.prefix(8))"
        await ProviderContracts.stale("a marker") { try await primary.writeMarker(key: key, value: "x", replacing: nil, StepTestContext.staleProof()) }
        #expect(try await primary.readMarker(key: key) == nil, "a stale proof wrote nothing")
        #expect(try await primary.writeMarker(key: key, value: "v1", replacing: nil, StepTestContext.freshProof()))
        #expect(try await !primary.writeMarker(key: key, value: "v2", replacing: nil, StepTestContext.freshProof()), "absent was expected: left alone")
        #expect(try await primary.writeMarker(key: key, value: "v2", replacing: "v1", StepTestContext.freshProof()))
        #expect(try await ProviderContracts.eventually { try await dr.readMarker(key: key) == "v2" }, "the replica replays it")

        await ProviderContracts.stale("promoting") { try await dr.promote(StepTestContext.staleProof()) }
        #expect(try await dr.state().role == .replica, "a stale proof promoted nothing")
        let follow = await #expect(throws: StepError.self) { try await dr.follow("127.0.0.1:15432", StepTestContext.freshProof()) }
        #expect(follow?.code == "postgres-follow-needs-a-person" && follow?.message.contains("pg_rewind") == true)

        // A wrong password is named, not retried, and never shown.
        let wrong = try catalog.replica(try target(Self.postgres(15433).replacingOccurrences(of: "env:PG_CUTOVER_PASSWORD", with: "env:WRONG_KEY")), ctx)
        do {
            _ = try await wrong.state()
            Issue.record("a wrong password connected")
        } catch {
            let e = try #require(StepError.from(error, doing: "reading") as? StepError)
            #expect(e.code == "postgres-auth" && !e.retryable && !e.message.contains("not-the-key"), "\(e)")
        }
    }

    @Test func aLaggingPostgresReplicaIsRefusedBeforePromotion() async throws {
        _ = try psql(15433, "SELECT pg_wal_replay_pause()")
        defer { _ = try? psql(15433, "SELECT pg_wal_replay_resume()") }
        let check = ReplicationCheck(providers: catalog)
        let lag = await #expect(throws: StepError.self) {
            try await run(check, #"{"primary": \#(Self.postgres(15432)), "replica": \#(Self.postgres(15433)), "rpo": "2s"}"#)
        }
        #expect(lag?.message.contains("PostgreSQL 127.0.0.1:15433") == true, "\(lag?.message ?? "")")
        let step = WritesEnable(providers: catalog)
        let params = try params(WritesEnable.self, #"{"replica": \#(Self.postgres(15433)), "primary": \#(Self.postgres(15432))}"#)
        let refused = await #expect(throws: StepError.self) { try await step.execute(params, StepTestContext(mode: .drill, environment: env)) }
        #expect(refused?.code == "not-promotable" && refused?.message.contains("WAL replay is paused") == true, "\(refused?.message ?? "")")
        #expect(try psql(15433, "SELECT pg_is_in_recovery()") == "t")
    }

    @Test func aDrillRehearsesThePostgresPromotionWithoutMakingIt() async throws {
        let step = WritesEnable(providers: catalog)
        let params = try params(WritesEnable.self, #"{"replica": \#(Self.postgres(15433)), "primary": \#(Self.postgres(15432))}"#)
        let drill = StepTestContext(mode: .drill, environment: env)
        let out = try await step.execute(params, drill)
        #expect(out.rehearsed == true && out.replica == "PostgreSQL 127.0.0.1:15433 (database recsys)")
        #expect(drill.notes.contains { $0.contains("rehearsed, not made") }, "\(drill.notes)")
        #expect(try psql(15433, "SELECT pg_is_in_recovery()") == "t", "still a replica, still replaying")
        try await step.compensate(params, out, drill)
        #expect(try psql(15433, "SELECT pg_is_in_recovery()") == "t")
    }

    @Test func aPromotionACrashLeftUnrecordedIsSettledByObserving() async throws {
        for (k, v) in sandbox.environment where k.hasPrefix("PG_") { setenv(k, v, 1) }
        let registry = standardRegistry()
        let runbook = try Runbook.load(
            file: "runbooks/pg.json",
            data: Data(#"{"service": "pg-crash", "approvers": ["alice"], "primary": {"db": \#(Self.postgres(15432))}, "dr": {"db": \#(Self.postgres(15433))}}"#.utf8),
            mode: .live, providers: registry.providers)
        let workflow = try Workflow.load(
            file: "workflows/pg.json",
            data: Data(#"{"name": "pg", "steps": [{"id": "promote", "type": "writes.enable", "with": {"replica": "${runbook.dr.db}", "primary": "${runbook.primary.db}"}}]}"#.utf8),
            registry: registry, runbook: runbook)
        let crashing = CrashingStore(try SQLiteStore.open(path: db))
        // The machine dies right after pg_promote answered, before the step's note and outcome are written.
        crashing.crash { draft in
            if case .stepNote(let n) = draft.body { return n.message.contains("-> primary") }
            return false
        }
        let first = Engine(store: crashing, registry: registry, clock: SystemClock(), ids: RandomIDs(), configuration: EngineConfiguration(owner: "a:1", actor: "oncall", leaseTTL: .seconds(2)))
        let run = try first.start(Engine.StartRequest(workflow: workflow, runbook: runbook, mode: .live, startedBy: "oncall", workflowDigest: "pg", runbookDigest: "pg"))
        await #expect(throws: (any Error).self) { try await first.drive(run) }
        #expect(try psql(15433, "SELECT pg_is_in_recovery()") == "f", "the promotion happened")
        try await Task.sleep(for: .milliseconds(2_500))  // the dead driver's lease runs out

        let second = Engine(store: try SQLiteStore.open(path: db), registry: registry, clock: SystemClock(), ids: RandomIDs(), configuration: EngineConfiguration(owner: "b:2", actor: "oncall"))
        let result = try await second.drive(run)
        #expect(result.status == .succeeded, "\(result.status)")
        let events = try SQLiteStore.open(path: db).events(of: run, after: 0)
        let succeeded = events.compactMap { e -> StepSucceeded? in if case .stepSucceeded(let s) = e.body { s } else { nil } }
        #expect(succeeded.count == 1 && succeeded.first?.observed == true, "settled by observing, not promoted again: \(succeeded)")
        #expect(!events.contains { if case .stepFailed(let f) = $0.body { f.error.code != "interrupted" } else { false } }, "no second pg_promote failing on a primary")
    }
}
