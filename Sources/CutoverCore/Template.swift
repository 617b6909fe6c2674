import Foundation

/// `${...}` references inside workflow values: `${runbook.dr.endpoint}`,
/// `${steps.scale.output.previous}`, `${parameters.window}`, `${run.id}`.
///
/// A value that is exactly one reference takes the referenced JSON value with its type;
/// references inside longer text are replaced by their text.
public enum Template {
    public struct Reference: Sendable, Equatable {
        public var root: String
        public var path: [String]
        public var text: String
    }

    /// What references resolve against.
    public struct Scope: Sendable {
        public var runbook: JSONValue
        public var parameters: [String: JSONValue]
        public var outputs: [String: JSONValue]
        public var run: [String: JSONValue]
        /// `${before...}` and `${output...}`: a step's own recorded before-state and output,
        /// known only when it observes or compensates. Nil leaves such references as written.
        public var before: JSONValue?
        public var output: JSONValue?

        public init(
            runbook: JSONValue, parameters: [String: JSONValue] = [:], outputs: [String: JSONValue] = [:],
            run: [String: JSONValue] = [:], before: JSONValue? = nil, output: JSONValue? = nil
        ) {
            self.runbook = runbook
            self.parameters = parameters
            self.outputs = outputs
            self.run = run
            self.before = before
            self.output = output
        }
    }

    public static let roots = ["runbook", "steps", "parameters", "run", "before", "output"]
    /// Roots a step resolves itself, later (`exec`'s and `http.request`'s before, observe and
    /// compensate): when a run resolves a step's parameters they stay as written.
    public static let deferredRoots: Set<String> = ["before", "output"]

    /// The references in a string, or a message about the first malformed one.
    public static func references(in text: String) -> Result<[Reference], TemplateError> {
        scan(text, literal: { _ in }).map { $0 }
    }

    /// Walks `text` once, left to right: each stretch of literal text goes to `literal`, each
    /// reference is returned in order. Linear in the length of `text`, however many
    /// references it holds.
    static func scan(_ text: String, literal: (Substring) -> Void) -> Result<[Reference], TemplateError> {
        var refs: [Reference] = []
        // Byte by byte over UTF-8 (`${` and `}` are ASCII, so never inside a multi-byte
        // character); Foundation's `range(of:)` on a substring copies the rest each time.
        let utf8 = text.utf8
        var start = utf8.startIndex  // where the current literal stretch begins
        var i = utf8.startIndex
        while i != utf8.endIndex {
            let next = utf8.index(after: i)
            guard utf8[i] == UInt8(ascii: "$"), next != utf8.endIndex, utf8[next] == UInt8(ascii: "{") else {
                i = next
                continue
            }
            literal(text[start..<i])
            let innerStart = utf8.index(after: next)
            guard let close = utf8[innerStart...].firstIndex(of: UInt8(ascii: "}")) else {
                return .failure(TemplateError("unclosed \"${\" in \"\(text.prefix(200))\""))
            }
            let inner = String(text[innerStart..<close])
            let parts = inner.split(separator: ".", omittingEmptySubsequences: false).map(String.init)
            guard let root = parts.first, roots.contains(root), parts.count >= 2 || deferredRoots.contains(root), !parts.contains("") else {
                let hint = parts.first.map { Suggestion.hint(for: $0, in: roots) } ?? ""
                return .failure(TemplateError(
                    "bad reference \"${\(inner)}\": expected ${runbook.<path>}, ${steps.<id>.output.<path>}, ${parameters.<name>} or ${run.<field>}\(hint)"))
            }
            if root == "steps", parts.count < 3 || parts[2] != "output" {
                return .failure(TemplateError("bad reference \"${\(inner)}\": expected ${steps.<id>.output} or ${steps.<id>.output.<path>}"))
            }
            refs.append(Reference(root: root, path: Array(parts.dropFirst()), text: "${\(inner)}"))
            i = utf8.index(after: close)
            start = i
        }
        literal(text[start...])
        return .success(refs)
    }

    /// Whether `text` holds `${` at all, without Foundation's search.
    static func mayRefer(_ text: String) -> Bool { text.includes("${") }

    /// Whether any string in `value` refers to an earlier step's output (`${steps...}`), so
    /// that a run gathers the outputs only for a step that reads them.
    public static func refersToSteps(_ value: JSONValue) -> Bool {
        switch value {
        case .string(let text):
            guard mayRefer(text) else { return false }
            // A malformed reference was refused when the workflow loaded; counted as one here.
            return (try? scan(text, literal: { _ in }).get())?.contains { $0.root == "steps" } ?? true
        case .array(let items): return items.contains(where: refersToSteps)
        case .object(let members): return members.values.contains(where: refersToSteps)
        default: return false
        }
    }

    /// Resolves every reference in `value`.
    /// - Throws: `TemplateError` naming the reference that points nowhere.
    public static func resolve(_ value: JSONValue, in scope: Scope) throws -> JSONValue {
        switch value {
        case .string(let text):
            guard mayRefer(text) else { return value }
            // The literal stretches, in order; the references fill the gaps between them. A
            // resolved value is never scanned again, so text in it that looks like a
            // reference stays text.
            var literals: [Substring] = []
            let refs = try scan(text, literal: { literals.append($0) }).get()
            if refs.count == 1, refs[0].text == text { return isLeft(refs[0], scope) ? value : try lookup(refs[0], in: scope) }
            var out = ""
            out.reserveCapacity(text.utf8.count)
            for (i, ref) in refs.enumerated() {
                out += literals[i]
                if isLeft(ref, scope) {
                    out += ref.text
                    continue
                }
                switch try lookup(ref, in: scope) {
                case .string(let s): out += s
                case let other: out += other.canonicalString
                }
            }
            out += literals[refs.count]
            return .string(out)
        case .array(let items): return .array(try items.map { try resolve($0, in: scope) })
        case .object(let members): return .object(try members.mapValues { try resolve($0, in: scope) })
        default: return value
        }
    }

    /// A deferred reference the scope cannot resolve yet: left as written.
    private static func isLeft(_ ref: Reference, _ scope: Scope) -> Bool {
        switch ref.root {
        case "before": scope.before == nil
        case "output": scope.output == nil
        default: false
        }
    }

    /// Looks one reference up.
    /// - Throws: `TemplateError` when the path does not exist.
    public static func lookup(_ ref: Reference, in scope: Scope) throws -> JSONValue {
        var current: JSONValue
        var path = ref.path
        switch ref.root {
        case "runbook": current = scope.runbook
        case "parameters":
            guard let v = scope.parameters[path.removeFirst()] else {
                throw TemplateError("\(ref.text): no such workflow parameter")
            }
            current = v
        case "run": current = .object(scope.run)
        case "before", "output":
            guard let known = ref.root == "before" ? scope.before : scope.output else {
                throw TemplateError("\(ref.text): the step has no recorded \(ref.root) yet")
            }
            current = known
        default:
            let step = path.removeFirst()
            path.removeFirst()  // "output"
            guard let output = scope.outputs[step] else {
                throw TemplateError("\(ref.text): step \"\(step)\" has no recorded output yet")
            }
            current = output
        }
        for key in path {
            if let next = current[key] {
                current = next
            } else if let index = Int(key), let items = current.arrayValue, items.indices.contains(index) {
                current = items[index]
            } else {
                let known = current.objectValue.map { Array($0.keys) } ?? []
                throw TemplateError("\(ref.text): \"\(key)\" not found\(Suggestion.hint(for: key, in: known))")
            }
        }
        return current
    }
}

public struct TemplateError: Error, Sendable, CustomStringConvertible {
    public var message: String
    init(_ message: String) { self.message = message }
    public var description: String { message }
}
