/// The words after the command: flags with values, switches and positionals.
struct Arguments {
    var positionals: [String] = []
    var options: [String: String] = [:]
    var switches: Set<String> = []

    /// Parses `words` against what a command accepts.
    /// - Throws: `UsageError` for an unknown flag or a flag missing its value.
    init(_ words: [String], options known: Set<String>, switches allowed: Set<String>) throws {
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
                throw UsageError("unknown option \(name)\(hint(name, all))")
            }
        }
    }

    func has(_ flag: String) -> Bool { switches.contains(flag) }
    subscript(option: String) -> String? { options[option] }

    private func hint(_ word: String, _ candidates: Set<String>) -> String {
        var best: (String, Int)?
        for c in candidates {
            let d = editDistance(word, c)
            if d <= 2, d < (best?.1 ?? .max) { best = (c, d) }
        }
        return best.map { "; did you mean \($0.0)?" } ?? ""
    }

    private func editDistance(_ a: String, _ b: String) -> Int {
        let a = Array(a), b = Array(b)
        var row = Array(0...b.count)
        for i in 1...max(1, a.count) where !a.isEmpty {
            var previous = row[0]
            row[0] = i
            for j in stride(from: 1, through: b.count, by: 1) {
                let saved = row[j]
                row[j] = min(row[j] + 1, row[j - 1] + 1, previous + (a[i - 1] == b[j - 1] ? 0 : 1))
                previous = saved
            }
        }
        return row[b.count]
    }
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
