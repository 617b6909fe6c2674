import CutoverCore
import Foundation

/// `exec`: runs the team's own program (a Kubernetes scale, a feature-flag flip, a database
/// rebuild script): an argv list, a shell only when `"shell": true` is written out; secrets as
/// environment variables resolved when it runs; killed with everything it started when its
/// time runs out or the lease cannot be proven. Its standard output's last line (or all of
/// it) is the step's JSON output; standard error's lines are notes. Optional `before` (its
/// JSON output is the recorded before-state), `observe` (after a crash: exit 0 with JSON is
/// done with that output, an exit code of `notDone` is not done) and `compensate`, which may
/// refer to `${before...}` and `${output...}`; the step is compensable exactly when it has a
/// `compensate`.
public struct Exec: StepType {
    public typealias Output = JSONValue

    public static let name = "exec"
    public static let summary = "Runs a program of the team's own (argv; a shell only with \"shell\": true), secrets as environment variables, killed with every process it started on timeout or a lost lease; its last line of output is the step's JSON output. Optional before, observe and compensate commands."
    public static let observation: String? = "the observe command, when the step has one: exit 0 with JSON means done (that JSON is the output), an exit code in its notDone means run again"
    public static let compensation: String? = "the compensate command, with ${before...} and ${output...} filled in"
    public static let kind = StepKind.check

    static let command = Param<[String]>.stringList("command", "the program and its arguments; with shell: true, a shell command line and then its $0, $1...")
    static let shell = Param<Bool>.boolean("shell", default: false, "run command[0] with /bin/sh -c")
    static let env = Param<JSONValue?>.optionalObject("env", "variables for the program, NAME: text or a secret reference (env:NAME, file:/path, aws-sm:, gcp-sm:) resolved when it runs")
    static let directory = Param<String?>.string("directory", "the working folder (default: where cutover runs)")
    static let timeout = Param<Duration>.duration("timeout", default: "10m", "killed, with every process it started, after this long")
    static let output = Param<String>.oneOf("output", ["last-line", "stdout", "none"], default: "last-line", "what of standard output is the JSON output")
    static let retryOn = Param<[Int]>.codes("retryOn", default: [75], "exit codes that mean try again (75 is EX_TEMPFAIL); any other non-zero code fails the step for good")
    static let before = Param<JSONValue?>.action("before", "a command whose JSON output is recorded as the before-state, once, before the command runs")
    static let observe = Param<JSONValue?>.action("observe", "after a crash: exit 0 with JSON means done with that output; a code in its notDone (default [1]) means not done")
    static let compensate = Param<JSONValue?>.action("compensate", "undoes the command; may use ${before...} and ${output...}")
    public static let schema = StepSchema(command, shell, env, directory, timeout, output, retryOn, before, observe, compensate)

    /// The fields of `before`, `observe` and `compensate`.
    static let actionFields: Set<String> = ["command", "shell", "env", "directory", "timeout", "notDone"]

    public static func kind(with parameters: [String: JSONValue]) -> StepKind {
        parameters["compensate"] == nil ? .check : .compensable
    }

    public static func problems(with: [String: JSONValue], timeout: Duration?) -> [(field: String, problem: String)] {
        var out: [(String, String)] = []
        if let c = with["command"]?.arrayValue, c.isEmpty { out.append(("command", "an empty command: give the program and its arguments")) }
        if with["shell"]?.boolValue == true, let c = with["command"]?.arrayValue, c.first?.stringValue?.isEmpty != false {
            out.append(("command", "with shell: true, command[0] is the shell command line"))
        }
        for name in ["before", "observe", "compensate"] {
            guard let o = with[name]?.objectValue else { continue }
            if let unknown = o.keys.sorted().first(where: { !actionFields.contains($0) }) {
                out.append((name, "unknown field \(unknown)\(Suggestion.hint(for: unknown, in: actionFields)); expected command, shell, env, directory, timeout\(name == "observe" ? ", notDone" : "")"))
            } else if o["command"]?.arrayValue.map({ !$0.isEmpty && $0.allSatisfy { $0.stringValue != nil } }) != true {
                out.append((name, "expected {\"command\": [\"program\", \"argument\", ...]}"))
            } else if let t = o["timeout"], t.stringValue.flatMap(DurationText.parse) == nil {
                out.append((name, "timeout: expected a duration like \"30s\""))
            } else if let e = o["env"], e.objectValue == nil {
                out.append((name, "env: expected an object of NAME: value"))
            } else if let n = o["notDone"], n.arrayValue?.allSatisfy({ $0.intValue.map { (1...255).contains($0) } ?? false }) != true {
                out.append((name, "notDone: expected exit codes from 1 to 255"))
            } else if name != "observe", o["notDone"] != nil {
                out.append((name, "notDone is for observe only"))
            }
        }
        return out
    }

    /// How often the run is proven again while a program runs.
    let proveEvery: Duration

    public init(proveEvery: Duration = .seconds(5)) {
        self.proveEvery = proveEvery
    }

    /// One command to run: the main one, or an action's.
    struct Command {
        var argv: [String]
        var env: [String: JSONValue]
        var directory: String?
        var timeout: Duration
    }

    static func main(_ p: StepParameters) throws -> Command {
        Command(argv: try argv(try p[command], shell: try p[shell]), env: try p[env]?.objectValue ?? [:], directory: try p[directory], timeout: try p[timeout])
    }

    /// An action's command, with the main command's environment, folder and timeout where it
    /// gives none of its own.
    static func action(_ value: JSONValue, _ p: StepParameters) throws -> Command {
        // A word that is one reference takes the referenced value; a number is its text.
        let words = value["command"]?.arrayValue?.map { $0.stringValue ?? $0.canonicalString } ?? []
        var env = try p[Self.env]?.objectValue ?? [:]
        for (k, v) in value["env"]?.objectValue ?? [:] { env[k] = v }
        let mainDirectory = try p[directory], mainTimeout = try p[timeout]
        return Command(
            argv: try argv(words, shell: value["shell"]?.boolValue ?? false), env: env,
            directory: value["directory"]?.stringValue ?? mainDirectory,
            timeout: value["timeout"]?.stringValue.flatMap(DurationText.parse) ?? mainTimeout)
    }

    static func argv(_ words: [String], shell: Bool) throws -> [String] {
        guard let first = words.first, !first.isEmpty else { throw StepError.badParameters("command: an empty command") }
        return shell ? ["/bin/sh", "-c", first, "cutover-exec"] + words.dropFirst() : words
    }

    public func execute(_ p: StepParameters, _ ctx: any StepContext) async throws -> JSONValue {
        if let before = try p[Self.before] {
            let cmd = try Self.action(before, p)
            _ = try await ctx.recordBefore {
                let ran = try await run(cmd, ctx, what: "before")
                return try Self.json(ran.result, mode: "last-line", what: "before", cmd, secrets: ran.secrets) ?? .null
            }
        }
        let cmd = try Self.main(p)
        let ran = try await run(cmd, ctx, what: "command")
        try Self.succeed(ran.result, cmd, "command", retryOn: try p[Self.retryOn])
        return try Self.json(ran.result, mode: try p[Self.output], what: "command", cmd, secrets: ran.secrets) ?? .null
    }

    public func observe(_ p: StepParameters, _ ctx: any StepContext) async throws -> JSONValue? {
        guard let observe = try p[Self.observe] else { return nil }
        let before = await ctx.recordedBefore()
        let resolved = try Template.resolve(observe, in: Template.Scope(runbook: .null, before: before ?? .null))
        let cmd = try Self.action(resolved, p)
        let ran = try await run(cmd, ctx, what: "observe")
        let notDone = observe["notDone"]?.arrayValue?.compactMap { $0.intValue.map(Int32.init) } ?? [1]
        if case .exited(let code) = ran.result.ending, notDone.contains(code) { return nil }
        try Self.succeed(ran.result, cmd, "observe", retryOn: [])
        return try Self.json(ran.result, mode: "last-line", what: "observe", cmd, secrets: ran.secrets) ?? .null
    }

    public func compensate(_ p: StepParameters, _ output: JSONValue, _ ctx: any StepContext) async throws {
        guard let compensate = try p[Self.compensate] else { return }
        let before = await ctx.recordedBefore()
        let resolved = try Template.resolve(compensate, in: Template.Scope(runbook: .null, before: before ?? .null, output: output))
        let cmd = try Self.action(resolved, p)
        let ran = try await run(cmd, ctx, what: "compensate")
        try Self.succeed(ran.result, cmd, "compensate", retryOn: try p[Self.retryOn])
    }

    /// Runs `cmd`: its secrets resolved, the run proven right before it starts and every few
    /// seconds while it runs, its standard error recorded as notes.
    private func run(_ cmd: Command, _ ctx: any StepContext, what: String) async throws -> (result: ProgramResult, secrets: [String]) {
        var environment = ProcessInfo.processInfo.environment
        var secrets: [String] = []
        for (name, value) in cmd.env {
            guard let text = value.stringValue else { throw StepError.badParameters("env.\(name): expected text or a secret reference") }
            if SecretReference.isReference(text) {
                let secret = try ctx.secret(text)
                secrets.append(secret)
                environment[name] = secret
            } else {
                environment[name] = text
            }
        }
        let proof = try await ctx.proof()
        environment["CUTOVER_RUN"] = ctx.runID
        environment["CUTOVER_STEP"] = ctx.stepID
        environment["CUTOVER_ATTEMPT"] = String(ctx.attempt)
        environment["CUTOVER_MODE"] = ctx.mode.rawValue
        environment["CUTOVER_IDEMPOTENCY_KEY"] = ctx.idempotencyKey
        environment["CUTOVER_LEASE_HOLDER"] = proof.holder
        environment["CUTOVER_LEASE_EPOCH"] = String(proof.epoch)
        try proof.check(doing: "starting \(what) \(cmd.argv[0])")
        let result = try await ProgramRun.run(cmd.argv, environment: environment, directory: cmd.directory, timeout: cmd.timeout, prove: {
            _ = try await ctx.proof()
        }, proveEvery: proveEvery)
        for line in result.stderrLines.prefix(Self.noteLines) where !line.isEmpty {
            try await ctx.note("\(what) stderr: \(Self.redact(line, secrets))")
        }
        let more = result.stderrLines.count - Self.noteLines + result.stderrLinesDropped
        if more > 0 { try await ctx.note("\(what) stderr: \(more) more line(s) not recorded") }
        if result.killedDescendants > 0 {
            try await ctx.note("\(what): killed \(result.killedDescendants) process(es) it left behind")
        }
        return (result, secrets)
    }

    static let noteLines = 20

    /// Throws for anything but exit 0: retryable for the declared codes.
    static func succeed(_ r: ProgramResult, _ cmd: Command, _ what: String, retryOn: [Int]) throws {
        let shown = shownCommand(cmd)
        switch r.ending {
        case .exited(0): return
        case .exited(let code):
            let retryable = retryOn.contains(Int(code))
            throw StepError(
                code: "exec-exit-\(code)",
                message: "\(what) \(shown) exited with \(code)\(retryable ? " (declared retryable)" : "")\(lastWords(r))",
                retryable: retryable)
        case .signaled(let signal):
            throw StepError(code: "exec-signal-\(signal)", message: "\(what) \(shown) was killed by signal \(signal)\(lastWords(r))", retryable: false)
        case .timedOut:
            throw StepError(
                code: "exec-timeout",
                message: "\(what) \(shown) ran past its timeout of \(DurationText.format(cmd.timeout)): killed, with \(r.killedDescendants) other process(es) it started\(lastWords(r))",
                retryable: false)
        case .leaseLost:
            throw StepError(code: "exec-lease-lost", message: "\(what) \(shown) was killed: this process could no longer prove it holds the run", retryable: true)
        }
    }

    /// The program's JSON output: its last non-empty line, or all of its output.
    /// - Throws: `StepError` `exec-bad-output` when that is not JSON (a piece of it shown).
    static func json(_ r: ProgramResult, mode: String, what: String, _ cmd: Command, secrets: [String]) throws -> JSONValue? {
        if mode == "none" { return nil }
        let text = String(decoding: r.stdout, as: UTF8.self)
        let chosen = mode == "stdout" ? text : text.split(whereSeparator: \.isNewline).last(where: { !$0.allSatisfy(\.isWhitespace) }).map(String.init) ?? ""
        if chosen.allSatisfy(\.isWhitespace) { return nil }
        guard !r.stdoutCut || mode != "stdout", let value = try? JSONValue.parse(Data(chosen.utf8)) else {
            let piece = redact(String(chosen.prefix(120)), secrets)
            throw StepError(
                code: "exec-bad-output",
                message: "\(what) \(shownCommand(cmd)) succeeded but its \(mode == "stdout" ? "output" : "last line of output") is not JSON (\"\(TerminalText.escaped(piece))\(chosen.count > 120 ? "…" : "")\"); print one JSON value on the last line, or set \"output\": \"none\"",
                retryable: false)
        }
        return redact(value, secrets)
    }

    static func shownCommand(_ cmd: Command) -> String {
        let words = cmd.argv.prefix(4).map { $0.count > 60 ? String($0.prefix(60)) + "…" : $0 }
        return TerminalText.escaped(words.joined(separator: " ") + (cmd.argv.count > 4 ? " …" : ""))
    }

    static func lastWords(_ r: ProgramResult) -> String {
        r.stderrLines.last(where: { !$0.isEmpty }).map { ": \(TerminalText.escaped(String($0.prefix(200))))" } ?? ""
    }

    static func redact(_ text: String, _ secrets: [String]) -> String {
        secrets.filter { $0.count >= 4 }.reduce(text) { $0.replacingOccurrences(of: $1, with: "[redacted]") }
    }

    static func redact(_ value: JSONValue, _ secrets: [String]) -> JSONValue {
        switch value {
        case .string(let s): .string(redact(s, secrets))
        case .array(let items): .array(items.map { redact($0, secrets) })
        case .object(let members): .object(members.mapValues { redact($0, secrets) })
        default: value
        }
    }
}
