/// One field of a step type's `with`, as validation sees it.
public struct ParameterField: Sendable {
    public enum FieldType: Sendable, Equatable {
        case string
        case integer(min: Int64?, max: Int64? = nil)
        case number(min: Double? = nil, max: Double? = nil)
        case boolean
        /// `30s`, `5m`, `250ms`.
        case duration
        /// An `http://` or `https://` URL.
        case url
        /// A reference to a secret (`env:NAME`, `file:/path`, `aws-sm:`, `gcp-sm:`); a literal is refused so that
        /// the value never reaches the event log. With `literalAllowed`, either is accepted.
        case secret(literalAllowed: Bool)
        case stringList
        /// Names, or `{"name", "key"}` objects with an OpenSSH Ed25519 public key.
        case approverList
        /// Integers within bounds (exit codes, HTTP statuses).
        case integerList(min: Int64, max: Int64)
        case oneOf([String])
        /// Free-form JSON object.
        case object
        /// What a step runs besides its main action (`exec`'s and `http.request`'s before,
        /// observe and compensate): an object that may hold `${before...}` and `${output...}`.
        case action
        /// A target object (`{"provider": "route53", ...}`) whose provider offers the capability.
        case target(Capability)
    }

    public var name: String
    public var type: FieldType
    public var required: Bool
    public var summary: String
    /// What a missing optional field means, shown by `plan` and the reference.
    public var defaultValue: JSONValue?

    public init(_ name: String, _ type: FieldType, required: Bool = false, _ summary: String = "", default defaultValue: JSONValue? = nil) {
        self.name = name
        self.type = type
        self.required = required
        self.summary = summary
        self.defaultValue = defaultValue
    }

    /// Whether a value of this type is text, so references may sit inside longer text
    /// (`"${runbook.dr.endpoint}/health"`, replaced by their text). Any other type takes a
    /// reference only as the whole value, which then brings its own type.
    public var takesText: Bool {
        switch type {
        case .string, .duration, .url, .secret, .oneOf: true
        case .integer, .number, .boolean, .stringList, .approverList, .integerList, .object, .action, .target: false
        }
    }

    /// What the field expects, for error messages.
    public var expectation: String {
        switch type {
        case .string: "a string"
        case .integer(let min, let max):
            switch (min, max) {
            case (let lo?, let hi?): "an integer from \(lo) to \(hi)"
            case (let lo?, nil): lo > 0 ? "a positive integer" : "an integer of at least \(lo)"
            case (nil, let hi?): "an integer of at most \(hi)"
            case (nil, nil): "an integer"
            }
        case .number(let min, let max):
            switch (min, max) {
            case (let lo?, let hi?): "a number from \(lo.formatted()) to \(hi.formatted())"
            default: "a number"
            }
        case .boolean: "true or false"
        case .duration: "a duration like \"30s\", \"5m\" or \"250ms\""
        case .url: "an http:// or https:// URL"
        case .secret(let literal):
            literal ? "a URL or a secret reference like \"env:NAME\"" : "a secret reference like \"env:NAME\", \"file:/path\", \"aws-sm:NAME\" or \"gcp-sm:projects/P/secrets/S/versions/V\""
        case .stringList: "an array of strings"
        case .integerList(let lo, let hi): "an array of integers from \(lo) to \(hi)"
        case .approverList: "an array of names or {\"name\", \"key\": \"ssh-ed25519 …\"} objects"
        case .oneOf(let values): "one of " + values.map { "\"\($0)\"" }.joined(separator: ", ")
        case .object: "an object"
        case .action: "an object like {\"command\": [...]} (it may refer to ${before...} and ${output...})"
        case .target(let c): "\(c.noun): a target object like {\"provider\": ..., ...}, usually \"${runbook...}\""
        }
    }

    /// Nil when `value` fits the field; otherwise what was wrong.
    public func check(_ value: JSONValue) -> String? {
        let ok: Bool
        switch type {
        case .string: ok = value.stringValue != nil
        case .integer(let min, let max):
            if case .int(let i) = value { ok = (min.map { i >= $0 } ?? true) && (max.map { i <= $0 } ?? true) } else { ok = false }
        case .number(let min, let max):
            if let d = value.doubleValue { ok = d.isFinite && (min.map { d >= $0 } ?? true) && (max.map { d <= $0 } ?? true) } else { ok = false }
        case .boolean: ok = value.boolValue != nil
        case .duration: ok = value.stringValue.flatMap(DurationText.parse).map { $0 <= Self.longestDuration } ?? false
        case .url: ok = value.stringValue.map(Self.isURL) ?? false
        case .secret(let literal):
            guard let s = value.stringValue else { ok = false; break }
            if SecretReference.isReference(s) { ok = true } else { ok = literal && Self.isURL(s) }
        case .stringList: ok = value.arrayValue?.allSatisfy { $0.stringValue != nil } ?? false
        case .integerList(let lo, let hi): ok = value.arrayValue?.allSatisfy { $0.intValue.map { (lo...hi).contains($0) } ?? false } ?? false
        case .approverList:
            if let p = Approver.problem(value) { return p.path + (p.path.isEmpty ? "" : ": ") + p.problem }
            ok = true
        case .oneOf(let values): ok = value.stringValue.map(values.contains) ?? false
        case .object, .action: ok = value.objectValue != nil
        case .target: ok = value.objectValue?["provider"]?.stringValue != nil
        }
        if ok { return nil }
        // A literal where a secret reference belongs is likely the secret itself: never echo it.
        if case .secret = type, value.stringValue != nil { return "expected \(expectation), got a literal value (not shown: it may be the secret)" }
        // A URL may carry a password or a token: shown without them.
        if let text = value.stringValue, text.contains("://") { return "expected \(expectation), got \"\(URLText.redacted(text))\"" }
        return "expected \(expectation), got \(value.shortDescription)"
    }

    /// The longest duration any parameter takes: a year (a longer wait or window is a typo).
    public static let longestDuration = Duration.seconds(366 * 24 * 3_600)

    static func isURL(_ s: String) -> Bool {
        (s.hasPrefix("http://") || s.hasPrefix("https://")) && s.count > 8
    }
}

/// Secret references as they appear in parameters: `env:NAME`, `file:/absolute/path`, or a
/// secret manager's: `aws-sm:NAME` (AWS Secrets Manager, a name or an ARN, `#KEY` picking one
/// key of a JSON secret) and `gcp-sm:projects/P/secrets/S/versions/V` (Google Secret Manager).
public enum SecretReference {
    public static func isReference(_ s: String) -> Bool {
        if s.hasPrefix("env:") { return s.count > 4 && !s.contains(" ") }
        if s.hasPrefix("file:") { return s.dropFirst(5).hasPrefix("/") }
        if let name = remoteName(s, scheme: "aws-sm") { return isAWSName(name) }
        if let name = remoteName(s, scheme: "gcp-sm") { return isGoogleVersion(name) }
        return false
    }

    /// The schemes whose secrets live in a secret manager, read over the network when a step
    /// runs (`SecretSource`).
    public static let remoteSchemes = ["aws-sm", "gcp-sm"]

    /// The secret-manager scheme of a well-formed reference (`aws-sm`, `gcp-sm`); nil for
    /// `env:` and `file:` and anything else.
    public static func remoteScheme(of s: String) -> String? {
        guard isReference(s) else { return nil }
        return remoteSchemes.first { s.hasPrefix($0 + ":") }
    }

    /// The text after `scheme:` when `s` is of that scheme.
    public static func remoteName(_ s: String, scheme: String) -> String? {
        s.hasPrefix(scheme + ":") ? String(s.dropFirst(scheme.count + 1)) : nil
    }

    /// A Secrets Manager name or ARN (letters, digits and `/_+=.@-`, up to 2,048), with an
    /// optional `#KEY`.
    static func isAWSName(_ name: String) -> Bool {
        let parts = name.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false)
        guard let id = parts.first, !id.isEmpty, id.count <= 2_048, parts.count == 1 || !parts[1].isEmpty else { return false }
        return id.unicodeScalars.allSatisfy { isASCIIAlphanumeric($0) || "/_+=.@-:".unicodeScalars.contains($0) }
    }

    static func isASCIIAlphanumeric(_ c: Unicode.Scalar) -> Bool {
        ("a"..."z").contains(c) || ("A"..."Z").contains(c) || ("0"..."9").contains(c)
    }

    /// `projects/P/secrets/S/versions/V`: P a project id or number, S a secret id, V a version
    /// number or `latest`.
    static func isGoogleVersion(_ name: String) -> Bool {
        let parts = name.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 6, parts[0] == "projects", parts[2] == "secrets", parts[4] == "versions" else { return false }
        let plain: (Substring) -> Bool = { p in
            !p.isEmpty && p.count <= 255 && p.unicodeScalars.allSatisfy { isASCIIAlphanumeric($0) || "-_".unicodeScalars.contains($0) }
        }
        return plain(parts[1]) && plain(parts[3]) && (parts[5] == "latest" || (Int(parts[5]).map { $0 > 0 } ?? false))
    }
}

/// A secret manager a process reads one scheme of references from (`aws-sm`, `gcp-sm`): the
/// composition root hands them to the engine, which reads every such reference a step's
/// parameters hold right before the step runs, and nowhere else.
public protocol SecretSource: Sendable {
    /// The scheme it reads: the reference's text before the first colon.
    var scheme: String { get }
    /// The secret's value now.
    /// - Parameter name: the reference after `scheme:`.
    /// - Throws: `StepError` naming the reference (never a value): `secret-missing` when the
    ///   manager has no such secret or refuses this identity, retryable when it did not answer.
    func read(_ name: String) async throws -> String
}

/// URLs as messages show them.
public enum URLText {
    /// `url` without its user and password and without its query or fragment (where tokens live).
    public static func redacted(_ url: String) -> String {
        var s = Substring(url)
        if let q = s.firstIndex(where: { $0 == "?" || $0 == "#" }) { s = s[..<q] }
        if let scheme = s.range(of: "://") {
            let rest = s[scheme.upperBound...]
            let hostEnd = rest.firstIndex(of: "/") ?? rest.endIndex
            if let at = rest[..<hostEnd].lastIndex(of: "@") {
                return String(s[..<scheme.upperBound]) + String(rest[rest.index(after: at)...])
            }
        }
        return String(s)
    }

    /// Percent-encodes every byte outside `A-Z a-z 0-9 - _ . ~` (RFC 3986's unreserved), and
    /// `/` unless kept: query values, SigV4's canonical forms.
    public static func percentEncoded(_ s: String, keepSlash: Bool = false) -> String {
        var out = ""
        for byte in s.utf8 {
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
                UInt8(ascii: "-"), UInt8(ascii: "_"), UInt8(ascii: "."), UInt8(ascii: "~"):
                out.unicodeScalars.append(Unicode.Scalar(byte))
            case UInt8(ascii: "/") where keepSlash:
                out.append("/")
            default:
                let hex = String(byte, radix: 16, uppercase: true)
                out += "%" + (hex.count < 2 ? "0" + hex : hex)
            }
        }
        return out
    }
}
