import CutoverCore
import CutoverNet
import CutoverProviders
import Foundation

/// The `alertmanager` provider: Prometheus Alertmanager's silences through its v2 API
/// (`GET /api/v2/silences`, `POST /api/v2/silences`, `DELETE /api/v2/silence/{id}`).
public enum AlertmanagerProvider {
    public static let schema = ProviderSchema(
        name: "alertmanager", summary: "a Prometheus Alertmanager (v2 API)", capabilities: [.alerting],
        fields: [
            ParameterField("url", .url, required: true, "the Alertmanager, like http://alertmanager.internal:9093"),
            ParameterField("token", .secret(literalAllowed: false), "a reference to a bearer token, when a proxy in front of it asks for one"),
        ])

    public static func adapter(http: HTTPClient) -> ProviderAdapter {
        ProviderAdapter(schema: schema, alerting: { target, secret in
            Alertmanager(http: http, url: try target.required("url"), token: try target.string("token").map { try secret($0) })
        })
    }
}

/// An Alertmanager's silences.
struct Alertmanager: Alerting {
    let http: HTTPClient
    let url: String
    let token: String?

    var target: String { "Alertmanager \(HTTPRequest.redacted(url))" }
    var endpoints: [String] { [url] }

    private var base: String { url.hasSuffix("/") ? String(url.dropLast()) : url }

    private func send(_ method: String, _ path: String, body: JSONValue? = nil, what: String, gate: (@Sendable () -> Error?)? = nil) async throws -> HTTPResponse {
        var headers = [("Accept", "application/json")]
        if let token { headers.append(("Authorization", "Bearer \(token)")) }
        if body != nil { headers.append(("Content-Type", "application/json")) }
        let r = try await http.send(HTTPRequest(
            method: method, url: base + path, headers: headers, body: body.map { $0.canonicalBytes },
            connectTimeout: .seconds(3), totalTimeout: .seconds(15), maxResponseBytes: 8 << 20, gate: gate))
        guard (200..<300).contains(r.status) else {
            var detail = TerminalText.escaped(String(decoding: r.body.prefix(160), as: UTF8.self))
            // A proxy may echo the request's headers: never the token.
            if let token, token.count >= 4 { detail = detail.replacingOccurrences(of: token, with: "[redacted]") }
            let hint = r.status == 401 || r.status == 403 ? "; check the target's token" : ""
            throw StepError(code: "alertmanager-\(r.status)", message: "\(target): \(what) answered HTTP \(r.status): \(detail)\(hint)", retryable: r.status >= 500 || r.status == 429)
        }
        return r
    }

    func activeSilences() async throws -> [Silence] {
        let r = try await send("GET", "/api/v2/silences", what: "listing silences")
        guard let list = (try? JSONValue.parse(Data(r.body)))?.arrayValue else {
            throw StepError(code: "alertmanager-garbage", message: "\(target): the silence list is not a JSON array", retryable: true)
        }
        return list.compactMap { s -> Silence? in
            guard let state = s["status"]?["state"]?.stringValue, state == "active" || state == "pending",
                let id = s["id"]?.stringValue, let ends = s["endsAt"]?.stringValue.flatMap(Self.date)
            else { return nil }
            let matchers = (s["matchers"]?.arrayValue ?? []).compactMap { m -> Silence.Matcher? in
                guard let name = m["name"]?.stringValue, let value = m["value"]?.stringValue else { return nil }
                return Silence.Matcher(name: name, value: value, isEqual: m["isEqual"]?.boolValue ?? true, isRegex: m["isRegex"]?.boolValue ?? false)
            }
            return Silence(
                id: id, matchers: matchers, endsAtMillis: Int64((ends.timeIntervalSince1970 * 1_000).rounded()),
                comment: s["comment"]?.stringValue ?? "", createdBy: s["createdBy"]?.stringValue ?? "")
        }
    }

    func silence(_ silence: Silence, _ proof: RunProof) async throws -> String {
        let what = "silencing \(silence.matchers.map { "\($0.name)=\($0.value)" }.joined(separator: ",")) at \(target)"
        try proof.check(doing: what)
        let body = JSONValue.object([
            "matchers": .array(silence.matchers.map {
                .object(["name": .string($0.name), "value": .string($0.value), "isRegex": .bool($0.isRegex), "isEqual": .bool($0.isEqual)])
            }),
            "startsAt": .string(Self.text(Date())),
            "endsAt": .string(Self.text(Date(timeIntervalSince1970: Double(silence.endsAtMillis) / 1_000))),
            "createdBy": .string(silence.createdBy), "comment": .string(silence.comment),
        ])
        let r = try await send("POST", "/api/v2/silences", body: body, what: what, gate: proof.gate(doing: what))
        guard let id = (try? JSONValue.parse(Data(r.body)))?["silenceID"]?.stringValue, !id.isEmpty else {
            throw StepError(code: "alertmanager-garbage", message: "\(target): \(what) answered without a silenceID", retryable: true)
        }
        return id
    }

    func expire(id: String, _ proof: RunProof) async throws {
        let what = "expiring silence \(id) at \(target)"
        guard id.unicodeScalars.allSatisfy({ $0.isASCII && (CharacterSet.alphanumerics.contains($0) || $0 == "-") }) else {
            throw StepError(code: "alertmanager-garbage", message: "\(target): a silence id that is not one (\(TerminalText.escaped(String(id.prefix(40)))))", retryable: false)
        }
        try proof.check(doing: what)
        _ = try await send("DELETE", "/api/v2/silence/\(id)", what: what, gate: proof.gate(doing: what))
    }

    /// RFC 3339 as Alertmanager writes it, with or without fractional seconds.
    static func date(_ text: String) -> Date? {
        let f = ISO8601DateFormatter()
        f.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        if let d = f.date(from: text) { return d }
        f.formatOptions = [.withInternetDateTime]
        return f.date(from: text)
    }

    static func text(_ date: Date) -> String {
        let f = ISO8601DateFormatter()
        f.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return f.string(from: date)
    }
}
