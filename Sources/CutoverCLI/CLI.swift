import CutoverAudit
import CutoverCore
import CutoverCrypto
import CutoverEngine
import CutoverPostgresStore
import CutoverSQLite
import CutoverStore
import CutoverSteps
import Foundation

/// The `cutover` command line. `Entrypoint` calls `run` and exits with what it returns.
public enum CLI {
    /// Runs one command line and returns its exit status.
    public static func run(_ arguments: [String], environment: [String: String] = ProcessInfo.processInfo.environment) async -> Int32 {
        let console = Console()
        var words = arguments
        var dbOption: String?
        // --db may come before the command too.
        if let i = words.firstIndex(where: { $0 == "--db" || $0.hasPrefix("--db=") }), i == 0 {
            if words[0] == "--db", words.count > 1 {
                dbOption = words[1]
                words.removeFirst(2)
            } else if words[0].hasPrefix("--db=") {
                dbOption = String(words[0].dropFirst(5))
                words.removeFirst()
            }
        }
        guard let first = words.first else {
            console.err(Commands.overview)
            return ExitCode.usage
        }
        if first == "--help" || first == "-h" {
            guard words.count > 1 else {
                console.out(Commands.overview)
                return ExitCode.ok
            }
            // `cutover --help start` is `cutover help start`.
            words[0] = "help"
        }
        if first == "--version" || first == "-v" || first == "-V" { words[0] = "version" }
        let name = words[0]
        let command: CommandSpec
        let rest: [String]
        do {
            (command, rest) = try Commands.find(words)
        } catch let e as UnknownCommand {
            console.err("cutover: unknown command \"\(e.word)\"\(e.hint)")
            console.err("Run `cutover --help` for the list of commands.")
            return ExitCode.usage
        } catch let e as GroupHelp {
            console.out(HelpCommand.group(e.group))
            return ExitCode.ok
        } catch let e as UsageError {
            console.err("cutover \(name): \(e.message)")
            console.err("Run `cutover \(name) --help` for usage.")
            return ExitCode.usage
        } catch {
            console.err("cutover: \(error)")
            return ExitCode.usage
        }
        do {
            let args = try Arguments(rest, for: command)
            if args.has("--help") {
                console.out(command.help)
                return ExitCode.ok
            }
            let location = args["--db"] ?? dbOption ?? environment["CUTOVER_DB"] ?? ".cutover/cutover.sqlite"
            // The store is chosen by the form of the location; one cutover has no store for is
            // refused before anything is read or written, never taken for a file name.
            var store = StoreLocation.sqlite(path: location)
            if command.usesDatabase {
                do {
                    store = try StoreLocation.parse(location)
                } catch let e as StoreError {
                    console.err("cutover \(command.name): \(e.description)")
                    console.err("Nothing was read or written.")
                    return ExitCode.usage
                }
            }
            let context = Context(console: console, environment: environment, store: store)
            try refuseControlCharacters(args, command, context)
            return try await command.run(args, context)
        } catch let e as UsageError {
            console.err("cutover \(command.name): \(e.message)")
            console.err("Run `cutover \(command.name) --help` for usage.")
            return ExitCode.usage
        } catch let e as ValidationFailure {
            for issue in e.issues { console.err(issue.description) }
            console.err("Nothing was started or written.")
            return ExitCode.usage
        } catch let e as CommandFailure {
            console.err("cutover \(command.name): \(e.message)")
            return e.code
        } catch let e as StoreError {
            console.err("cutover \(command.name): \(e.description)")
            return ExitCode.failure
        } catch is CancellationError {
            console.err("cutover \(command.name): interrupted")
            return ExitCode.interrupted
        } catch {
            console.err("cutover \(command.name): \(error)")
            return ExitCode.failure
        }
    }
}

/// Names and comments end up on other people's terminals (`history`, `status`, reports): one
/// with a control character (an escape sequence that moves the cursor or erases a line) is
/// refused before anything is written.
func refuseControlCharacters(_ args: Arguments, _ command: CommandSpec, _ ctx: Context) throws {
    for option in ["--comment", "--reason", "--approved-by"] {
        if let value = args[option], TerminalText.hasControlCharacters(value) {
            throw UsageError("\(option) holds a control character (\"\(TerminalText.escaped(value))\"); names and comments are shown on other people's terminals: write plain text")
        }
    }
    if command.recordsActor, TerminalText.hasControlCharacters(ctx.actor) {
        throw UsageError("this account's name holds a control character (\"\(TerminalText.escaped(ctx.actor))\"); it is recorded and shown to others: run cutover from an account with a plain name")
    }
}

/// A refusal or failure with its own exit status and message.
struct CommandFailure: Error {
    let message: String
    let code: Int32
    init(_ message: String, code: Int32 = ExitCode.failure) {
        self.message = message
        self.code = code
    }
}

/// What every command may need.
struct Context {
    let console: Console
    let environment: [String: String]
    /// The event log: a SQLite file or a PostgreSQL database.
    let store: StoreLocation
    /// Who holds the runs this command drives (`host:pid:nonce`): one owner for the whole
    /// command, so the run `start` takes is the run its drive holds.
    let owner = ProcessIdentity.owner()

    /// The log as people see it: the file's path, or the database's URI without its password.
    var dbPath: String { store.description }

    /// Where this machine keeps what is its own beside the log (the signing key, the
    /// scheduler's reports): the SQLite file's folder, or `.cutover` here for a database
    /// elsewhere.
    var localFolder: String {
        switch store {
        case .sqlite(let path): URL(fileURLWithPath: path).deletingLastPathComponent().path
        case .postgres: ".cutover"
        }
    }

    /// Whether there is a log to read: the file exists, or a database is named (opening it
    /// says what is wrong with it).
    var logExists: Bool {
        switch store {
        case .sqlite(let path): FileManager.default.fileExists(atPath: path)
        case .postgres: true
        }
    }

    /// Who runs this command, as this machine proves it: the operating-system account of the
    /// process's effective uid. On a PostgreSQL log the actor is the database's role instead
    /// (`actor(of:)`).
    var actor: String { ProcessIdentity.account }

    /// The actor of what this command appends to `store`: the role PostgreSQL authenticated,
    /// or this process's account for a file.
    func actor(of store: any EventLog) -> String { store.sessionActor ?? actor }
    var registry: StepRegistry { Composition.registry() }

    /// Opens the event log, creating it (mode 0600) when a command is about to write. `dbPath`
    /// is the SQLite file `CLI.run` found in `--db` / `CUTOVER_DB` (`StoreLocation`): this is
    /// the one place the CLI names a concrete store.
    func openStore(creating: Bool) throws -> any EventStore {
        switch store {
        case .sqlite(let path):
            if !creating, !FileManager.default.fileExists(atPath: path) {
                throw CommandFailure("no event log at \(path); start a run first, or point --db / CUTOVER_DB at the database")
            }
            return try SQLiteStore.open(path: path)
        case .postgres(let uri):
            // A PostgreSQL log is made once by `cutover db init`, never by a run.
            return try PostgresStore.open(uri: uri)
        }
    }

    /// Opens the event log for reading only (`audit verify` never writes, not even a WAL switch).
    func openStoreReadingOnly() throws -> any EventStore {
        switch store {
        case .sqlite(let path):
            guard FileManager.default.fileExists(atPath: path) else { throw CommandFailure("no event log at \(path)") }
            return try SQLiteStore.open(readingOnly: path)
        case .postgres(let uri):
            return try PostgresStore.open(uri: uri)
        }
    }

    /// Where `cutover keys init` puts the pair and runs look for the private key.
    var keyPaths: (privateKey: String, publicKey: String) {
        Auditor.keyPaths(database: URL(fileURLWithPath: localFolder).appendingPathComponent("log").path)
    }

    /// The signing key: `CUTOVER_SIGNING_KEY`, else the one `cutover keys init` made next to
    /// the database (in `.cutover/keys` for a PostgreSQL log); nil when there is none.
    func signingKey() -> Ed25519Key? {
        let path = environment["CUTOVER_SIGNING_KEY"] ?? keyPaths.privateKey
        guard FileManager.default.fileExists(atPath: path) else { return nil }
        return try? Ed25519Key.read(file: path)
    }

    func engine(_ store: any EventStore, detach: Bool, observer: (@Sendable (Event, RunState) -> Void)?) -> Engine {
        var configuration = EngineConfiguration(
            owner: owner, actor: actor(of: store), detachWhenWaiting: detach,
            isOwnerGone: { ProcessIdentity.isGone($0) }, secretSources: Composition.secretSources(environment: environment),
            approvalSignatures: SSHApprovalSignatures())
        configuration.childDefinitions = childDefinitions
        configuration.safety = Composition.safety(log: store)
        configuration.shipping = BucketShipper.orBroken(store, self)
        return Engine(store: store, registry: registry, clock: SystemClock(), ids: RandomIDs(), configuration: configuration, observer: observer)
    }

    /// A `workflow` step's child, from the same folders (or files) as a run's own definitions.
    var childDefinitions: @Sendable (_ workflow: String, _ runbook: String, _ mode: RunMode) throws -> Engine.StartRequest {
        let registry = registry
        return { workflow, runbook, mode in
            let (wf, rb, wfDigest, rbDigest) = try Definitions.load(workflow: workflow, runbook: runbook, mode: mode, registry: registry)
            return Engine.StartRequest(workflow: wf, runbook: rb, mode: mode, startedBy: "", workflowDigest: wfDigest, runbookDigest: rbDigest)
        }
    }
}
