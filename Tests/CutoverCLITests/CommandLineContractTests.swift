import Foundation
import Testing
import TestSupport

@Suite struct CommandLineContractTests {
    static let commands = ["validate", "plan", "start", "resume", "status", "list", "history", "approve", "pause", "abort", "rollback"]

    @Test(arguments: commands)
    func everyCommandHasHelp(_ command: String) throws {
        let dir = TemporaryDirectory()
        let r = try CutoverBinary.run([command, "--help"], in: dir.url)
        #expect(r.status == 0)
        #expect(r.stdout.contains("Usage: cutover \(command)"))
    }

    @Test func usageErrorsExit64WithOneReasonAndAHint() throws {
        let dir = TemporaryDirectory()
        let unknown = try CutoverBinary.run(["strat"], in: dir.url)
        #expect(unknown.status == 64)
        #expect(unknown.stderr.contains("unknown command \"strat\"; did you mean \"start\"?"))
        let option = try CutoverBinary.run(["start", "check", "--runbok", "svc"], in: dir.url)
        #expect(option.status == 64)
        #expect(option.stderr.contains("unknown option --runbok; did you mean --runbook?"))
        let missing = try CutoverBinary.run(["start", "check"], in: dir.url)
        #expect(missing.status == 64)
        #expect(missing.stderr.hasPrefix("cutover start: missing --runbook RUNBOOK"))
        #expect(try CutoverBinary.run(["--help"], in: dir.url).status == 0)
    }

    /// A database location is a path, or a URL of a store cutover has; anything else is
    /// refused before anything is read or written, and never becomes a folder named after it.
    /// A PostgreSQL database that does not answer is named without its password.
    @Test func aStoreThisBuildDoesNotHaveIsRefusedNotTakenForAFile() throws {
        let p = try Project()
        for command in [["list"], ["start", "check", "--runbook", "svc"], ["audit", "verify"], ["schedule", "list"]] {
            let r = try CutoverBinary.run(
                command, in: p.dir.url,
                environment: p.environment.merging(["CUTOVER_DB": "postgresql://cutover:hunter2@127.0.0.1:9/cutover?connect_timeout=2"]) { $1 })
            #expect(r.status == 1, "\(command): \(r.stderr)")
            #expect(r.stderr.contains("postgresql://cutover:***@127.0.0.1:9/cutover") && r.stderr.contains("cannot connect"), "\(command): \(r.stderr)")
            #expect(!r.stderr.contains("hunter2") && !r.stdout.contains("hunter2"), "the password is never repeated")
            #expect(!FileManager.default.fileExists(atPath: p.dir.path("postgresql:")), "\(command) made a folder of the URL")
            #expect(!p.databaseExists)
        }
        let flag = try CutoverBinary.run(["list", "--db", "mysql://db/x"], in: p.dir.url)
        #expect(flag.status == 64)
        #expect(flag.stderr.contains("a \"mysql\" store is not supported"))
        // A file: URL is a path.
        let file = try CutoverBinary.run(["list", "--db", "file://\(p.dir.path("elsewhere.sqlite"))"], in: p.dir.url)
        #expect(file.status == 0, "\(file.stderr)")
        #expect(try p.cutover("validate", "workflows/check.json", "runbooks/svc.json").status == 0, "validate needs no database")
    }

    @Test func validateReportsEveryProblemAsFilePathMessage() throws {
        let p = try Project()
        p.dir.write("workflows/bad.json", """
            {"name": "bad", "stpes": [], "steps": [
              {"id": "a", "type": "helth.http", "with": {}},
              {"id": "b", "type": "wait", "with": {"duration": "sixty"}, "timeout": "soon"}
            ]}
            """)
        let ok = try p.cutover("validate", "workflows/check.json", "runbooks/svc.json")
        #expect(ok.status == 0)
        let bad = try p.cutover("validate", "workflows/bad.json", "workflows/check.json")
        #expect(bad.status == 64)
        let lines = bad.stderr.split(separator: "\n").map(String.init)
        #expect(lines.contains("workflows/bad.json: stpes: unknown field; did you mean \"steps\"?; expected one of name, version, description, parameters, steps"))
        #expect(lines.contains { $0.hasPrefix("workflows/bad.json: steps[0].type: unknown step type \"helth.http\"; did you mean \"health.http\"?") })
        #expect(lines.contains { $0.hasPrefix("workflows/bad.json: steps[1].with.duration: expected a duration") && $0.hasSuffix("got \"sixty\"") })
        #expect(lines.contains { $0.hasPrefix("workflows/bad.json: steps[1].timeout: expected a duration") })
        #expect(!p.databaseExists)
    }

    @Test func anInvalidStartWritesNothing() throws {
        let p = try Project()
        p.dir.write("workflows/broken.json", """
            {"name": "broken", "steps": [{"id": "a", "type": "health.http", "with": {"url": "${runbook.dr.endpont}/health"}}]}
            """)
        let r = try p.cutover("start", "broken", "--runbook", "svc")
        #expect(r.status == 64)
        #expect(r.stderr.contains("workflows/broken.json: steps[0].with.url: ${runbook.dr.endpont}: \"endpont\" not found; did you mean \"endpoint\"?"))
        #expect(r.stderr.contains("Nothing was started or written."))
        #expect(!p.databaseExists)
        let unknown = try p.cutover("start", "nope", "--runbook", "svc")
        #expect(unknown.status == 64)
        #expect(unknown.stderr.contains("no workflow \"nope\""))
    }

    @Test func theDatabaseComesFromDbFlagThenEnvironmentThenDefault() throws {
        let p = try Project()
        let flag = try p.cutover("--db", "elsewhere/flag.sqlite", "start", "check", "--runbook", "svc")
        #expect(flag.status == 0, "\(flag.stderr)")
        #expect(FileManager.default.fileExists(atPath: p.dir.path("elsewhere/flag.sqlite")))
        #expect(!p.databaseExists)
        let env = try CutoverBinary.run(["start", "check", "--runbook", "svc"], in: p.dir.url, environment: p.environment.merging(["CUTOVER_DB": "env.sqlite"]) { $1 })
        #expect(env.status == 0, "\(env.stderr)")
        #expect(FileManager.default.fileExists(atPath: p.dir.path("env.sqlite")))
        #expect(try p.cutover("list", "--db", "env.sqlite").lines.count == 2, "header and one run")
        #expect(try p.cutover("start", "check", "--runbook", "svc").status == 0)
        #expect(p.databaseExists)
        #expect(try p.cutover("status", "--json").status == 0)
    }

    @Test func planResolvesTheRunbookAndKeepsSecretsAsReferences() throws {
        let p = try Project()
        let r = try p.cutover("plan", "check", "--runbook", "svc")
        #expect(r.status == 0)
        #expect(r.stdout.contains("url: \(p.fixture.base)/dr/health"))
        #expect(r.stdout.contains("url: env:SVC_WEBHOOK"))
        #expect(!r.stdout.contains("/webhook"))
        #expect(r.stdout.contains("undo: nothing to undo (reads only)"))
        #expect(!p.databaseExists, "plan touches nothing")
    }
}
