import CutoverCore

/// One option of a command, declared once: parsing, `--help`, the did-you-mean, the reference,
/// the man page and shell completion all read it.
struct Option: Sendable {
    enum Kind: Sendable, Equatable {
        /// A switch: present or not.
        case flag
        /// An option with a value, shown as this placeholder (`--runbook RUNBOOK`).
        case value(String)
    }

    let name: String
    let kind: Kind
    let help: String
    /// The values it takes, when they are a fixed set (completed by the shells).
    var choices: [String] = []
    /// What completes its value: `workflow`, `runbook`, `file` or nothing.
    var completes: Completion = .none
    /// The value an absent option takes: the parser fills it in, so the command reads it
    /// from the declaration and nowhere else.
    var defaultValue: String?
    /// What an absent option means, for people, when it is no single value ("standard output").
    var defaultText: String?
    /// Whether the command refuses to run without it (shown without brackets).
    var required = false

    enum Completion: String, Sendable { case none, workflow, runbook, file, stepType, helpTopic }

    static func flag(_ name: String, _ help: String) -> Option { Option(name: name, kind: .flag, help: help) }

    static func value(
        _ name: String, _ placeholder: String, _ help: String, choices: [String] = [], completes: Completion = .none,
        default defaultValue: String? = nil, absent defaultText: String? = nil, required: Bool = false
    ) -> Option {
        Option(
            name: name, kind: .value(placeholder), help: help, choices: choices, completes: completes, defaultValue: defaultValue,
            defaultText: defaultText, required: required)
    }

    /// What `--help` shows after the help: `(default UTC)`.
    var defaultShown: String? { defaultValue ?? defaultText }

    var usage: String {
        switch kind {
        case .flag: name
        case .value(let placeholder): "\(name) \(choices.isEmpty ? placeholder : choices.joined(separator: "|"))"
        }
    }

    static let json = flag("--json", "print JSON instead of lines for people")
    static let runbook = value("--runbook", "RUNBOOK", "the runbook: a path, or a name in runbooks/", completes: .runbook, required: true)
    static let drill = flag("--drill", "with the runbook's drill overrides, as a drill runs")
    static let detach = flag("--detach", "return when the run waits for people (exit 75) instead of waiting")
    static let reason = value("--reason", "TEXT", "why, recorded with the request")
}

/// One command or subcommand (`start`, `schedule add`), declared once.
struct CommandSpec: Sendable {
    enum Section: String, CaseIterable, Sendable {
        case runs = "Runs", people = "People", audit = "Audit", database = "Database", schedules = "Schedules", definitions = "Definitions", reference = "Reference"
    }

    /// The words that name it: `["schedule", "add"]`.
    let path: [String]
    /// Its operands as the usage line shows them: `WORKFLOW`, `[RUN]`, `FILE...`.
    let operands: String
    let options: [Option]
    let section: Section
    /// One line for the overview.
    let summary: String
    /// What `--help` says after the usage and the options.
    let details: String
    /// Whether it reads or writes the event log (`--db` applies).
    var usesDatabase = true
    /// Whether it records who did it (the actor reaches the log).
    var recordsActor = false
    /// What completes its first operand.
    var operandCompletion: Option.Completion = .none
    /// The words its first operand is one of (`bash`, `zsh`), completed by the shells.
    var operandChoices: [String] = []
    /// Switches of which at most one (or, when required, exactly one) may be given.
    var exclusive: [Exclusive] = []
    let run: @Sendable (Arguments, Context) async throws -> Int32

    var name: String { path.joined(separator: " ") }

    /// `cutover start WORKFLOW --runbook RUNBOOK [--drill] ...`, wrapped at 96 columns.
    var usage: String {
        var words = ["cutover", name]
        if !operands.isEmpty { words.append(operands) }
        for o in options {
            if let group = exclusive.first(where: { $0.names.contains(o.name) }) {
                // The group is shown once, where its first switch is declared.
                if group.names.first == o.name {
                    let inner = group.names.joined(separator: " | ")
                    words.append(group.required ? "(\(inner))" : "[\(inner)]")
                }
                continue
            }
            words.append(o.required ? o.usage : "[\(o.usage)]")
        }
        var lines: [String] = []
        var line = ""
        for w in words {
            if !line.isEmpty, line.count + w.count + 1 > 92 {
                lines.append(line)
                line = String(repeating: " ", count: 8)
            }
            line += (line.trimmingCharacters(in: .whitespaces).isEmpty ? "" : " ") + w
        }
        lines.append(line)
        return lines.joined(separator: "\n")
    }

    /// The whole `--help` text.
    var help: String {
        var out = "Usage: \(usage)\n\n\(summary)"
        let all = options + (usesDatabase ? [Option.value("--db", "PATH", "the event log (default .cutover/cutover.sqlite, or CUTOVER_DB)")] : [])
        if !all.isEmpty {
            out += "\n\nOptions:"
            let width = min(28, all.map(\.usage.count).max() ?? 0)
            for o in all {
                let left = o.usage.count > width ? o.usage + "\n" + String(repeating: " ", count: width + 4) : o.usage.padding(toLength: width, withPad: " ", startingAt: 0)
                out += "\n  \(left)  \(o.help)\(o.defaultShown.map { " (default \($0))" } ?? "")"
            }
        }
        if !details.isEmpty { out += "\n\n" + details }
        return out
    }
}

/// Switches that exclude each other: `[--drill | --readiness-only]`, or with `required`
/// `(--drill | --readiness-only)`, one of them must be given.
struct Exclusive: Sendable {
    let names: [String]
    var required = false
    /// Why, said when the rule is broken.
    let why: String
}
