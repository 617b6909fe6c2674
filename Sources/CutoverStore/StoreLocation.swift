import CutoverCore

/// Which store a `--db` / `CUTOVER_DB` value names, decided by its form: a path (or a
/// `file:` URL) is a SQLite file; `postgresql://` or `postgres://` a PostgreSQL database
/// (libpq's URI, passed to it whole); any other `scheme://` is refused, never taken for a
/// file name.
public enum StoreLocation: Sendable, Equatable {
    case sqlite(path: String)
    case postgres(uri: String)

    /// - Throws: `StoreError` with code `.unsupported` for a scheme this build has no store
    ///   for, and `.unavailable` for an empty value; the message never repeats a password.
    public static func parse(_ text: String) throws -> StoreLocation {
        guard !text.isEmpty else { throw StoreError(.unavailable, "the database location is empty: give a file path with --db or CUTOVER_DB") }
        guard let schemeEnd = text.range(of: "://") else {
            if text.hasPrefix("file:") { return .sqlite(path: String(text.dropFirst("file:".count))) }
            return .sqlite(path: text)
        }
        let scheme = text[..<schemeEnd.lowerBound]
        let isScheme = !scheme.isEmpty && scheme.allSatisfy { $0.isLetter || $0.isNumber || "+-.".contains($0) } && scheme.first!.isLetter
        guard isScheme else { return .sqlite(path: text) }
        if scheme.lowercased() == "file" {
            let rest = text[schemeEnd.upperBound...]
            // file:///abs/path, or file://localhost/abs/path
            if rest.hasPrefix("/") { return .sqlite(path: String(rest)) }
            if rest.hasPrefix("localhost/") { return .sqlite(path: String(rest.dropFirst("localhost".count))) }
            throw StoreError(.unsupported, "\(redacted(text)): a file URL must name a local path (file:///path/to/cutover.sqlite)")
        }
        if ["postgres", "postgresql"].contains(scheme.lowercased()) { return .postgres(uri: text) }
        throw StoreError(
            .unsupported,
            "\(redacted(text)): a \"\(scheme)\" store is not supported by cutover; give the path of a SQLite file (--db .cutover/cutover.sqlite) or a PostgreSQL URI (postgresql://USER@HOST/DATABASE)"
        )
    }

    /// `text` with its secrets taken out: whatever stands between the user name and the last
    /// `@` (a password may hold `/`, `?` or `#` unescaped), and the values of `password=` and
    /// `sslpassword=` parameters.
    public static func redacted(_ text: String) -> String {
        guard let schemeEnd = text.range(of: "://") else { return text }
        var out = text
        let rest = out[schemeEnd.upperBound...]
        if let at = rest.lastIndex(of: "@"), let colon = rest[..<at].firstIndex(of: ":") {
            out.replaceSubrange(out.index(after: colon)..<at, with: "***")
        }
        for key in ["password=", "sslpassword="] {
            var from = out.startIndex
            while let r = out.range(of: key, options: .caseInsensitive, range: from..<out.endIndex) {
                let end = out[r.upperBound...].firstIndex(where: { $0 == "&" || $0 == "#" }) ?? out.endIndex
                out.replaceSubrange(r.upperBound..<end, with: "***")
                from = out.index(r.upperBound, offsetBy: 3, limitedBy: out.endIndex) ?? out.endIndex
            }
        }
        return out
    }

    /// How the location is shown to people.
    public var description: String {
        switch self {
        case .sqlite(let path): path
        case .postgres(let uri): Self.redacted(uri)
        }
    }
}
