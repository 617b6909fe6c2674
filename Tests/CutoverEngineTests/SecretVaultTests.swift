import CutoverCore
@testable import CutoverEngine
import Foundation
import Testing

/// Secret-manager references: read right before a step runs from its own parameters, and
/// only those; redacted afterwards wherever a message could carry them.
@Suite struct SecretVaultTests {
    /// A secret manager in memory that counts what it was asked.
    final class Manager: SecretSource, @unchecked Sendable {
        let scheme: String
        private let lock = NSLock()
        private var values: [String: String]
        private(set) var reads: [String] = []
        init(_ scheme: String, _ values: [String: String]) {
            self.scheme = scheme
            self.values = values
        }
        func read(_ name: String) async throws -> String {
            let value = lock.withLock { reads.append(name); return values[name] }
            guard let value else { throw StepError(code: "secret-missing", message: "secret \(scheme):\(name): no such secret", retryable: false) }
            return value
        }
        func rotate(_ name: String, to value: String) { lock.withLock { values[name] = value } }
    }

    @Test func referencesAreCheckedByTheirForm() {
        for good in ["aws-sm:prod/db", "aws-sm:prod/db#password", "aws-sm:arn:aws:secretsmanager:eu-west-1:123456789012:secret:prod/db-AbCdEf",
                     "gcp-sm:projects/recsys-dr/secrets/db/versions/latest", "gcp-sm:projects/418023557216/secrets/db_pw/versions/12"] {
            #expect(SecretReference.isReference(good), "\(good)")
        }
        for bad in ["aws-sm:", "aws-sm:prod db", "aws-sm:prod/db#", "aws-sm:ürün", "gcp-sm:projects/p/secrets/s", "gcp-sm:projects/p/secrets/s/versions/0",
                    "gcp-sm:projects/p/secrets/s/versions/x", "gcp-sm:projects//secrets/s/versions/1", "gcp-sm:projects/p/secrets/s/versions/1/extra",
                    "azure-kv:vault/secret"] {
            #expect(!SecretReference.isReference(bad), "\(bad)")
        }
    }

    @Test func aStepsReferencesAreReadBeforeItRunsAndOnlyThose() async throws {
        let aws = Manager("aws-sm", ["prod/db": "hunter2-primary", "other": "never-read"])
        let google = Manager("gcp-sm", ["projects/p/secrets/dr/versions/latest": "hunter2-dr"])
        let vault = SecretVault(environment: ["TOKEN": "env-value"], sources: [aws, google])
        let parameters = JSONValue.object([
            "primary": .object(["provider": .string("postgres"), "password": .string("aws-sm:prod/db")]),
            "replicas": .array([.object(["password": .string("gcp-sm:projects/p/secrets/dr/versions/latest")])]),
            "token": .string("env:TOKEN"), "note": .string("aws-sm: is how a message may start"),
        ])
        try await vault.fetch(referencesIn: parameters)
        #expect(aws.reads == ["prod/db"] && google.reads == ["projects/p/secrets/dr/versions/latest"])
        #expect(try vault.resolve("aws-sm:prod/db") == "hunter2-primary")
        #expect(try vault.resolve("gcp-sm:projects/p/secrets/dr/versions/latest") == "hunter2-dr")
        #expect(try vault.resolve("env:TOKEN") == "env-value")
        #expect(vault.redact("connect failed: password hunter2-primary, hunter2-dr") == "connect failed: password [redacted], [redacted]")

        // The next step reads its own, afresh (a rotated value is the current one); the first
        // step's is no longer at hand, but stays redacted.
        aws.rotate("prod/db", to: "rotated-value")
        try await vault.fetch(referencesIn: .object(["password": .string("aws-sm:prod/db")]))
        #expect(try vault.resolve("aws-sm:prod/db") == "rotated-value")
        let notRead = #expect(throws: StepError.self) { try vault.resolve("gcp-sm:projects/p/secrets/dr/versions/latest") }
        #expect(notRead?.code == "secret-missing" && notRead?.message.contains("was not read before the step ran") == true)
        #expect(vault.redact("hunter2-dr and rotated-value") == "[redacted] and [redacted]")
    }

    @Test func aSecretThatCannotBeReadFailsTheFetchAndIsNamedWhenAsked() async throws {
        let vault = SecretVault(environment: [:], sources: [Manager("aws-sm", ["ok": "fine-value"])])
        let parameters = JSONValue.object(["a": .string("aws-sm:missing"), "b": .string("aws-sm:ok"), "c": .string("gcp-sm:projects/p/secrets/s/versions/1")])
        let failed = await #expect(throws: StepError.self) { try await vault.fetch(referencesIn: parameters) }
        #expect(failed?.code == "secret-missing" && failed?.message.contains("aws-sm:missing") == true, "\(String(describing: failed))")
        #expect(try vault.resolve("aws-sm:ok") == "fine-value", "what could be read is at hand")
        let missing = #expect(throws: StepError.self) { try vault.resolve("aws-sm:missing") }
        #expect(missing?.message.contains("no such secret") == true)
        let unread = #expect(throws: StepError.self) { try vault.resolve("gcp-sm:projects/p/secrets/s/versions/1") }
        #expect(unread?.message.contains("reads no gcp-sm secrets") == true, "\(String(describing: unread))")
    }
}
