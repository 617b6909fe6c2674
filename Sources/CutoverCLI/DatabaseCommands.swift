import CutoverCore
import CutoverCrypto
import CutoverPostgresStore
import CutoverSQLite
import CutoverStore
import Foundation

/// `cutover db init`: the event log made where `--db` / `CUTOVER_DB` says.
enum DatabaseCommands {
    static func initialize(_ args: Arguments, _ ctx: Context) throws -> Int32 {
        _ = try args.positionals()
        let roles = (args["--grant"] ?? "").split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        switch ctx.store {
        case .sqlite(let path):
            guard roles.isEmpty else { throw UsageError("--grant is for a PostgreSQL log; a SQLite file is its owner's (mode 0600)") }
            _ = try SQLiteStore.open(path: path)
            ctx.console.out("event log ready at \(path) (SQLite; a run makes it too)")
        case .postgres(let uri):
            switch try PostgresSchema.initialize(uri, granting: roles) {
            case .created(let id):
                ctx.console.out("created the event log in \(ctx.dbPath): schema version \(PostgresSchema.version), log id \(id)")
            case .alreadyThere(let version) where version == PostgresSchema.version:
                ctx.console.out("\(ctx.dbPath) already holds an event log (schema version \(version)); its tables were left as they are")
            case .alreadyThere(let version) where version < PostgresSchema.version:
                throw CommandFailure(
                    "\(ctx.dbPath) holds an event log of schema version \(version), older than this cutover's \(PostgresSchema.version); nothing was changed: `cutover db migrate` brings it up to date")
            case .alreadyThere(let version), .migrated(_, let version):
                throw CommandFailure("\(ctx.dbPath) holds an event log of schema version \(version), made by a newer cutover than this one (version \(PostgresSchema.version)); nothing was changed")
            }
            if !roles.isEmpty {
                ctx.console.out("granted \(roles.joined(separator: ", ")): INSERT and SELECT on events and checkpoints, the leases and service locks; no UPDATE or DELETE of history")
            }
        }
        return ExitCode.ok
    }
}

extension DatabaseCommands {
    /// `cutover db migrate`: a PostgreSQL log made by an older cutover brought to this one's
    /// schema version, only when asked.
    static func migrate(_ args: Arguments, _ ctx: Context) throws -> Int32 {
        _ = try args.positionals()
        guard case .postgres(let uri) = ctx.store else {
            throw UsageError("--db names a SQLite file: its schema is cutover's own and needs no migration; `db migrate` is for a PostgreSQL log")
        }
        switch try PostgresSchema.migrate(uri) {
        case .migrated(let from, let to):
            ctx.console.out("migrated the event log in \(ctx.dbPath) from schema version \(from) to \(to); no event was touched")
        case .alreadyThere, .created:
            ctx.console.out("\(ctx.dbPath) is at schema version \(PostgresSchema.version) already; nothing was changed")
        }
        return ExitCode.ok
    }

    /// `cutover db copy --from FILE --to URL`: a log copied event for event into an empty one
    /// (a SQLite file into PostgreSQL, as a team moves), the chain checked on both sides.
    static func copy(_ args: Arguments, _ ctx: Context) throws -> Int32 {
        _ = try args.positionals()
        let from = try StoreLocation.parse(args.value("--from")), to = try StoreLocation.parse(args.value("--to"))
        guard from != to else { throw UsageError("--from and --to name the same log") }
        let source = try open(from, creating: false)
        let destination = try open(to, creating: true)
        guard try destination.head() == nil else {
            throw CommandFailure("\(to.description) already holds events: copy into an empty log (nothing was copied)")
        }
        let checked = try ChainVerifier.verify(source)
        guard checked.intact, let head = try source.head() else {
            throw CommandFailure(
                checked.firstProblem.map { "\(from.description) is broken at event \($0.seq): \($0.message); nothing was copied, `cutover audit verify` tells more" }
                    ?? "\(from.description) holds no events: nothing to copy")
        }
        var batch: [StoredEvent] = []
        var runs = 0
        func flush() throws {
            do {
                try destination.importEvents(batch)
            } catch let e as StoreError where e.code == .refused {
                throw CommandFailure(
                    "\(to.description) refused the copy: a copy keeps each event's original actor, which only the import role may write (on PostgreSQL, connect as a member of cutover_importer; the log's trigger refuses anyone else): \(e.message); nothing was copied")
            }
            batch.removeAll(keepingCapacity: true)
        }
        try source.forEachRow(from: 1, through: head.seq) { row in
            if row.runSeq == 1 { runs += 1 }
            batch.append(row.stored)
            if batch.count == 1_000 { try flush() }
        }
        if !batch.isEmpty { try flush() }
        let checkpoints = try source.checkpoints()
        for cp in checkpoints { try destination.importCheckpoint(cp) }
        // A run still active holds its service in the copy too.
        for run in try source.runIDs() {
            guard let state = try? RunState.fold(run, try source.events(of: run, after: 0)), !state.status.isTerminal, let scope = state.plan?.scope else { continue }
            try destination.importLock(scope: scope, run: run)
        }
        let copied = try ChainVerifier.verify(destination)
        guard copied.intact, try destination.head() == head else {
            throw CommandFailure("the copy in \(to.description) does not verify to the source's head (\(copied.firstProblem?.message ?? "another head")): do not use it")
        }
        // The copy itself, on the record: by whom (the import role, as the database proves it),
        // from where, up to which hash.
        let imported = LogImported(source: from.description, events: head.seq, head: Hex.encode(head.hash), checkpoints: checkpoints.count)
        let previous = try destination.span(of: LogStream.imports).map { _ in try destination.events(of: LogStream.imports, after: 0).count } ?? 0
        _ = try destination.append(
            [EventDraft(at: Date(), actor: ctx.actor(of: destination), body: .logImported(imported))], to: LogStream.imports,
            expectedNext: Int64(previous) + 1, options: AppendOptions(now: Date()))
        ctx.console.out(
            "copied \(head.seq) events (\(runs) runs and schedules) and \(checkpoints.count) checkpoints from \(from.description) to \(to.description); both verify to event \(head.seq), hash \(Hex.encode(head.hash).prefix(16))")
        return ExitCode.ok
    }

    private static func open(_ location: StoreLocation, creating: Bool) throws -> ChainedStore {
        switch location {
        case .sqlite(let path):
            if !creating, !FileManager.default.fileExists(atPath: path) { throw CommandFailure("no event log at \(path)") }
            return creating ? try SQLiteStore.open(path: path) : try SQLiteStore.open(readingOnly: path)
        case .postgres(let uri):
            return try PostgresStore.open(uri: uri)
        }
    }
}
