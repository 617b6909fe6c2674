import CutoverCore
import CutoverSQLite
import Foundation
import Testing
import TestSupport

/// The smaller holes of the faults review: a zombie driver, files that follow the umask, a
/// database others can read, a key folder others can write, numbers no one means.
@Suite struct HardeningTests {
    func mode(_ path: String) -> Int {
        ((try? FileManager.default.attributesOfItem(atPath: path)[.posixPermissions]) as? Int) ?? -1
    }

    /// Runs the binary under `umask 000`, as a careless shell or service unit would.
    func underOpenUmask(_ p: Project, _ args: [String]) throws -> CutoverBinary.Result {
        let quoted = ([CutoverBinary.path] + args).map { "'\($0)'" }.joined(separator: " ")
        let sh = Process()
        sh.executableURL = URL(fileURLWithPath: "/bin/sh")
        sh.arguments = ["-c", "umask 000; exec \(quoted)"]
        sh.currentDirectoryURL = p.dir.url
        var env = ProcessInfo.processInfo.environment
        env.removeValue(forKey: "CUTOVER_DB")
        sh.environment = env.merging(p.environment) { $1 }
        let out = Pipe()
        sh.standardOutput = out
        sh.standardError = out
        try sh.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        sh.waitUntilExit()
        let text = String(decoding: data, as: UTF8.self)
        return CutoverBinary.Result(status: sh.terminationStatus, stdout: text, stderr: text)
    }

    @Test func keysAndExportsKeepTheirModesUnderAnOpenUmask() throws {
        let p = try Project()
        #expect(try p.cutover("start", "check", "--runbook", "svc", "--drill").status == 0)
        let run = try #require(try p.cutover("list", "--json").stdout.split(separator: "\"").first { $0.hasPrefix("run-") }.map(String.init))
        #expect(try underOpenUmask(p, ["keys", "init"]).status == 0)
        #expect(mode(p.dir.path(".cutover/keys/cutover.ed25519.pem")) == 0o600)
        #expect(mode(p.dir.path(".cutover/keys/cutover.ed25519.pub.pem")) == 0o644, "the public key is nobody else's to change")
        let export = try underOpenUmask(p, ["audit", "export", run, "--format", "html", "-o", "run.html"])
        #expect(export.status == 0, "\(export.stdout)")
        #expect(mode(p.dir.path("run.html")) == 0o600, "an export holds the run's history")
    }

    @Test func aDatabaseOthersCanReadIsNarrowedWhenOpened() throws {
        let p = try Project()
        #expect(try p.cutover("start", "check", "--runbook", "svc", "--drill").status == 0)
        let db = p.dir.path(".cutover/cutover.sqlite")
        chmod(db, 0o644)
        #expect(try p.cutover("status").status == 0)
        #expect(mode(db) == 0o600)
    }

    @Test func keysAreRefusedInAFolderOthersCanWrite() throws {
        let p = try Project()
        let shared = p.dir.path("shared")
        try FileManager.default.createDirectory(atPath: shared, withIntermediateDirectories: true)
        chmod(shared, 0o777)
        let r = try p.cutover("keys", "init", "--dir", "shared")
        #expect(r.status != 0)
        #expect(r.stderr.contains("can be written by others"), "\(r.stderr)")
        #expect(!FileManager.default.fileExists(atPath: shared + "/cutover.ed25519.pem"))
    }

    @Test func numbersNoOneMeansAreRefusedByValidate() throws {
        let p = try Project()
        p.dir.write("workflows/huge.json", #"{"name": "huge", "steps": [{"id": "h", "type": "health.http", "with": {"url": "http://127.0.0.1:1/", "requests": 1000000000000}}, {"id": "w", "type": "wait", "with": {"duration": "100000h"}}]}"#)
        let r = try p.cutover("validate", "workflows/huge.json")
        #expect(r.status == 64)
        #expect(r.stderr.contains("steps[0].with.requests: expected an integer from 1 to 10000, got 1000000000000"), "\(r.stderr)")
        #expect(r.stderr.contains("steps[1].with.duration"), "\(r.stderr)")
    }

    @Test func aDatabaseDeletedUnderTheDriverStopsItWithANonZeroExit() throws {
        let p = try Project()
        let (process, _) = try startUntilWaiting(p)
        let db = p.dir.path(".cutover/cutover.sqlite")
        for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: db + suffix) }
        let rest = (process.standardOutput as! Pipe).fileHandleForReading.readDataToEndOfFile()
        let err = (process.standardError as! Pipe).fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        let text = String(decoding: rest + err, as: UTF8.self)
        #expect(process.terminationStatus == 1, "\(text)")
        #expect(text.contains("is gone: it was deleted or moved"), "\(text)")
        #expect(text.contains("step soak"), "the step in flight is named: \(text)")
        #expect(try p.fixture.requests()["dr"] == 1, "only dr-health reached DR; the step after the soak never ran")
    }

    @Test func rollbackOfARunWhoseRollbackWasCutShortPointsAtResume() throws {
        let p = try Project()
        let r = try p.cutover("start", "check", "--runbook", "svc")
        #expect(r.status == 0, "\(r.stderr)")
        let run = try #require(r.lines.first)
        // A `cutover rollback` killed right after it began: the run is compensating, undriven.
        let store = try SQLiteStore.open(path: p.dir.path(".cutover/cutover.sqlite"))
        let next = (try store.events(of: run, after: 0).last?.runSeq ?? 0) + 1
        _ = try store.append(
            [EventDraft(at: Date(), actor: "oncall", body: .rollbackStarted(RollbackStarted(planned: false, reason: "rollback requested by oncall")))],
            to: run, expectedNext: next, options: AppendOptions(now: Date(), lockScope: "svc"))
        let again = try p.cutover("rollback", run)
        #expect(again.status == 1)
        #expect(again.stderr.contains("is compensating"), "\(again.stderr)")
        #expect(again.stderr.contains("`cutover resume \(run)` carries it on"), "\(again.stderr)")
    }

    @Test func resumesRacingForOneRunAllAnswerAsThePreCheckDoes() throws {
        let p = try Project()
        let start = try p.cutover("start", "gated", "--runbook", "svc", "--detach")
        #expect(start.status == 75)
        let run = try #require(start.lines.first)
        // Six at once: each drives (and detaches again at the approval, 75) or finds another
        // driving (0, naming it), whether it saw that before trying or lost the race for the lease.
        let processes = (0..<6).map { _ in CutoverBinary.start(["resume", run, "--detach"], in: p.dir.url, environment: p.environment) }
        for process in processes { try process.run() }
        for process in processes {
            let out = String(decoding: (process.standardOutput as! Pipe).fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            let err = String(decoding: (process.standardError as! Pipe).fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            process.waitUntilExit()
            #expect([0, 75].contains(process.terminationStatus), "\(process.terminationStatus): \(out)\(err)")
            if process.terminationStatus == 0 { #expect(out.contains("is being driven by"), "\(out)") }
        }
    }

    @Test func aZombieDriverIsTakenOverAtOnce() throws {
        let p = try Project()
        let start = try p.cutover("start", "gated", "--runbook", "svc", "--detach")
        #expect(start.status == 75)
        let run = try #require(start.lines.first)
        // A killed driver its parent never reaped: `sleep 0.2` outlived by the `sleep 30` its
        // shell became, which never waits for it.
        let sh = Process()
        sh.executableURL = URL(fileURLWithPath: "/bin/sh")
        sh.arguments = ["-c", "sleep 0.2 & echo $!; exec sleep 30"]
        let out = Pipe()
        sh.standardOutput = out
        try sh.run()
        defer { sh.terminate() }
        let pid = String(decoding: out.fileHandleForReading.availableData, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        Thread.sleep(forTimeInterval: 0.6)
        let stat = (try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8)) ?? ""
        #expect(stat.contains(") Z"), "the child is a zombie: \(stat)")
        let store = try SQLiteStore.open(path: p.dir.path(".cutover/cutover.sqlite"))
        try store.acquireLease(run: run, owner: "\(ProcessInfo.processInfo.hostName):\(pid):zz", now: Date(), ttl: .seconds(300), isGone: { _ in false })
        let resume = try p.cutover("resume", run, "--detach")
        #expect(!resume.stdout.contains("is being driven by"), "\(resume.stdout)")
        #expect(resume.status == 75, "driven here, waiting for approval again: \(resume.stdout)\(resume.stderr)")
    }
}
