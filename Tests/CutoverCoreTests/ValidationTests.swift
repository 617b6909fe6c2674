import CutoverCore
import Foundation
import Testing
import TestSupport

/// Bad workflow and runbook files, and exactly what validation says about each.
@Suite struct ValidationTests {
    let h: Harness
    init() throws { h = try Harness() }

    func issues(workflow json: String) -> [ValidationIssue] {
        do {
            _ = try h.workflow(json)
            return []
        } catch let failure as ValidationFailure {
            return failure.issues
        } catch {
            Issue.record("expected a ValidationFailure, got \(error)")
            return []
        }
    }

    func wrap(_ step: String) -> String { #"{"name": "w", "steps": [\#(step)]}"# }

    /// One bad file per row: the JSON path the error must name and words its message must hold.
    static let badSteps: [(String, String, [String])] = [
        (#"{"id": "a", "type": "dns.swich"}"#, "steps[0].type", ["unknown step type \"dns.swich\"", "known types:"]),
        (#"{"id": "a", "type": "wiat", "with": {"duration": "1s"}}"#, "steps[0].type", ["did you mean \"wait\"?"]),
        (#"{"id": "a", "type": "wait"}"#, "steps[0].with.duration", ["missing; wait needs"]),
        (#"{"id": "a", "type": "wait", "with": {"duration": "sixty"}}"#, "steps[0].with.duration", ["expected", "\"sixty\""]),
        (#"{"id": "a", "type": "wait", "with": {"duration": "1s", "durration": "2s"}}"#, "steps[0].with.durration", ["unknown parameter of wait", "did you mean \"duration\"?"]),
        (#"{"id": "a", "type": "wait", "with": {"duration": "1s"}, "timout": "5s"}"#, "steps[0].timout", ["unknown field", "did you mean \"timeout\"?"]),
        (#"{"id": "a", "type": "wait", "with": {"duration": "1s"}, "timeout": 30}"#, "steps[0].timeout", ["expected a duration", "got 30"]),
        (#"{"id": "a b", "type": "wait", "with": {"duration": "1s"}}"#, "steps[0].id", ["expected an id of letters"]),
        (#"{"id": "a", "type": "wait", "with": {"duration": "1s"}, "retry": {"attempts": 0}}"#, "steps[0].retry.attempts", ["from 1 to 100", "got 0"]),
        (#"{"id": "a", "type": "wait", "with": {"duration": "1s"}, "retry": {"backoff": "10s", "maxBackoff": "1s"}}"#, "steps[0].retry.maxBackoff", ["must not be shorter than backoff"]),
        (#"{"id": "a", "type": "wait", "with": {"duration": "1s"}, "retry": {"jitter": 2}}"#, "steps[0].retry.jitter", ["from 0 to 1"]),
        (#"{"id": "a", "type": "wait", "with": {"duration": "1s"}, "retry": {"nonRetryable": [1]}}"#, "steps[0].retry.nonRetryable", ["array of error codes"]),
        (#"{"id": "a", "type": "wait", "with": {"duration": "1s"}, "pivot": "yes"}"#, "steps[0].pivot", ["expected true or false"]),
        (#"{"id": "a", "type": "health.http", "with": {"url": "http://127.0.0.1:9/health"}, "pivot": true}"#, "steps[0].pivot", ["cannot be a pivot"]),
        (#"{"id": "a", "type": "health.http", "with": {"url": "not a url"}}"#, "steps[0].with.url", ["expected"]),
        (#"{"id": "a", "type": "notify", "with": {"url": "http://hook", "message": "m", "routingKey": "R0UT1NGK3Y"}}"#, "steps[0].with.routingKey", ["secret reference like \"env:NAME\""]),
        (#"{"id": "a", "type": "notify", "with": {"url": "http://hook", "message": "m", "format": "teams"}}"#, "steps[0].with.format", ["slack"]),
        (#"{"id": "a", "type": "wait", "with": {"duration": "${runbook.dr.nowhere}"}}"#, "steps[0].with.duration", ["${runbook.dr.nowhere}", "\"nowhere\" not found"]),
        (#"{"id": "a", "type": "wait", "with": {"duration": "${runbok.dr}"}}"#, "steps[0].with.duration", ["bad reference", "did you mean \"runbook\"?"]),
        (#"{"id": "a", "type": "wait", "with": {"duration": "${steps.later.output.x}"}}"#, "steps[0].with.duration", ["does not run before this one"]),
        (#"{"id": "a", "type": "wait", "with": {"duration": "${parameters.soak}"}}"#, "steps[0].with.duration", ["no such workflow parameter"]),
        (#"{"id": "a", "type": "wait", "with": {"duration": "${run.nobody}"}}"#, "steps[0].with.duration", ["${run.id}"]),
        (#"{"id": "a", "type": "wait", "with": {"duration": "${runbook.dr.endpoint"}}"#, "steps[0].with.duration", ["unclosed"]),
        // A reference is type-checked once resolved: the runbook's endpoint is not a duration.
        (#"{"id": "a", "type": "wait", "with": {"duration": "${runbook.dr.endpoint}"}}"#, "steps[0].with.duration", ["from \"${runbook.dr.endpoint}\""]),
        ("42", "steps[0]", ["expected a step object, got an integer"]),
    ]

    /// A literal where a secret reference belongs is likely the secret: the message, which
    /// reaches terminals and a skipped drill's reason in the log, never repeats it.
    @Test func aLiteralInASecretFieldIsNotEchoed() {
        let found = issues(workflow: wrap(#"{"id": "a", "type": "notify", "with": {"url": "http://hook", "message": "m", "routingKey": "R0UT1NGK3Y"}}"#))
        #expect(found.count == 1)
        #expect(found.first.map { !$0.description.contains("R0UT1NGK3Y") && $0.description.contains("not shown") } == true, "\(found)")
    }

    @Test(arguments: 0..<badSteps.count)
    func badStepIsNamedByPath(_ row: Int) {
        let (step, path, words) = Self.badSteps[row]
        let found = issues(workflow: wrap(step))
        #expect(found.count == 1, "row \(row): \(found)")
        guard let issue = found.first else { return }
        #expect(issue.file == "workflows/test.json")
        #expect(issue.path == path, "row \(row): \(issue)")
        for w in words { #expect(issue.message.contains(w), "row \(row): \(issue.message) lacks \(w)") }
        #expect(issue.description == "workflows/test.json: \(path): \(issue.message)")
    }

    @Test func everyProblemInAFileIsReportedAtOnce() {
        let found = issues(workflow: """
            {"name": "", "version": "two", "colour": "red", "steps": [
              {"id": "a", "type": "wait", "with": {"duration": "1s"}},
              {"id": "a", "type": "wait", "with": {"duration": "soon"}},
              {"type": "nope"}
            ]}
            """)
        #expect(found.map(\.path) == ["colour", "name", "version", "steps[1].id", "steps[1].with.duration", "steps[2].id", "steps[2].type"])
        #expect(found[3].message.contains("duplicate step id \"a\""))
    }

    @Test func fileLevelProblems() {
        #expect(issues(workflow: "{ not json").first?.path == "")
        #expect(issues(workflow: "[1, 2]").map(\.description) == ["workflows/test.json: expected a workflow object, got an array"])
        #expect(issues(workflow: #"{"name": "w"}"#).map(\.description) == ["workflows/test.json: steps: missing; expected a non-empty array of steps"])
        #expect(issues(workflow: #"{"name": "w", "steps": []}"#).first?.path == "steps")
    }

    @Test func aValidWorkflowResolvesItsShape() throws {
        let w = try h.workflow("""
            {"name": "ok", "parameters": {"soak": "2s"}, "steps": [
              {"id": "scale", "type": "sim.set", "with": {"key": "capacity", "value": "${runbook.dr.capacity}"},
               "retry": {"attempts": 5, "backoff": "2s", "multiplier": 3, "maxBackoff": "1m", "jitter": 0, "nonRetryable": ["quota"]}, "timeout": "90s"},
              {"id": "soak", "type": "wait", "with": {"duration": "${parameters.soak}"}},
              {"id": "writes", "type": "sim.pivot", "with": {"key": "writes", "value": "${steps.scale.output.previous}"}}
            ]}
            """)
        #expect(w.steps.map(\.id) == ["scale", "soak", "writes"])
        #expect(w.steps[0].retry == RetryPolicy(attempts: 5, initialBackoffMillis: 2_000, multiplier: 3, maxBackoffMillis: 60_000, jitter: 0, nonRetryable: ["quota"]))
        #expect(w.steps[0].timeout == .seconds(90))
        #expect(w.steps.map(\.pivot) == [false, false, true])
        #expect(w.steps[1].retry == .default)
    }

    func runbookIssues(_ json: String) -> [String] {
        do {
            _ = try Runbook.load(file: "runbooks/r.json", data: Data(json.utf8), providers: h.registry.providers)
            return []
        } catch let failure as ValidationFailure {
            return failure.issues.map(\.description)
        } catch {
            return ["unexpected \(error)"]
        }
    }

    @Test func badRunbooks() {
        #expect(runbookIssues(#"{"service": "svc", "primary": {}}"#) == ["runbooks/r.json: dr: missing; expected an object describing the DR targets"])
        let many = runbookIssues("""
            {"service": "my service", "primary": [], "dr": {}, "approvers": "alice",
             "thresholds": {"rto": "fast", "errorRate": 3, "rpp": "1s"}, "drill": {"service": "x", "thresholds": {"p95": 7}}}
            """)
        #expect(many.contains("runbooks/r.json: service: expected a service name of letters, digits, \"-\" or \"_\", got \"my service\""))
        #expect(many.contains("runbooks/r.json: primary: expected an object, got an array"))
        #expect(many.contains { $0.hasPrefix("runbooks/r.json: approvers: expected an array of names") })
        #expect(many.contains { $0.hasPrefix("runbooks/r.json: thresholds.rto: ") })
        #expect(many.contains("runbooks/r.json: thresholds.errorRate: expected a fraction from 0 to 1, got 3.0"))
        #expect(many.contains { $0.hasPrefix("runbooks/r.json: thresholds.rpp: unknown field; did you mean \"rpo\"?") })
        #expect(many.contains { $0.hasPrefix("runbooks/r.json: drill.service: unknown field") })
        #expect(many.contains { $0.hasPrefix("runbooks/r.json: drill.thresholds.p95: ") })
        #expect(many.count == 8, "\(many)")
    }

    @Test func drillOverridesMergeOnlyForDrills() throws {
        let json = """
            {"service": "svc", "primary": {"endpoint": "http://p"}, "dr": {"endpoint": "http://dr", "capacity": 8},
             "thresholds": {"rto": "15m", "rpo": "30s"},
             "drill": {"dr": {"capacity": 1}, "thresholds": {"rto": "5m"}}}
            """
        let live = try Runbook.load(file: "r", data: Data(json.utf8), mode: .live, providers: h.registry.providers)
        let drill = try Runbook.load(file: "r", data: Data(json.utf8), mode: .drill, providers: h.registry.providers)
        #expect(live.source["dr"]?["capacity"] == .int(8))
        #expect(drill.source["dr"]?["capacity"] == .int(1))
        #expect(drill.source["dr"]?["endpoint"] == .string("http://dr"))
        #expect(drill.thresholds["rto"] == .string("5m"))
        #expect(drill.thresholds["rpo"] == .string("30s"))
        #expect(live.source["drill"] == nil)
    }
}
