import CutoverCore
import Foundation

/// Resolves secret references at execution time and remembers the values it handed out, so
/// that any error message can be scrubbed of them before it reaches the log.
public final class SecretVault: @unchecked Sendable {
    // @unchecked: `revealed` is only touched under `lock`.
    private let lock = NSLock()
    private var revealed: Set<String> = []
    private let environment: [String: String]

    public init(environment: [String: String] = ProcessInfo.processInfo.environment) {
        self.environment = environment
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
        } else {
            throw StepError(code: "bad-parameters", message: "expected a secret reference like env:NAME or file:/path", retryable: false)
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
