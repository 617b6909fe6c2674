import CutoverCore
import Foundation

/// Resolves secret references at execution time and remembers the values it handed out, so
/// that any error message can be scrubbed of them before it reaches the log.
public final class SecretVault: @unchecked Sendable {
    // @unchecked: `revealed` is only touched under `lock`.
    private let lock = NSLock()
    private var revealed: Set<String> = []
    /// What reading each secret-manager reference for the step about to run gave.
    private var fetched: [String: Result<String, Error>] = [:]
    private let environment: [String: String]
    private let sources: [String: any SecretSource]

    public init(environment: [String: String] = ProcessInfo.processInfo.environment, sources: [any SecretSource] = []) {
        self.environment = environment
        self.sources = Dictionary(sources.map { ($0.scheme, $0) }) { a, _ in a }
    }

    /// Reads every secret-manager reference among `parameters`' strings, now: a step's, right
    /// before it runs, so a value is as current as the step and no process holds it before.
    /// What was read for an earlier step is forgotten (but still redacted); a reference that
    /// could not be read throws its error again when the step asks for it.
    /// - Throws: the first reference's error, naming it (`StepError` from the source;
    ///   `secret-missing` when no source reads its scheme in this process).
    public func fetch(referencesIn parameters: JSONValue) async throws {
        var references: Set<String> = []
        Self.collect(parameters, into: &references)
        var results: [String: Result<String, Error>] = [:]
        for reference in references.sorted() {
            guard let scheme = SecretReference.remoteScheme(of: reference) else { continue }
            guard let source = sources[scheme] else {
                results[reference] = .failure(StepError(code: "secret-missing", message: "secret \(reference): this cutover reads no \(scheme) secrets", retryable: false))
                continue
            }
            do {
                results[reference] = .success(try await source.read(String(reference.dropFirst(scheme.count + 1))))
            } catch {
                results[reference] = .failure(error)
            }
        }
        lock.withLock {
            fetched = results
            for case .success(let value) in results.values { revealed.insert(value) }
        }
        for reference in results.keys.sorted() {
            if case .failure(let error) = results[reference] { throw error }
        }
    }

    private static func collect(_ value: JSONValue, into references: inout Set<String>) {
        switch value {
        case .string(let s) where SecretReference.remoteScheme(of: s) != nil:
            references.insert(s)
        case .array(let items): for item in items { collect(item, into: &references) }
        case .object(let members): for (_, item) in members { collect(item, into: &references) }
        default: break
        }
    }

    /// - Throws: `StepError` naming the reference, never a value.
    public func resolve(_ reference: String) throws -> String {
        let value: String
        if reference.hasPrefix("env:") {
            let name = String(reference.dropFirst(4))
            guard let v = environment[name], !v.isEmpty else {
                throw StepError(code: "secret-missing", message: "secret \(reference) is not set; export \(name) in the environment of the process driving the run", retryable: false)
            }
            value = v
        } else if reference.hasPrefix("file:") {
            let path = String(reference.dropFirst(5))
            guard let data = FileManager.default.contents(atPath: path), let text = String(data: data, encoding: .utf8) else {
                throw StepError(code: "secret-missing", message: "secret \(reference) cannot be read; check that the file exists and is readable by this user", retryable: false)
            }
            value = text.trimmingCharacters(in: .whitespacesAndNewlines)
        } else if let scheme = SecretReference.remoteScheme(of: reference) {
            lock.lock()
            let known = fetched[reference]
            lock.unlock()
            if case .failure(let error) = known { throw error }
            guard case .success(let value) = known else {
                throw StepError(
                    code: "secret-missing",
                    message: "secret \(reference) was not read before the step ran: a \(scheme) reference is read only from a step's own parameters (a runbook target or `with`)",
                    retryable: false)
            }
            return value
        } else {
            throw StepError(code: "bad-parameters", message: "expected a secret reference like env:NAME, file:/path, aws-sm:NAME or gcp-sm:projects/P/secrets/S/versions/V", retryable: false)
        }
        lock.lock()
        revealed.insert(value)
        lock.unlock()
        return value
    }

    /// `text` with every secret value handed out so far replaced by `[redacted]`.
    public func redact(_ text: String) -> String {
        lock.lock()
        let values = revealed
        lock.unlock()
        var out = text
        for v in values where v.count >= 4 { out = out.replacingOccurrences(of: v, with: "[redacted]") }
        return out
    }
}
