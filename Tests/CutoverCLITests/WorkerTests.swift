import CutoverCore
import CutoverSQLite
import CutoverStore
import Foundation
import Testing
import TestSupport

/// `cutover worker` processes sharing one log: a run started and left, approved from another
/// terminal, is carried on by a worker; exactly one worker drives it; a worker killed mid-run
/// is replaced once its lease expires, nothing it did done again; SIGTERM lets go cleanly.
@Suite struct WorkerTests {
    static let quick = ["--poll", "300ms", "--lease", "3s"]

    func worker(_ p: Project, _ extra: [String] = []) throws -> SchedulerProcess {
        let w = try SchedulerProcess(p, Self.quick + extra, command: "worker")
        try w.wait(for: "worker ")
        return w
    }

    /// Waits until `run` is in `state`; its status JSON.
    func wait(_ p: Project, _ run: String, for state: String, seconds: Double = 40) throws -> [String: Any] {
        let until = Date().addingTimeInterval(seconds)
        while true {
            let status = p.lastJSON(try p.cutover("status", run, "--json"))
            if status["state"] as? String == state { return status }
            if Date() > until { throw WaitTimeout(what: "\(run) \(state)", output: "\(status)") }
            Thread.sleep(forTimeInterval: 0.2)
        }
    }

    /// Waits (up to 10 s) until `run`'s soak has started and not yet ended; whether it has.
    func soaking(_ p: Project, _ run: String) throws -> Bool {
        for _ in 0..<100 {
            let lines = try p.cutover("history", run, "--json").lines
            if lines.contains(where: { $0.contains(#""type":"StepStarted""#) && $0.contains(#""step":"soak""#) }) {
                return !lines.contains { $0.contains(#""type":"StepSucceeded""#) && $0.contains(#""step":"soak""#) }
            }
            Thread.sleep(forTimeInterval: 0.1)
        }
        return false
    }

    /// The owners that attached to drive `run`, in order.
    func drivers(_ p: Project, _ run: String) throws -> [String] {
        try p.cutover("history", run, "--json").lines.compactMap { line in
            guard let e = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any], e["type"] as? String == "DriverAttached" else { return nil }
            return (e["body"] as? [String: Any])?["owner"] as? String
        }
    }

    @Test func aRunStartedAndLeftThenApprovedElsewhereIsCarriedOnByAWorker() throws {
        let p = try Project()
        let start = try p.cutover("start", "gated", "--runbook", "svc", "--detach")
        #expect(start.status == 75, "\(start.stderr)")
        let run = start.lines[0]
        let w = try worker(p)
        // Waiting for a person: the worker leaves it alone.
        Thread.sleep(forTimeInterval: 1.5)
        #expect(try drivers(p, run).count == 1, "only the starter attached while the run waited for approval")
        #expect(try p.approve(run, as: "alice").status == 0)
        _ = try wait(p, run, for: "succeeded")
        #expect(try drivers(p, run).count == 2)
        w.process.terminate()
        #expect(try w.exit() == 0)
        #expect(w.output.contains("run \(run): driving it") && w.output.contains("worker stopped"), "\(w.output)")
        #expect(try p.log.verifyChain().intact)
    }

    @Test func twoWorkersOneDrivesAndAKilledOneIsReplacedWithoutRepeatingAnything() throws {
        let p = try Project()
        let start = try p.cutover("start", "gated-soak", "--runbook", "svc", "--detach")
        #expect(start.status == 75, "\(start.stderr)")
        let run = start.lines[0]
        let a = try worker(p), b = try worker(p)
        #expect(try p.approve(run, as: "alice").status == 0)
        // One of them takes it; the soak is four seconds long.
        let until = Date().addingTimeInterval(20)
        var owners: [String] = []
        while owners.count < 2, Date() < until {
            owners = try drivers(p, run)
            Thread.sleep(forTimeInterval: 0.1)
        }
        try #require(owners.count == 2, "a worker attached: \(owners)")
        let pid = Int32(owners[1].split(separator: ":")[1])
        let (killed, other) = pid == a.process.processIdentifier ? (a, b) : (b, a)
        #expect(killed.process.processIdentifier == pid, "the driver is one of the two workers")
        try #require(try soaking(p, run), "killed while the soak is in flight")
        kill(killed.process.processIdentifier, SIGKILL)
        let status = try wait(p, run, for: "succeeded")
        #expect(status["state"] as? String == "succeeded")
        let attached = try drivers(p, run)
        #expect(attached.count == 3 && Int32(attached[2].split(separator: ":")[1]) == other.process.processIdentifier, "\(attached)")
        #expect(try p.fixture.requests()["webhook"] == 1, "the notification went once")
        let history = try p.cutover("history", run, "--json").lines
        #expect(history.filter { $0.contains(#""type":"StepSucceeded""#) && $0.contains(#""step":"soak""#) }.count == 1)
        #expect(!history.contains { $0.contains(#""type":"StepFailed""#) }, "the soak was carried on, not failed")
        other.process.terminate()
        #expect(try other.exit() == 0)
        #expect(try p.log.verifyChain().intact)
    }

    @Test func sigtermLetsTheRunGoAndAnotherWorkerFinishesIt() throws {
        let p = try Project()
        p.dir.write("workflows/gated-long-soak.json", #"""
            {"name": "gated-long-soak", "steps": [
              {"id": "go", "type": "approval", "with": {"approvers": "${runbook.approvers}"}},
              {"id": "soak", "type": "wait", "with": {"duration": "8s"}},
              {"id": "tell", "type": "notify", "with": {"url": "${runbook.notify.webhook}", "message": "${run.id} carried on"}}
            ]}
            """#)
        let start = try p.cutover("start", "gated-long-soak", "--runbook", "svc", "--detach")
        let run = start.lines[0]
        let first = try worker(p)
        #expect(try p.approve(run, as: "alice").status == 0)
        try first.wait(for: "run \(run): driving it")
        // Signalled while the soak is in flight.
        try #require(try soaking(p, run), "the soak is in flight")
        first.process.terminate()
        // The step in flight (the soak) is finished; the next one is not begun.
        #expect(try first.exit() == 0)
        #expect(first.output.contains("worker stopped"), "\(first.output)")
        let history = try p.cutover("history", run, "--json").lines
        #expect(history.contains { $0.contains(#""type":"StepSucceeded""#) && $0.contains(#""step":"soak""#) }, "the soak finished")
        #expect(!history.contains { $0.contains(#""type":"StepStarted""#) && $0.contains(#""step":"tell""#) }, "nothing new was begun: \(first.output)\n\(history.joined(separator: "\n"))")
        #expect(try p.fixture.requests()["webhook"] == nil)
        let status = p.lastJSON(try p.cutover("status", run, "--json"))
        #expect(status["driver"] is NSNull && status["state"] as? String == "running", "the lease was given back: \(status)")
        // Another worker takes it at once (no lease to wait out) and finishes it.
        let second = try worker(p)
        _ = try wait(p, run, for: "succeeded", seconds: 20)
        #expect(try p.fixture.requests()["webhook"] == 1)
        second.process.terminate()
        #expect(try second.exit() == 0)
    }

    @Test func aWorkerWithSchedulesFiresADueDrill() throws {
        let p = try Project()
        _ = try p.addScheduleDueNow("nightly", workflow: "check")
        let w = try worker(p, ["--schedules"])
        try w.wait(for: "scheduler: schedule nightly: started drill", seconds: 30)
        try w.wait(for: "passed: failed over and back as planned", seconds: 30)
        #expect(!w.output.contains(": driving it"), "the worker left the scheduled run to the scheduler beside it: \(w.output)")
        w.process.terminate()
        #expect(try w.exit() == 0)
    }

    @Test func aWorkerLeavesARunItCannotDriveFromHereToOneThatCan() throws {
        let p = try Project()
        p.dir.write("workflows/gated-secret.json", #"""
            {"name": "gated-secret", "steps": [
              {"id": "go", "type": "approval", "with": {"approvers": "${runbook.approvers}"}},
              {"id": "tell", "type": "notify", "with": {"url": "env:HOOK_ON_WORKERS", "message": "from a worker that has the hook"}}
            ]}
            """#)
        let start = try p.cutover("start", "gated-secret", "--runbook", "svc", "--detach", "--no-preflight")
        #expect(start.status == 75, "\(start.stderr)")
        let run = start.lines[0]
        #expect(try p.approve(run, as: "alice").status == 0)
        // This host lacks the secret: the run is left, said once.
        let without = try worker(p)
        try without.wait(for: "run \(run): left to another worker: secret env:HOOK_ON_WORKERS")
        Thread.sleep(forTimeInterval: 1)
        #expect(without.output.components(separatedBy: "left to another worker").count == 2, "said once: \(without.output)")
        #expect(try drivers(p, run).count == 1)
        // A worker that has it drives it.
        let with = try SchedulerProcess(p, Self.quick, command: "worker", environment: ["HOOK_ON_WORKERS": "\(p.fixture.base)/webhook"])
        _ = try wait(p, run, for: "succeeded", seconds: 20)
        #expect(try p.fixture.requests()["webhook"] == 1)
        for w in [without, with] {
            w.process.terminate()
            #expect(try w.exit() == 0)
        }
    }
}
