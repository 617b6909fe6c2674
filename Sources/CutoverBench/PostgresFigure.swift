import CutoverCore
import CutoverPostgresStore
import CutoverStore
import Foundation

/// The engine on the PostgreSQL store: a durable no-op step against raw INSERT+COMMITs on the
/// same server in the same run, and many runs at once against one after another. The server
/// is `CUTOVER_BENCH_POSTGRES` (a URI of a role that may create databases and, where the
/// server has cutover's groups, is a member of cutover_starter), else the sandbox's pg-log,
/// where the runs are the store's role's, cutover_writer, as a team's would be (through the
/// schema's trigger that proves each event's actor); each figure runs in a database of its
/// own, dropped afterwards.
extension Runner {
    func postgresAdmin() -> String? {
        if let uri = ProcessInfo.processInfo.environment["CUTOVER_BENCH_POSTGRES"] { return uri }
        guard let pw = try? String(contentsOfFile: ".sandbox/pg-log/cutover_admin-password", encoding: .utf8) else { return nil }
        return "postgresql://cutover_admin:\(pw.trimmingCharacters(in: .whitespacesAndNewlines))@127.0.0.1:15434/postgres?connect_timeout=3"
    }

    /// The role the runs are driven as: the sandbox's cutover_writer, or the admin URI's own.
    func postgresWriter(_ db: String) -> String {
        guard ProcessInfo.processInfo.environment["CUTOVER_BENCH_POSTGRES"] == nil,
            let pw = try? String(contentsOfFile: ".sandbox/pg-log/cutover_writer-password", encoding: .utf8)
        else { return db }
        return uri("postgresql://cutover_writer:\(pw.trimmingCharacters(in: .whitespacesAndNewlines))@127.0.0.1:15434/postgres?connect_timeout=3", database: String(db.split(separator: "/").last?.split(separator: "?").first ?? ""))
    }

    /// `uri` with its database replaced by `database`.
    func uri(_ uri: String, database: String) -> String {
        let query = uri.firstIndex(of: "?") ?? uri.endIndex
        let slash = uri[..<query].lastIndex(of: "/") ?? query
        return String(uri[..<slash]) + "/" + database + String(uri[query...])
    }

    func postgresFigures() async throws -> [Result] {
        let names = ["durable no-op step (engine + PostgreSQL)", "\(options.concurrentRuns) concurrent runs x \(options.concurrentSteps) steps (PostgreSQL)"]
        guard let admin = postgresAdmin(), (try? PostgresStoreDatabase.execute("SELECT 1;", uri: admin)) != nil else {
            return names.map { Result(figure: $0, value: Stat([0]), unit: "ms/step", budget: "skipped", met: nil, note: "no PostgreSQL server: scripts/sandbox up, or CUTOVER_BENCH_POSTGRES") }
        }
        let database = "bench_" + UUID().uuidString.lowercased().replacingOccurrences(of: "-", with: "").prefix(16)
        try PostgresStoreDatabase.execute("CREATE DATABASE \(database);", uri: admin)
        defer { try? PostgresStoreDatabase.execute("DROP DATABASE IF EXISTS \(database) WITH (FORCE);", uri: admin) }
        let owner = uri(admin, database: database)
        _ = try PostgresSchema.initialize(owner, granting: ["cutover_writer"].filter { _ in postgresWriter(owner) != owner })
        let db = postgresWriter(owner)
        let durable = PostgresBaseline.durable(uri: owner)
        var results: [Result] = []
        var perStep: [Double] = [], rawPerStep: [Double] = []
        var commitsPerStep = 0.0, oneTripShare = 0.0
        var storeAlone: [Double] = []
        for i in 0..<options.reps {
            let store = try PostgresStore.open(uri: db)
            let took = try await drive(store, runs: 1, steps: options.noopSteps)
            let commits = store.durableCommits
            commitsPerStep = Double(commits) / Double(options.noopSteps)
            oneTripShare = Double(store.oneTripCommits) / Double(max(commits, 1))
            let raw = try PostgresBaseline.durableCommits(uri: owner, count: commits, rowBytes: 300)
            let alone = try appendsAlone(store, count: commits)
            if i > 0 {
                perStep.append(took.seconds * 1_000 / Double(options.noopSteps))
                rawPerStep.append(raw.seconds * 1_000 / Double(options.noopSteps))
                storeAlone.append(alone.seconds * 1_000 / Double(options.noopSteps))
            }
        }
        let ratio = Stat(zip(perStep, rawPerStep).map { $0 / $1 }).median
        results.append(Result(
            figure: names[0], value: Stat(perStep), unit: "ms/step", baseline: Stat(rawPerStep),
            baselineName: "raw INSERT+COMMIT, same server, same commits", ratio: ratio, budget: "ratio <= 1.5", met: ratio <= 1.5, peakMB: nil,
            note: String(format: "%.2f durable commits per step, %.0f%% of them one round trip; the store's appends alone (two events each, lease fenced, no engine) %.3f ms; the server %@", commitsPerStep, oneTripShare * 100, Stat(storeAlone).median, durable ? "commits durably (fsync, synchronous_commit on)" : "does NOT commit durably (fsync or synchronous_commit off): not a durable figure")))
        var sequential: [Double] = [], concurrent: [Double] = []
        for i in 0..<min(options.reps, 4) {
            let store = try PostgresStore.open(uri: db)
            let total = options.concurrentRuns * options.concurrentSteps
            let one = try await drive(store, runs: 1, steps: total)
            let many = try await drive(store, runs: options.concurrentRuns, steps: options.concurrentSteps)
            if i > 0 {
                sequential.append(Double(total) / one.seconds)
                concurrent.append(Double(total) / many.seconds)
            }
        }
        let pair = Stat(zip(concurrent, sequential).map { $0 / $1 }).median
        results.append(Result(
            figure: names[1], value: Stat(concurrent), unit: "steps/s", baseline: Stat(sequential), baselineName: "the same steps in one run, steps/s",
            ratio: pair, budget: "not slower than sequential", met: pair >= 0.95, peakMB: nil,
            note: "group commit across runs: one transaction carries every append that waited"))
        return results
    }

    /// `count` appends of two events, fenced by a lease, straight to the store: the store's
    /// share of a step, without the engine.
    func appendsAlone(_ store: ChainedStore, count: Int) throws -> Duration {
        let run = "alone-" + UUID().uuidString
        try store.acquireLease(run: run, owner: "bench", now: Date(), ttl: .seconds(60), isGone: { _ in false })
        let clock = ContinuousClock()
        let start = clock.now
        for i in 0..<count {
            let drafts = (0..<2).map { k in
                EventDraft(at: Date(), actor: "cutover@bench", body: .stepNote(StepNote(step: "s\(i)", message: "note \(k) of step \(i): done in 0 ms")))
            }
            _ = try store.append(drafts, to: run, expectedNext: Int64(2 * i + 1), options: AppendOptions(leaseOwner: "bench", now: Date(), leaseTTL: .seconds(60)))
        }
        return clock.now - start
    }
}
