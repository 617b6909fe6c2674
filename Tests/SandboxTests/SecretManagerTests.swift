import CutoverAWS
import CutoverCore
import CutoverNet
import Foundation
import Testing
import TestSupport

/// Secrets where the workers run: the user databases' password kept in AWS Secrets Manager
/// (moto) and in Google Secret Manager (the Google fake), read by the steps that use it, as
/// the process's own cloud identity, when they run; nowhere in its environment, and nowhere in
/// what it writes.
extension SandboxTests {
    /// Creates a secret in moto's Secrets Manager (a signed CreateSecret) under a name of its own.
    func awsSecret(_ value: String) async throws -> String {
        let name = "recsys/userdb-" + UUID().uuidString.prefix(8).lowercased()
        let env = sandbox.environment
        let client = AWSClient(
            endpoint: try #require(env["SANDBOX_AWS_ENDPOINT"]),
            signer: AWSSigner(
                credentials: AWSCredentials(accessKey: try #require(env["AWS_ACCESS_KEY_ID"]), secretKey: try #require(env["AWS_SECRET_ACCESS_KEY"])),
                region: "us-east-1", service: "secretsmanager"),
            http: HTTPClient())
        _ = try await client.rest(
            method: "POST", path: "/", headers: [("Content-Type", "application/x-amz-json-1.1"), ("X-Amz-Target", "secretsmanager.CreateSecret")],
            body: Array(JSONValue.object(["Name": .string(name), "SecretString": .string(value)]).canonicalString.utf8), what: "CreateSecret")
        return name
    }

    /// Puts a version of `secret` into the Google fake's Secret Manager; its version's name.
    func googleSecret(_ secret: String, _ value: String) throws -> String {
        let body = JSONValue.object(["putSecret": .object(["secret": .string(secret), "data": .string(Data(value.utf8).base64EncodedString())])]).canonicalString
        let r = try sandbox.run(["curl", "-sf", "-X", "POST", "--data", body, "\(Self.gce)/_gce/control"])
        let answer = try JSONValue.parse(Data(r.output.utf8))
        return try #require(answer["version"]?.stringValue, "\(r.output)")
    }

    func secretCalls() throws -> Int {
        let r = try sandbox.run(["curl", "-sf", "\(Self.gce)/_gce/state"])
        return (try JSONValue.parse(Data(r.output.utf8)))["calls"]?["secretmanager.projects.secrets.versions.access"]?.intValue.map(Int.init) ?? 0
    }

    @Test func aDrillReadsTheDatabasePasswordFromBothSecretManagersAndWritesItNowhere() async throws {
        let password = try #require(sandbox.environment["PG_CUTOVER_PASSWORD"])
        let awsName = try await awsSecret(#"{"user": "cutover", "password": "\#(password)"}"#)
        _ = try googleSecret("userdb-password", "not this one")
        _ = try googleSecret("userdb-password", password + "\n")
        let path = dir.write("secret-managers.json", try runbookText { rb in
            rb["primary.userdb.password"] = "aws-sm:\(awsName)#password"
            rb["dr.userdb.password"] = "gcp-sm:projects/recsys-dr/secrets/userdb-password/versions/latest"
        })
        // The password is in no environment of the process: only the managers hold it.
        let without = ["PG_CUTOVER_PASSWORD": ""]
        let before = try secretCalls()
        let start = try sandbox.cutover(["start", "failover", "--runbook", path, "--drill", "--detach", "--no-preflight"], db: db, environment: without)
        #expect(start.status == 75, "\(start.stdout)\(start.stderr)")
        let run = start.lines.first ?? ""
        #expect(try sandbox.approve(run, db: db).status == 0)
        let resumed = try sandbox.cutover(["resume", run], db: db, environment: without)
        #expect(resumed.status == 0, "\(resumed.stdout)\(resumed.stderr)")
        #expect(try status(run)["state"] as? String == "rolled-back", "the drill went over and back")
        #expect(try secretCalls() > before, "Google Secret Manager was read")
        // Not in the log, its WAL, or anything printed.
        let bytes = try [db, db + "-wal"].filter { FileManager.default.fileExists(atPath: $0) }.map { try Data(contentsOf: URL(fileURLWithPath: $0)) }
        #expect(!bytes.contains { $0.range(of: Data(password.utf8)) != nil }, "the password reached the database")
        for output in [start.stdout, start.stderr, resumed.stdout, resumed.stderr] { #expect(!output.contains(password)) }
        #expect(try chainIntact())
    }

    @Test func aSecretTheManagersDoNotHaveIsNamedBeforeAnythingStarts() throws {
        let path = dir.write("missing-secrets.json", try runbookText { rb in
            rb["primary.userdb.password"] = "aws-sm:recsys/nobody-made-this"
            rb["dr.userdb.password"] = "gcp-sm:projects/recsys-dr/secrets/nobody-made-this/versions/3"
        })
        let r = try sandbox.cutover(["preflight", "failover", "--runbook", path, "--drill"], db: db)
        #expect(r.status == 1)
        let failed = (r.stdout + r.stderr).split(separator: "\n").filter { $0.hasPrefix("  FAIL") }
        #expect(failed.contains { $0.contains("aws-sm:recsys/nobody-made-this") && $0.contains("no such secret") }, "\(failed)")
        #expect(failed.contains { $0.contains("gcp-sm:projects/recsys-dr/secrets/nobody-made-this/versions/3") && $0.contains("no such secret") }, "\(failed)")
        #expect(!FileManager.default.fileExists(atPath: db), "preflight writes nothing")
    }

    /// The sandbox runbook with fields changed by dotted path.
    func runbookText(_ change: (inout [String: String]) -> Void) throws -> String {
        var changes: [String: String] = [:]
        change(&changes)
        var runbook = try JSONValue.parse(Data(contentsOf: URL(fileURLWithPath: sandbox.runbook)))
        for (path, value) in changes { runbook = Self.setting(runbook, path.split(separator: ".").map(String.init), to: .string(value)) }
        return runbook.canonicalString
    }

    static func setting(_ value: JSONValue, _ path: [String], to new: JSONValue) -> JSONValue {
        guard let key = path.first, var members = value.objectValue else { return new }
        members[key] = setting(members[key] ?? .object([:]), Array(path.dropFirst()), to: new)
        return .object(members)
    }
}
