import Foundation

/// One problem in a workflow or runbook file: where it is and what was expected.
public struct ValidationIssue: Sendable, Equatable, CustomStringConvertible {
    public var file: String
    /// A JSON path like `steps[3].with.ttl`, or "" for the whole file.
    public var path: String
    public var message: String

    public init(file: String, path: String, message: String) {
        self.file = file
        self.path = path
        self.message = message
    }

    /// `workflows/failover.json: steps[3].with.ttl: expected a positive integer, got "sixty"`.
    public var description: String {
        path.isEmpty ? "\(file): \(message)" : "\(file): \(path): \(message)"
    }
}

/// Every problem found in one or more files; nothing was written.
public struct ValidationFailure: Error, Sendable, CustomStringConvertible {
    public var issues: [ValidationIssue]
    public init(_ issues: [ValidationIssue]) { self.issues = issues }
    public var description: String { issues.map(\.description).joined(separator: "\n") }
}

/// Collects issues for one file as validation walks it.
struct IssueCollector {
    let file: String
    var issues: [ValidationIssue] = []

    mutating func add(_ path: String, _ message: String) {
        issues.append(ValidationIssue(file: file, path: path, message: message))
    }

    /// The file's top-level object.
    /// - Throws: `ValidationFailure` when the file is not JSON or not an object; nothing
    ///   else can be checked then.
    func parseObject(_ data: Data, expecting what: String) throws -> [String: JSONValue] {
        let root: JSONValue
        do {
            root = try JSONValue.parse(data)
        } catch {
            throw ValidationFailure([ValidationIssue(file: file, path: "", message: "\(error)")])
        }
        guard let object = root.objectValue else {
            throw ValidationFailure([ValidationIssue(file: file, path: "", message: "expected \(what), got \(root.typeDescription)")])
        }
        return object
    }

    /// Reports members of `object` outside `known`, each with a did-you-mean.
    mutating func rejectUnknown(_ object: [String: JSONValue], known: [String], at path: String) {
        for key in object.keys.sorted() where !known.contains(key) {
            add(join(path, key), "unknown field\(Suggestion.hint(for: key, in: known)); expected one of \(known.joined(separator: ", "))")
        }
    }
}

func join(_ path: String, _ key: String) -> String { path.isEmpty ? key : "\(path).\(key)" }
