import Foundation
import Testing
import TestSupport

/// `cutover schema workflow|runbook`, checked by a JSON Schema validator that is not ours
/// (python's jsonschema, Draft 2020-12, from the sandbox's virtualenv): the schemas are valid
/// schemas, every shipped definition passes, and every bad file of the table is refused by the
/// schema and by `cutover validate` alike.
@Suite struct SchemaTests {
    struct Bad: CustomTestStringConvertible, Sendable {
        let name: String
        let kind: String
        let json: String
        var testDescription: String { name }
    }

    static let wf = #"{"id": "h", "type": "health.http", "with": {"url": "${runbook.dr.endpoint}/health"}}"#
    static let rb = #""service": "svc", "primary": {"endpoint": "http://127.0.0.1:1"}, "dr": {"endpoint": "http://127.0.0.1:2"}"#

    static let bad: [Bad] = [
        Bad(name: "a misspelt top-level field", kind: "workflow", json: #"{"name": "w", "stpes": [], "steps": [\#(wf)]}"#),
        Bad(name: "no name", kind: "workflow", json: #"{"steps": [\#(wf)]}"#),
        Bad(name: "a step without an id", kind: "workflow", json: #"{"name": "w", "steps": [{"type": "wait", "with": {"duration": "1s"}}]}"#),
        Bad(name: "an unknown step type", kind: "workflow", json: #"{"name": "w", "steps": [{"id": "h", "type": "helth.http", "with": {}}]}"#),
        Bad(name: "an unknown parameter", kind: "workflow", json: #"{"name": "w", "steps": [{"id": "h", "type": "health.http", "with": {"url": "http://x/health", "reqs": 3}}]}"#),
        Bad(name: "a number no run could use", kind: "workflow", json: #"{"name": "w", "steps": [{"id": "h", "type": "health.http", "with": {"url": "http://x/health", "requests": 1000000000000}}]}"#),
        Bad(name: "a duration that is not one", kind: "workflow", json: #"{"name": "w", "steps": [{"id": "s", "type": "wait", "with": {"duration": "fast"}}]}"#),
        Bad(name: "a pivot that is not a boolean", kind: "workflow", json: #"{"name": "w", "steps": [{"id": "s", "type": "wait", "with": {"duration": "1s"}, "pivot": "yes"}]}"#),
        Bad(name: "no attempts", kind: "workflow", json: #"{"name": "w", "steps": [{"id": "s", "type": "wait", "with": {"duration": "1s"}, "retry": {"attempts": 0}}]}"#),
        Bad(name: "a step without the parameters its type requires", kind: "workflow", json: #"{"name": "w", "steps": [{"id": "s", "type": "wait"}]}"#),
        Bad(name: "a reference inside the text of a number", kind: "workflow",
            json: #"{"name": "w", "steps": [{"id": "h", "type": "health.http", "with": {"url": "http://x/health", "requests": "1${parameters.n}"}}], "parameters": {"n": 3}}"#),
        Bad(name: "an inline target with an unknown field", kind: "workflow",
            json: #"{"name": "w", "steps": [{"id": "r", "type": "replication.check", "with": {"primary": {"provider": "redis", "url": "${runbook.primary.redis.url}", "passwd": "x"}, "replica": "${runbook.dr.redis}"}}]}"#),
        Bad(name: "a target of a provider that is not a DNS zone", kind: "workflow",
            json: #"{"name": "w", "steps": [{"id": "d", "type": "dns.switch", "with": {"zone": {"provider": "redis", "url": "redis://127.0.0.1:1"}, "name": "a.example.", "records": ["10.0.0.1"]}}]}"#),
        Bad(name: "a misspelt runbook field", kind: "runbook", json: #"{\#(rb), "thresholdz": {}}"#),
        Bad(name: "no DR side", kind: "runbook", json: #"{"service": "svc", "primary": {"endpoint": "http://127.0.0.1:1"}}"#),
        Bad(name: "a side that is not an object", kind: "runbook", json: #"{"service": "svc", "primary": [], "dr": {"endpoint": "http://127.0.0.1:2"}}"#),
        Bad(name: "an unknown provider", kind: "runbook", json: #"{\#(rb), "dns": {"zone": {"provider": "route66", "zone": "example."}}}"#),
        Bad(name: "a target without a required field", kind: "runbook",
            json: #"{"service": "svc", "primary": {"endpoint": "http://127.0.0.1:1"}, "dr": {"endpoint": "http://127.0.0.1:2", "cache": {"provider": "redis"}}}"#),
        Bad(name: "an unknown field of a target", kind: "runbook",
            json: #"{"service": "svc", "primary": {"endpoint": "http://127.0.0.1:1"}, "dr": {"cache": {"provider": "redis", "url": "redis://127.0.0.1:1", "passwd": "x"}}}"#),
        Bad(name: "an approver that is not a name", kind: "runbook", json: #"{\#(rb), "approvers": ["alice", 7]}"#),
        Bad(name: "a misspelt field in the drill overrides", kind: "runbook", json: #"{\#(rb), "drill": {"thresholdz": {"p95": "1s"}}}"#),
        Bad(name: "a drill threshold that is not a duration", kind: "runbook", json: #"{\#(rb), "drill": {"thresholds": {"p95": "slow"}}}"#),
        Bad(name: "an error rate that is not a fraction", kind: "runbook", json: #"{\#(rb), "thresholds": {"errorRate": 3}}"#),
        Bad(name: "a drill that renames the service", kind: "runbook", json: #"{\#(rb), "drill": {"service": "other"}}"#),
        Bad(name: "a parallel group inside a parallel group", kind: "workflow",
            json: #"{"name": "w", "steps": [{"id": "g", "parallel": [{"id": "h", "parallel": [{"id": "w1", "type": "wait", "with": {"duration": "1s"}}]}]}]}"#),
        Bad(name: "an empty parallel group", kind: "workflow", json: #"{"name": "w", "steps": [{"id": "g", "parallel": []}]}"#),
        Bad(name: "a parallel group limited to none at a time", kind: "workflow",
            json: #"{"name": "w", "steps": [{"id": "g", "maxConcurrency": 0, "parallel": [{"id": "w1", "type": "wait", "with": {"duration": "1s"}}]}]}"#),
    ]

    /// Files both the schema and `cutover validate` (with the sandbox runbook) accept: whole
    /// references standing for numbers and targets, references inside a target's fields.
    static let good: [Bad] = [
        Bad(name: "a parallel group of two, one at a time", kind: "workflow",
            json: #"{"name": "w", "steps": [{"id": "g", "maxConcurrency": 1, "parallel": [{"id": "w1", "type": "wait", "with": {"duration": "1s"}}, {"id": "w2", "type": "wait", "with": {"duration": "1s"}}]}]}"#),
        Bad(name: "a whole reference for a number", kind: "workflow",
            json: #"{"name": "w", "parameters": {"n": 3}, "steps": [{"id": "h", "type": "health.http", "with": {"url": "${runbook.dr.endpoint}/health", "requests": "${parameters.n}"}}]}"#),
        Bad(name: "an inline target whose fields are references", kind: "workflow",
            json: #"{"name": "w", "steps": [{"id": "r", "type": "replication.check", "with": {"primary": {"provider": "redis", "url": "${runbook.primary.redis.url}"}, "replica": "${runbook.dr.redis}", "rpo": "${runbook.thresholds.rpo}"}}]}"#),
        Bad(name: "a drill override completing a target", kind: "runbook",
            json: #"{\#(rb), "approvers": ["alice", "bob@example.com"], "drill": {"dr": {"cache": {"provider": "redis", "url": "redis://127.0.0.1:3"}}, "thresholds": {"p95": "1s"}, "approvers": ["carol"]}}"#),
    ]

    static var python: String { repositoryRoot.appendingPathComponent(".sandbox/venv/bin/python").path }

    /// Validates `files` against the schema `cutover schema KIND` prints: one line per file,
    /// `OK` or `INVALID: ...`.
    static func check(_ kind: String, _ files: [String]) throws -> [String] {
        let schema = try CutoverBinary.run(["schema", kind], in: repositoryRoot)
        #expect(schema.status == 0)
        let dir = TemporaryDirectory()
        let path = dir.write("\(kind).schema.json", schema.stdout)
        let script = """
            import json, sys, jsonschema
            schema = json.load(open(sys.argv[1]))
            jsonschema.Draft202012Validator.check_schema(schema)
            v = jsonschema.Draft202012Validator(schema)
            for f in sys.argv[2:]:
                errors = list(v.iter_errors(json.load(open(f))))
                print("OK" if not errors else "INVALID: " + errors[0].message[:200])
            """
        let r = try Sandbox.script([python, "-c", script, path] + files)
        #expect(r.status == 0, "\(r.output)")
        return r.output.split(separator: "\n").map(String.init).filter { $0.hasPrefix("OK") || $0.hasPrefix("INVALID") }
    }

    @Test func theShippedDefinitionsPassTheirSchemas() throws {
        try #require(FileManager.default.isExecutableFile(atPath: Self.python), "no \(Self.python): scripts/sandbox up installs it (scripts/test runs it)")
        for (kind, folder) in [("workflow", "workflows"), ("runbook", "runbooks")] {
            let files = try FileManager.default.contentsOfDirectory(atPath: repositoryRoot.appendingPathComponent(folder).path)
                .filter { $0.hasSuffix(".json") }.sorted().map { repositoryRoot.appendingPathComponent("\(folder)/\($0)").path }
            #expect(files.count >= 3)
            let results = try Self.check(kind, files)
            #expect(results.count == files.count && results.allSatisfy { $0 == "OK" }, "\(zip(files, results).filter { $0.1 != "OK" })")
        }
    }

    /// Each file of `table` through the schema and through `cutover validate` (a workflow with
    /// the sandbox runbook when `withRunbook`): both accept it when `valid`, both refuse it when not.
    static func judge(_ table: [Bad], valid: Bool, withRunbook: Bool) throws {
        try #require(FileManager.default.isExecutableFile(atPath: python), "no \(python): scripts/sandbox up installs it (scripts/test runs it)")
        let dir = TemporaryDirectory()
        for kind in ["workflow", "runbook"] {
            let cases = table.filter { $0.kind == kind }
            let files = cases.enumerated().map { i, c in dir.write("\(kind)s/file\(i).json", c.json) }
            let results = try check(kind, files)
            #expect(results.count == cases.count)
            for (c, result) in zip(cases, results) {
                #expect(result.hasPrefix(valid ? "OK" : "INVALID"), "the \(kind) schema \(valid ? "refuses" : "accepts") \(c.name): \(result)")
            }
            for (c, file) in zip(cases, files) {
                let pair = kind == "workflow" && withRunbook ? [file, repositoryRoot.appendingPathComponent("runbooks/sandbox.json").path] : [file]
                let v = try CutoverBinary.run(["validate"] + pair, in: dir.url)
                #expect(v.status == (valid ? 0 : 64), "validate \(valid ? "refuses" : "accepts") \(c.name): \(v.stdout)\(v.stderr)")
            }
        }
    }

    @Test func filesWithReferencesPassTheSchemaAndValidate() throws {
        try Self.judge(Self.good, valid: true, withRunbook: true)
    }

    @Test func everyBadFileIsRefusedByTheSchemaAndByValidate() throws {
        try Self.judge(Self.bad, valid: false, withRunbook: false)
    }
}
