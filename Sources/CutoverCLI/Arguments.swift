import CutoverCore

/// The words after the command: flags with values, switches and positionals.
struct Arguments {
    var positionals: [String] = []
    var options: [String: String] = [:]
    /// Every value an option was given, in order (`--to A --to B`); `options` keeps the last.
    var repeated: [String: [String]] = [:]
    var switches: Set<String> = []

    /// Parses `words` against the options `command` declares (and `--db` where it uses the
    /// database).
    /// - Throws: `UsageError` for an option the command does not declare, or one missing its value.
    /// - Throws: `UsageError` for an option the command does not declare, one missing its
    ///   value, a value outside its choices, a required option absent, or switches that
    ///   exclude each other given together (unless `--help` is asked for).
    init(_ words: [String], for command: CommandSpec) throws {
        // --db is accepted everywhere (a shell alias may add it to every command); commands
        // that never open the log ignore it.
        var known: Set<String> = ["--db"]
        var allowed: Set<String> = []
        for o in command.options {
            switch o.kind {
            case .flag: allowed.insert(o.name)
            case .value: known.insert(o.name)
            }
        }
        try self.init(words, options: known, switches: allowed, command: command.name, hidden: command.usesDatabase ? [] : ["--db"])
        if has("--help") { return }
        for o in command.options {
            guard case .value = o.kind else { continue }
            if let value = options[o.name] {
                if !o.choices.isEmpty, !o.choices.contains(value) {
                    throw UsageError("\(o.name): expected \(Commands.list(o.choices)), got \"\(TerminalText.escaped(value))\"\(Suggestion.hint(for: value, in: o.choices))")
                }
            } else if let value = o.defaultValue {
                options[o.name] = value
            } else if o.required {
                throw UsageError("missing \(o.usage) (\(o.help))")
            }
        }
        for group in command.exclusive {
            let given = group.names.filter { switches.contains($0) }
            if given.count > 1 || (group.required && given.isEmpty) {
                throw UsageError("\(given.count > 1 ? given.joined(separator: " and ") + " exclude each other" : "one of " + group.names.joined(separator: " or ") + " is needed"): \(group.why)")
            }
        }
    }

    init(_ words: [String], options known: Set<String>, switches allowed: Set<String>, command: String, hidden: Set<String> = []) throws {
        var i = 0
        var onlyPositionals = false
        while i < words.count {
            let word = words[i]
            i += 1
            if onlyPositionals || !word.hasPrefix("-") || word == "-" {
                positionals.append(word)
                continue
            }
            if word == "--" {
                onlyPositionals = true
                continue
            }
            var name = word
            var inlineValue: String?
            if let eq = word.firstIndex(of: "=") {
                name = String(word[..<eq])
                inlineValue = String(word[word.index(after: eq)...])
            }
            if name == "-h" { name = "--help" }
            if known.contains(name) {
                if let inlineValue {
                    options[name] = inlineValue
                } else {
                    guard i < words.count else { throw UsageError("\(name) needs a value") }
                    options[name] = words[i]
                    i += 1
                }
                repeated[name, default: []].append(options[name]!)
            } else if allowed.contains(name) || name == "--help" {
                guard inlineValue == nil else { throw UsageError("\(name) takes no value") }
                switches.insert(name)
            } else {
                let all = known.union(allowed).union(["--help"]).subtracting(hidden)
                let hint = Suggestion.closest(to: name, in: all.sorted()).map { "; did you mean \($0)?" } ?? ""
                let accepted = all.subtracting(["--help", "--db"]).sorted()
                throw UsageError("unknown option \(name)\(hint) (`cutover \(command)` takes \(accepted.isEmpty ? "no options" : accepted.joined(separator: ", ")))")
            }
        }
    }

    func has(_ flag: String) -> Bool { switches.contains(flag) }
    /// Every value given for an option that may be repeated, in order.
    func values(_ option: String) -> [String] { repeated[option] ?? [] }
    /// The option's value as given, or its declared default; nil when absent without one.
    subscript(option: String) -> String? { options[option] }
    /// An option declared required or with a default: the parser has made sure it is there.
    func value(_ option: String) -> String { options[option] ?? "" }
}

/// A command line that cannot be carried out as written: exit 64 with one line and a hint.
struct UsageError: Error {
    let message: String
    init(_ message: String) { self.message = message }
}

/// How a command ends, as an exit status.
enum ExitCode {
    static let ok: Int32 = 0
    /// The run failed, rolled back, or needs attention; or a request was refused.
    static let failure: Int32 = 1
    /// `audit verify`: the chain holds, but no trusted key was given or pinned, so no
    /// signature could be checked: whoever can write the database could have re-signed it.
    static let unverified: Int32 = 3
    /// Bad command line or invalid workflow/runbook (sysexits EX_USAGE).
    static let usage: Int32 = 64
    /// Refused because another run holds the service (sysexits EX_UNAVAILABLE): nothing was
    /// started or recorded; `cutover status` on the run named shows where it is.
    static let busy: Int32 = 69
    /// The run waits for people and the process detached (sysexits EX_TEMPFAIL).
    static let waiting: Int32 = 75
    /// Interrupted by SIGINT or SIGTERM; the run can be resumed.
    static let interrupted: Int32 = 130
}

extension Arguments {
    /// Exactly `count` positionals, named in the usage error.
    func positionals(_ names: String...) throws -> [String] {
        if positionals.count < names.count {
            throw UsageError("missing \(names[positionals.count])")
        }
        if positionals.count > names.count {
            throw UsageError("unexpected argument \"\(positionals[names.count])\"")
        }
        return positionals
    }
}
