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

    /// `cutover completion SHELL` written into a fresh folder beside the (empty) files named,
    /// and its path.
    func script(_ shell: String, beside files: [String]) throws -> (TemporaryDirectory, String) {
        let dir = TemporaryDirectory()
        let file = dir.write("cutover.\(shell)", try cutover("completion", shell).stdout)
        for f in files { dir.write(f, "") }
        return (dir, file)
    }

    /// Loaded in a real bash: the first word, a group's subcommands, a subcommand's options,
    /// an option's fixed values, and runbook names.
    @Test func bashCompletesCommandsSubcommandsAndOptions() throws {
        let (dir, file) = try script("bash", beside: ["runbooks/alpha.json", "runbooks/beta.json"])
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
        // The first operand is not offered again; a group's options may precede its subcommand.
        #expect(try complete(["cutover", "start", "fail over", ""]) == [])
        #expect(try complete(["cutover", "schedule", "--db", "x", "l"]) == ["list"])
        // Switches that exclude each other: one given, the other is not offered.
        #expect(try complete(["cutover", "start", "x", "--drill", "--r"]) == ["--runbook"])
        // `--opt=value`, which bash splits at "=".
        #expect(try complete(["cutover", "audit", "export", "r", "--format", "=", ""]) == ["html", "jsonl"])
        #expect(try complete(["cutover", "explain", "dns."]) == ["dns.switch"])
        #expect(try complete(["cutover", "help", "schedule", "re"]) == ["remove", "resume"])
        #expect(try complete(["cutover", "help", "step"]) == ["step-types"])
    }

    /// Typed into an interactive bash on a terminal, TAB pressed: what the line becomes, as
    /// readline leaves it (quoting included).
    @Test func bashCompletesOnATerminalWithQuotesAndEquals() throws {
        let (dir, file) = try script("bash", beside: ["workflows/fail over.json", "workflows/failback.json", "my log.sqlite"])
        let typist = dir.write("type.py", #"""
            import os, pty, select, sys, time
            pid, fd = pty.fork()
            if pid == 0:
                os.chdir(sys.argv[1])
                os.environ.update(PS1="$ ", TERM="dumb", INPUTRC="/dev/null")
                os.execvp("bash", ["bash", "--norc", "--noprofile", "-i"])
            def read(seconds):
                out, end = b"", time.time() + seconds
                while time.time() < end:
                    if select.select([fd], [], [], 0.05)[0]:
                        try: out += os.read(fd, 4096)
                        except OSError: break
                return out
            read(0.5)
            os.write(fd, ("source " + sys.argv[2] + "\n").encode()); read(0.5)
            # The text, TAB, Ctrl-E and a marker: the line as completed is echoed before it.
            os.write(fd, sys.argv[3].encode() + b"\t"); out = read(1.0)
            os.write(fd, b"\x05#END\n"); out += read(0.5)
            os.write(fd, b"exit\n"); read(0.2)
            line = [l for l in out.decode(errors="replace").splitlines() if "#END" in l]
            print(line[0].split("#END")[0] if line else "no line: " + repr(out))
            """#)
        func typed(_ text: String) throws -> String {
            let r = try Sandbox.script(["python3", typist, dir.url.path, file, text])
            return r.output.trimmingCharacters(in: .whitespacesAndNewlines)
        }
        #expect(try typed("cutover list --db=my") == #"cutover list --db=my\ log.sqlite"#)
        #expect(try typed(#"cutover start "fail o"#) == #"cutover start "fail over""#)
        #expect(try typed(#"cutover start fail\ "#) == #"cutover start fail\ over"#)
        #expect(try typed("cutover audit export r --format=h") == "cutover audit export r --format=html")
    }

    /// Loaded in a real zsh through its bash-completion layer: registered for `cutover`, and
    /// the function, called through zsh's own `compgen -F` as `_bash_complete` calls it (in
    /// its sh emulation: arrays from 0, words split), answers a group's subcommands, a
    /// subcommand's options and an option's values.
    @Test func zshLoadsTheCompletion() throws {
        let (dir, file) = try script("zsh", beside: [])
        func complete(_ words: [String]) throws -> [String] {
            let quoted = words.map { "'\($0)'" }.joined(separator: " ")
            let r = try Sandbox.script(["zsh", "-c", "cd '\(dir.url.path)' && autoload -U +X compinit && compinit -u && source '\(file)' && print -r -- \"comps:$_comps[cutover]\" && COMP_WORDS=(\(quoted)) && COMP_CWORD=\(words.count - 1) && compgen -F _cutover -- '\(words.last!)'"])
            #expect(r.output.contains("comps:_bash_complete -F _cutover"), "\(r.output)")
            return r.output.split(separator: "\n").map(String.init).filter { !$0.hasPrefix("comps:") }.sorted()
        }
        #expect(try complete(["cutover", "schedule", ""]) == ["add", "list", "next", "pause", "remove", "resume"])
        #expect(try complete(["cutover", "schedule", "list", "--"]) == ["--db", "--help", "--json"])
        #expect(try complete(["cutover", "sched"]) == ["schedule", "scheduler"])
        #expect(try complete(["cutover", "start", "x", "--drill", "--r"]) == ["--runbook"])
        #expect(try complete(["cutover", "audit", "export", "r", "--format", "=", "h"]) == ["html"])
    }

    /// The man page as groff reads it: no warning at the strictest level, and the options
    /// come out as typed (ASCII "--", quotes kept), one `.TP` per command.
    @Test func theManPageRendersAsTyped() throws {
        let dir = TemporaryDirectory()
        let page = dir.write("cutover.1", try cutover("help", "man").stdout)
        let check = try Sandbox.script(["groff", "-man", "-Tutf8", "-ww", "-z", page])
        #expect(check.status == 0 && check.output.isEmpty, "groff warns: \(check.output)")
        let shown = try Sandbox.script(["sh", "-c", "groff -man -Tutf8 -P-cbou '\(page)' 2>&1"])
        for text in ["--runbook RUNBOOK", "--cron EXPR", "cutover schedule add NAME", "--catch-up skip|run-once", "(default UTC)", "--signature FILE"] {
            #expect(shown.output.contains(text), "the rendered page lacks \(text)")
        }
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
