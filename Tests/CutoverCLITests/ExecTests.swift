import Foundation
import Testing
import TestSupport

/// `exec`: the team's own programs, run by the real binary against shell scripts in the
/// test's folder: failures and retries, a hang past the timeout (double-forked grandchildren
/// included, none left behind), garbage output, a success just before a crash (settled by
/// observe, not run twice), a secret kept out of the log, and compensation in a drill.
@Suite struct ExecTests {
    func project(_ steps: String) throws -> Project {
        let p = try Project(signed: false)
        p.dir.write("workflows/x.json", #"{"name": "x", "steps": [\#(steps)]}"#)
        return p
    }

    func script(_ p: Project, _ name: String, _ body: String) -> String {
        let path = p.dir.write(name, "#!/bin/sh\n" + body + "\n")
        chmod(path, 0o755)
        return path
    }

    func history(_ p: Project, _ run: String) throws -> [[String: Any]] {
        try p.cutover("history", run, "--json").lines.compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
    }

    func alive(_ pid: Int32) -> Bool { kill(pid, 0) == 0 || errno == EPERM }

    @Test func aFailingCommandFailsTheStepAndADeclaredCodeIsRetried() throws {
        let p = try Project(signed: false)
        let flaky = script(p, "flaky.sh", """
            n=$(cat "$1" 2>/dev/null || echo 0); n=$((n+1)); echo $n > "$1"
            if [ $n -lt 2 ]; then echo "not yet ($n)" >&2; exit 75; fi
            echo '{"attempts": '$n'}'
            """)
        let fails = script(p, "fails.sh", "echo 'no such deployment' >&2; exit 3")
        p.dir.write("workflows/x.json", """
            {"name": "x", "steps": [
              {"id": "flaky", "type": "exec", "with": {"command": ["\(flaky)", "\(p.dir.path("count"))"]}, "retry": {"attempts": 3, "backoff": "10ms", "maxBackoff": "10ms"}},
              {"id": "fails", "type": "exec", "with": {"command": ["\(fails)"]}, "retry": {"attempts": 3, "backoff": "10ms", "maxBackoff": "10ms"}}
            ]}
            """)
        let r = try p.cutover("start", "x", "--runbook", "svc", "--drill", "--no-preflight")
        #expect(r.status == 1, "\(r.stdout)\(r.stderr)")
        let run = r.lines.first ?? ""
        let events = try history(p, run)
        let flakyDone = events.first { $0["type"] as? String == "StepSucceeded" && $0["step"] as? String == "flaky" }
        #expect(((flakyDone?["body"] as? [String: Any])?["output"] as? [String: Any])?["attempts"] as? Int == 2, "retried once after 75: \(flakyDone ?? [:])")
        let failed = events.filter { $0["type"] as? String == "StepFailed" && $0["step"] as? String == "fails" }
        #expect(failed.count == 1, "exit 3 is not retried: \(failed.count)")
        let error = ((failed.first?["body"] as? [String: Any])?["error"] as? [String: Any])
        #expect(error?["code"] as? String == "exec-exit-3" && (error?["message"] as? String)?.contains("no such deployment") == true, "\(error ?? [:])")
        #expect(events.contains { $0["type"] as? String == "StepNote" && (($0["body"] as? [String: Any])?["message"] as? String)?.contains("not yet (1)") == true }, "stderr recorded as a note")
    }

    @Test func aHangPastTheTimeoutIsKilledWithEveryProcessItStarted() throws {
        let p = try Project(signed: false)
        let pids = p.dir.path("pids")
        let hang = script(p, "hang.sh", """
            sleep 300 & echo $! >> "\(pids)"
            (setsid sh -c 'sleep 300 & echo $! >> "\(pids)"; wait' &) 
            ( (sleep 300 & echo $! >> "\(pids)") & )
            echo $$ >> "\(pids)"
            sleep 300
            """)
        p.dir.write("workflows/x.json", """
            {"name": "x", "steps": [{"id": "hang", "type": "exec", "with": {"command": ["\(hang)"], "timeout": "2s"}}]}
            """)
        let started = Date()
        let r = try p.cutover("start", "x", "--runbook", "svc", "--drill", "--no-preflight")
        #expect(r.status == 1, "\(r.stdout)\(r.stderr)")
        #expect(Date().timeIntervalSince(started) < 60)
        let failed = try history(p, r.lines.first ?? "").first { $0["type"] as? String == "StepFailed" }
        let message = ((failed?["body"] as? [String: Any])?["error"] as? [String: Any])?["message"] as? String ?? ""
        #expect(message.contains("ran past its timeout of 2"), "\(message)")
        let written = (try? String(contentsOfFile: pids, encoding: .utf8)) ?? ""
        let all = written.split(separator: "\n").compactMap { Int32($0) }
        #expect(all.count == 4, "the script, its child and two double-forked grandchildren: \(written)")
        Thread.sleep(forTimeInterval: 0.5)
        for pid in all { #expect(!alive(pid), "process \(pid) outlived the step") }
    }

    @Test func garbageOutputFailsTheStepSayingWhat() throws {
        let p = try Project(signed: false)
        let garbage = script(p, "garbage.sh", "echo 'all good!'; echo 'status: {not json'")
        p.dir.write("workflows/x.json", """
            {"name": "x", "steps": [{"id": "g", "type": "exec", "with": {"command": ["\(garbage)"]}}]}
            """)
        let r = try p.cutover("start", "x", "--runbook", "svc", "--drill", "--no-preflight")
        #expect(r.status == 1)
        let failed = try history(p, r.lines.first ?? "").first { $0["type"] as? String == "StepFailed" }
        let error = (failed?["body"] as? [String: Any])?["error"] as? [String: Any]
        #expect(error?["code"] as? String == "exec-bad-output" && (error?["message"] as? String)?.contains("status: {not json") == true, "\(error ?? [:])")
    }

    /// The command does its work and kills the driver before the outcome is written (the
    /// crash); `resume` settles the step with `observe`, and the command does not run again.
    @Test func aCommandThatSucceededJustBeforeACrashIsSettledByObserveNotRunTwice() throws {
        let p = try Project(signed: false)
        let count = p.dir.path("count")
        let work = script(p, "work.sh", """
            echo ran >> "\(count)"
            kill -9 $PPID
            echo '{"done": true}'
            """)
        let check = script(p, "check.sh", """
            [ -s "\(count)" ] || exit 1
            echo '{"done": true, "observed": true}'
            """)
        p.dir.write("workflows/x.json", """
            {"name": "x", "steps": [{"id": "work", "type": "exec", "with": {"command": ["\(work)"], "observe": {"command": ["\(check)"]}}}]}
            """)
        let crashed = try p.cutover("start", "x", "--runbook", "svc", "--no-preflight")
        #expect(crashed.status == 137 || crashed.status == -9 || crashed.status != 0, "\(crashed.status)")
        let run = try #require(try p.cutover("list", "--json").lines.first.flatMap { try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }?["run"] as? String)
        let resumed = try p.cutover("resume", run)
        #expect(resumed.status == 0, "\(resumed.stdout)\(resumed.stderr)")
        #expect(try String(contentsOfFile: count, encoding: .utf8) == "ran\n", "the command ran once")
        let done = try history(p, run).first { $0["type"] as? String == "StepSucceeded" }
        let body = done?["body"] as? [String: Any]
        #expect(body?["observed"] as? Bool == true && (body?["output"] as? [String: Any])?["observed"] as? Bool == true, "\(body ?? [:])")
    }

    @Test func aSecretPassedToTheProgramNeverReachesTheLog() throws {
        let p = try Project(signed: false)
        let secret = "s3cr3t-\(UUID().uuidString)"
        let leak = script(p, "leak.sh", """
            echo "using token $API_TOKEN" >&2
            echo "{\\"token\\": \\"$API_TOKEN\\", \\"length\\": ${#API_TOKEN}}"
            """)
        p.dir.write("workflows/x.json", """
            {"name": "x", "steps": [{"id": "leak", "type": "exec", "with": {"command": ["\(leak)"], "env": {"API_TOKEN": "env:EXEC_API_TOKEN"}}}]}
            """)
        let plan = try CutoverBinary.run(["plan", "x", "--runbook", "svc"], in: p.dir.url, environment: p.environment.merging(["EXEC_API_TOKEN": secret]) { $1 })
        #expect(plan.stdout.contains("env:EXEC_API_TOKEN") && !plan.stdout.contains(secret), "plan shows the reference: \(plan.stdout)")
        let r = try CutoverBinary.run(["start", "x", "--runbook", "svc", "--drill", "--no-preflight"], in: p.dir.url, environment: p.environment.merging(["EXEC_API_TOKEN": secret]) { $1 })
        #expect(r.status == 0, "\(r.stdout)\(r.stderr)")
        #expect(!r.stdout.contains(secret) && !r.stderr.contains(secret))
        let log = try Data(contentsOf: p.dir.url.appendingPathComponent(".cutover/cutover.sqlite"))
        #expect(log.range(of: Data(secret.utf8)) == nil, "the secret is in the database file")
        let events = try history(p, r.lines.first ?? "")
        let output = ((events.first { $0["type"] as? String == "StepSucceeded" }?["body"] as? [String: Any])?["output"] as? [String: Any])
        #expect(output?["token"] as? String == "[redacted]" && output?["length"] as? Int == secret.count, "\(output ?? [:])")
    }

    /// A drill rolls an exec step back with its compensate, which reads the before-state and
    /// the output.
    @Test func aDrillCompensatesWithTheBeforeStateAndTheOutput() throws {
        let p = try Project(signed: false)
        let flag = p.dir.path("flag")
        try "off".write(toFile: flag, atomically: true, encoding: .utf8)
        let read = script(p, "read.sh", "echo \"{\\\"was\\\": \\\"$(cat '\(flag)')\\\"}\"")
        let flip = script(p, "flip.sh", "echo on > '\(flag)'; echo '{\"flipped\": \"on\", \"ticket\": 42}'")
        let restore = script(p, "restore.sh", "printf '%s (ticket %s)' \"$1\" \"$2\" > '\(flag)'")
        p.dir.write("workflows/x.json", """
            {"name": "x", "steps": [{"id": "flag", "type": "exec", "with": {
              "command": ["\(flip)"], "before": {"command": ["\(read)"]},
              "compensate": {"command": ["\(restore)", "${before.was}", "${output.ticket}"]}}}]}
            """)
        let plan = try p.cutover("plan", "x", "--runbook", "svc", "--drill")
        #expect(plan.stdout.contains("${before.was}"), "\(plan.stdout)")
        let r = try p.cutover("start", "x", "--runbook", "svc", "--drill", "--no-preflight")
        #expect(r.status == 0, "\(r.stdout)\(r.stderr)")
        #expect(try String(contentsOfFile: flag, encoding: .utf8) == "off (ticket 42)", "compensated from the before-state and the output")
        let bad = try project(#"{"id": "x", "type": "notify", "with": {"url": "http://127.0.0.1:1/x", "message": "${output.ticket}"}}"#)
        let validate = try bad.cutover("validate", "workflows/x.json", "runbooks/svc.json")
        #expect(validate.status != 0 && (validate.stdout + validate.stderr).contains("for the before, observe and compensate of exec"), "\(validate.stdout)\(validate.stderr)")
    }
}

/// `http.request` against a feature-flag API of the fixture: a token from the environment
/// (never in the log), the flag's state before recorded, and the drill's compensation putting
/// it back from the before-state and the output.
@Suite struct HTTPRequestStepTests {
    @Test func aDrillFlipsAFlagAndCompensationPutsItBack() throws {
        let p = try Project(signed: false)
        let flag = "\(p.fixture.base)/flags/dr-writes"
        p.dir.write("workflows/x.json", """
            {"name": "x", "steps": [{"id": "flag", "type": "http.request", "with": {
              "method": "PUT", "url": "\(flag)", "headers": {"Authorization": "env:FLAG_AUTH"}, "body": {"value": "on"},
              "before": {"method": "GET", "url": "\(flag)"},
              "compensate": {"method": "PUT", "url": "\(flag)", "body": {"value": "${before.value}", "reason": "undo change ${output.change}"}}}}]}
            """)
        let env = p.environment.merging(["FLAG_AUTH": "Bearer flag-token"]) { $1 }
        let r = try CutoverBinary.run(["start", "x", "--runbook", "svc", "--drill", "--no-preflight"], in: p.dir.url, environment: env)
        #expect(r.status == 0, "\(r.stdout)\(r.stderr)")
        let fetched = try Sandbox.script(["curl", "-sf", "\(p.fixture.base)/_flags"])
        let changes = try JSONSerialization.jsonObject(with: Data(fetched.output.utf8)) as? [[String: Any]] ?? []
        #expect(changes.map { $0["value"] as? String ?? "?" } == ["on", "off"], "\(changes)")
        #expect((changes.last?["body"] as? [String: Any])?["reason"] as? String == "undo change 1", "\(changes)")
        let log = try Data(contentsOf: p.dir.url.appendingPathComponent(".cutover/cutover.sqlite"))
        #expect(log.range(of: Data("flag-token".utf8)) == nil, "the token is not in the log")
        // A wrong token: refused with the status, not retried, the token not shown.
        let denied = try CutoverBinary.run(["start", "x", "--runbook", "svc", "--drill", "--no-preflight"], in: p.dir.url, environment: p.environment.merging(["FLAG_AUTH": "Bearer wrong-token"]) { $1 })
        #expect(!(denied.stdout + denied.stderr).contains("wrong-token"))
        #expect(denied.status == 1 && (denied.stdout + denied.stderr).contains("answered HTTP 401"), "\(denied.stdout)\(denied.stderr)")
    }
}
