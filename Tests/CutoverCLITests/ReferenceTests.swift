import Foundation
import Testing
import TestSupport

/// Commands declared once, and the reference, man page and completion written from the
/// declarations: up to date, complete, and working in a real shell.
@Suite struct ReferenceTests {
    func cutover(_ args: String...) throws -> CutoverBinary.Result {
        try CutoverBinary.run(args, in: repositoryRoot)
    }

    @Test func anOptionASubcommandDoesNotDeclareIsRefused() throws {
        let r = try cutover("schedule", "list", "--cron", "x")
        #expect(r.status == 64)
        #expect(r.stderr.contains("unknown option --cron") && r.stderr.contains("`cutover schedule list` takes --json"), "\(r.stderr)")
        let near = try cutover("schedule", "next", "weekly", "--cont", "3")
        #expect(near.status == 64 && near.stderr.contains("did you mean --count?"), "\(near.stderr)")
        let sub = try cutover("schedule", "lsit")
        #expect(sub.status == 64 && sub.stderr.contains("unknown schedule command \"lsit\"; did you mean \"list\"?"), "\(sub.stderr)")
        let group = try cutover("audit", "--help")
        #expect(group.status == 0 && ["verify", "checkpoint", "replay", "export"].allSatisfy { group.stdout.contains("cutover audit \($0)") }, "\(group.stdout)")
        let help = try cutover("schedule", "add", "--help")
        #expect(help.status == 0 && help.stdout.contains("--catch-up skip|run-once") && help.stdout.contains("(default UTC)"), "\(help.stdout)")
    }

    @Test func versionNamesTheCommit() throws {
        let head = try Sandbox.script(["git", "-C", repositoryRoot.path, "rev-parse", "HEAD"]).output.trimmingCharacters(in: .whitespacesAndNewlines)
        for spelling in ["version", "--version", "-v"] {
            let r = try cutover(spelling)
            #expect(r.status == 0 && r.stdout.hasPrefix("cutover 0.1.0 (\(head)"), "\(spelling): \(r.stdout)\(r.stderr)")
        }
    }

    @Test func theReferenceIsUpToDate() throws {
        let r = try cutover("help", "reference")
        #expect(r.status == 0)
        let file = try String(contentsOf: repositoryRoot.appendingPathComponent("docs/REFERENCE.md"), encoding: .utf8)
        #expect(r.stdout == file, "docs/REFERENCE.md differs from `cutover help reference`: run `cutover help reference > docs/REFERENCE.md`")
    }

    @Test func everyStepTypeAndEveryFieldTheLoadersAcceptIsInTheReference() throws {
        let types = try cutover("help", "step-types")
        #expect(types.status == 0 && types.stdout.hasPrefix("Step types"), "help step-types is its own page, not the overview")
        // The loaders name what they accept when they refuse an unknown field.
        let dir = TemporaryDirectory()
        dir.write("workflows/w.json", #"{"name": "w", "nope": 1, "steps": [{"id": "a", "type": "wait", "nope": 1, "with": {"duration": "1s"}}]}"#)
        dir.write("runbooks/r.json", #"{"service": "r", "nope": 1, "primary": {"endpoint": "http://127.0.0.1:1"}, "dr": {"endpoint": "http://127.0.0.1:1"}}"#)
        let v = try CutoverBinary.run(["validate", "workflows/w.json", "runbooks/r.json"], in: dir.url)
        func accepted(_ prefix: String) -> [String] {
            guard let line = v.stderr.split(separator: "\n").first(where: { $0.hasPrefix(prefix) }), let r = line.range(of: "expected one of ") else { return [] }
            return line[r.upperBound...].split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
        }
        let workflow = try cutover("help", "workflow").stdout, runbook = try cutover("help", "runbook").stdout
        for (prefix, page) in [("workflows/w.json: nope", workflow), ("workflows/w.json: steps[0].nope", workflow), ("runbooks/r.json: nope", runbook)] {
            let fields = accepted(prefix)
            #expect(fields.count >= 5, "\(prefix): \(v.stderr)")
            for f in fields { #expect(page.contains("\n  \(f) "), "\(f) is not in the reference") }
        }
        for name in ["dns.switch", "instances.scale", "models.sync", "writes.enable", "health.http", "wait"] {
            #expect(types.stdout.contains("\n  \(name) "), "\(name) missing from help step-types")
        }
        let explain = try cutover("explain", "dns.switch")
        #expect(explain.status == 0)
        for part in ["dns.switch (compensable)", "zone (required): the zone", "      a DNS zone: a target object", "served by clouddns, powerdns, route53", "Undone by compensation: restores the old record set", "After a crash (observe): the record set now", "\"type\":\"dns.switch\""] {
            #expect(explain.stdout.contains(part), "explain lacks \(part): \(explain.stdout)")
        }
        let unknown = try cutover("explain", "dns.swich")
        #expect(unknown.status == 64 && unknown.stderr.contains("did you mean \"dns.switch\"?"), "\(unknown.stderr)")
    }

    /// Loaded in a real bash: the first word, a group's subcommands, a subcommand's options,
    /// an option's fixed values, and runbook names.
    @Test func bashCompletesCommandsSubcommandsAndOptions() throws {
        let script = try cutover("completion", "bash").stdout
        let dir = TemporaryDirectory()
        let file = dir.write("cutover.bash", script)
        dir.write("runbooks/alpha.json", "{}")
        dir.write("runbooks/beta.json", "{}")
        func complete(_ words: [String]) throws -> [String] {
            let quoted = words.map { "'\($0)'" }.joined(separator: " ")
            let r = try Sandbox.script(["bash", "-c", "cd '\(dir.url.path)' && source '\(file)' && COMP_WORDS=(\(quoted)) && COMP_CWORD=\(words.count - 1) && _cutover && printf '%s\\n' \"${COMPREPLY[@]}\""])
            return r.output.split(separator: "\n").map(String.init).sorted()
        }
        #expect(try complete(["cutover", "sched"]) == ["schedule", "scheduler"])
        #expect(try complete(["cutover", "schedule", ""]) == ["add", "list", "next", "pause", "remove", "resume"])
        #expect(try complete(["cutover", "schedule", "list", "--"]) == ["--db", "--help", "--json"])
        #expect(try complete(["cutover", "schedule", "add", "x", "--catch-up", ""]) == ["run-once", "skip"])
        #expect(try complete(["cutover", "start", "failover", "--runbook", ""]) == ["alpha", "beta"])
        #expect(try complete(["cutover", "--db", "x.sqlite", "aud"]) == ["audit"])
    }

    /// Loaded in a real zsh through its bash-completion layer: registered for `cutover`, and
    /// the function answers a group's subcommands and a subcommand's options (zsh matches the
    /// prefix itself, as its `_bash_complete` does: arrays from 0, as it sets them).
    @Test func zshLoadsTheCompletion() throws {
        let script = try cutover("completion", "zsh").stdout
        let dir = TemporaryDirectory()
        let file = dir.write("cutover.zsh", script)
        func complete(_ words: [String]) throws -> [String] {
            let quoted = words.map { "'\($0)'" }.joined(separator: " ")
            let r = try Sandbox.script(["zsh", "-c", "cd '\(dir.url.path)' && autoload -U +X compinit && compinit -u && source '\(file)' && print -r -- \"comps:$_comps[cutover]\" && setopt ksharrays && COMP_WORDS=(\(quoted)) && COMP_CWORD=\(words.count - 1) && _cutover && print -l -- \"${COMPREPLY[@]}\""])
            #expect(r.output.contains("comps:_bash_complete -F _cutover"), "\(r.output)")
            return r.output.split(separator: "\n").map(String.init).filter { !$0.hasPrefix("comps:") }.sorted()
        }
        #expect(try complete(["cutover", "schedule", ""]) == ["add", "list", "next", "pause", "remove", "resume"])
        #expect(try complete(["cutover", "schedule", "list", "--"]) == ["--db", "--help", "--json"])
        #expect(try complete(["cutover", "sched"]).contains("scheduler"))
    }

    /// `scripts/install` into a temporary PREFIX (given the binary the suite built, so the
    /// suite does not build again): a working binary that names its commit, the man page, the
    /// bash completion.
    @Test func installIntoATemporaryPrefixGivesAWorkingBinary() throws {
        let prefix = TemporaryDirectory()
        let bin = repositoryRoot.appendingPathComponent(".build/debug/cutover").path
        let r = try Sandbox.script(["scripts/install"], environment: ["PREFIX": prefix.url.path, "CUTOVER_BIN": bin])
        #expect(r.status == 0, "\(r.output)")
        let installed = prefix.path("bin/cutover")
        let head = try Sandbox.script(["git", "-C", repositoryRoot.path, "rev-parse", "HEAD"]).output.trimmingCharacters(in: .whitespacesAndNewlines)
        let version = try CutoverBinary.run(["version"], in: prefix.url, executable: installed)
        #expect(version.status == 0 && version.stdout.contains(head), "\(version.stdout)\(version.stderr)")
        let validate = try CutoverBinary.run(["validate", "workflows/failover.json", "runbooks/sandbox.json"], in: repositoryRoot, executable: installed)
        #expect(validate.status == 0, "\(validate.stderr)")
        let man = try String(contentsOfFile: prefix.path("share/man/man1/cutover.1"), encoding: .utf8)
        #expect(man.hasPrefix(".TH CUTOVER 1") && man.contains(".B cutover preflight"))
        #expect(FileManager.default.fileExists(atPath: prefix.path("share/bash-completion/completions/cutover")))
    }
}
