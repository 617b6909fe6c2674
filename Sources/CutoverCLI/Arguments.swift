import CutoverCore

/// The words after the command: flags with values, switches and positionals.
struct Arguments {
    var positionals: [String] = []
    var options: [String: String] = [:]
    var switches: Set<String> = []

    /// Parses `words` against the options `command` declares (and `--db` where it uses the
    /// database).
    /// - Throws: `UsageError` for an option the command does not declare, or one missing its value.
    init(_ words: [String], for command: CommandSpec) throws {
        var known: Set<String> = command.usesDatabase ? ["--db"] : []
        var allowed: Set<String> = []
        for o in command.options {
            switch o.kind {
            case .flag: allowed.insert(o.name)
            case .value: known.insert(o.name)
            }
        }
        try self.init(words, options: known, switches: allowed, command: command.name)
    }

    init(_ words: [String], options known: Set<String>, switches allowed: Set<String>, command: String) throws {
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
            } else if allowed.contains(name) || name == "--help" {
                guard inlineValue == nil else { throw UsageError("\(name) takes no value") }
                switches.insert(name)
            } else {
                let all = known.union(allowed).union(["--help"])
                let hint = Suggestion.closest(to: name, in: all.sorted()).map { "; did you mean \($0)?" } ?? ""
                let accepted = all.subtracting(["--help", "--db"]).sorted()
                throw UsageError("unknown option \(name)\(hint) (`cutover \(command)` takes \(accepted.isEmpty ? "no options" : accepted.joined(separator: ", ")))")
            }
        }
    }

    func has(_ flag: String) -> Bool { switches.contains(flag) }
    subscript(option: String) -> String? { options[option] }
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
