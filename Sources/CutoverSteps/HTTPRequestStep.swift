import CutoverCore
import CutoverNet
import Foundation

/// `http.request`: calls the team's own HTTP API (a feature-flag service, an internal
/// deployer): method, URL, headers (secret references resolved when it runs), a JSON body, the
/// status codes that mean success; the answer's JSON is the step's output. Optional `before`,
/// `observe` and `compensate` requests of the same shape, which may refer to `${before...}`
/// and `${output...}`; the step is compensable exactly when it has a `compensate`. Through
/// libcurl, TLS verified; the run's proof is checked as the request is about to be written.
public struct HTTPRequestStep: StepType {
    public typealias Output = JSONValue

    public static let name = "http.request"
    public static let summary = "Calls an HTTP API of the team's own: method, URL, headers (secret references), JSON body, expected status codes; the answer's JSON is the output. Optional before, observe and compensate requests."
    public static let observation: String? = "the observe request, when the step has one: an expected status with JSON means done (that JSON is the output), a status in its notDone means run again"
    public static let compensation: String? = "the compensate request, with ${before...} and ${output...} filled in"
    public static let kind = StepKind.check

    static let method = Param<String>.oneOf("method", ["GET", "POST", "PUT", "PATCH", "DELETE"], default: "POST", "the HTTP method")
    static let url = Param<String>.secret("url", literalAllowed: true, "the URL (a secret reference when it carries a token)")
    static let headers = Param<JSONValue?>.optionalObject("headers", "NAME: text or a secret reference (env:API_TOKEN), resolved when it runs")
    static let body = Param<JSONValue?>.optionalObject("body", "a JSON object sent as the body")
    static let expect = Param<[Int]>.statuses("expect", default: [200, 201, 202, 204], "status codes that mean success")
    static let retryOn = Param<[Int]>.statuses("retryOn", default: [408, 429, 500, 502, 503, 504], "status codes that mean try again")
    static let timeout = Param<Duration>.duration("timeout", default: "30s", "for the whole request")
    static let before = Param<JSONValue?>.action("before", "a request whose JSON answer is recorded as the before-state, once, before the request")
    static let observe = Param<JSONValue?>.action("observe", "after a crash: an expected status with JSON means done with that answer; a status in its notDone (default [404]) means not done")
    static let compensate = Param<JSONValue?>.action("compensate", "undoes the request; may use ${before...} and ${output...}")
    public static let schema = StepSchema(method, url, headers, body, expect, retryOn, timeout, before, observe, compensate)

    static let actionFields: Set<String> = ["method", "url", "headers", "body", "expect", "notDone"]

    public static func kind(with parameters: [String: JSONValue]) -> StepKind {
        parameters["compensate"] == nil ? .check : .compensable
    }

    public static func problems(with: [String: JSONValue], timeout: Duration?) -> [(field: String, problem: String)] {
        var out: [(String, String)] = []
        for name in ["before", "observe", "compensate"] {
            guard let o = with[name]?.objectValue else { continue }
            if let unknown = o.keys.sorted().first(where: { !actionFields.contains($0) }) {
                out.append((name, "unknown field \(unknown)\(Suggestion.hint(for: unknown, in: actionFields)); expected method, url, headers, body, expect\(name == "observe" ? ", notDone" : "")"))
            } else if o["url"]?.stringValue == nil {
                out.append((name, "expected {\"method\": \"DELETE\", \"url\": \"https://...\"}"))
            } else if let m = o["method"], !["GET", "POST", "PUT", "PATCH", "DELETE"].contains(m.stringValue ?? "") {
                out.append((name, "method: expected GET, POST, PUT, PATCH or DELETE"))
            } else if name != "observe", o["notDone"] != nil {
                out.append((name, "notDone is for observe only"))
            }
        }
        return out
    }

    let http: HTTPClient

    public init(http: HTTPClient) { self.http = http }

    struct Call {
        var method: String
        var url: String
        var headers: [String: JSONValue]
        var body: JSONValue?
        var expect: [Int]
    }

    public func execute(_ p: StepParameters, _ ctx: any StepContext) async throws -> JSONValue {
        if let before = try p[Self.before] {
            let call = try Self.action(before, p, method: "GET")
            _ = try await ctx.recordBefore {
                try await send(call, ctx, what: "before", p, mutating: false)
            }
        }
        let call = Call(method: try p[Self.method], url: try p[Self.url], headers: try p[Self.headers]?.objectValue ?? [:], body: try p[Self.body], expect: try p[Self.expect])
        return try await send(call, ctx, what: "request", p, mutating: true)
    }

    public func observe(_ p: StepParameters, _ ctx: any StepContext) async throws -> JSONValue? {
        guard let observe = try p[Self.observe] else { return nil }
        let before = await ctx.recordedBefore()
        let call = try Self.action(try Template.resolve(observe, in: Template.Scope(runbook: .null, before: before ?? .null)), p, method: "GET")
        let notDone = observe["notDone"]?.arrayValue?.compactMap { $0.intValue.map(Int.init) } ?? [404]
        do {
            return try await send(call, ctx, what: "observe", p, mutating: false)
        } catch let e as StepError where notDone.contains(where: { e.code == "http-status-\($0)" }) {
            return nil
        }
    }

    public func compensate(_ p: StepParameters, _ output: JSONValue, _ ctx: any StepContext) async throws {
        guard let compensate = try p[Self.compensate] else { return }
        let before = await ctx.recordedBefore()
        let resolved = try Template.resolve(compensate, in: Template.Scope(runbook: .null, before: before ?? .null, output: output))
        _ = try await send(try Self.action(resolved, p, method: "POST"), ctx, what: "compensate", p, mutating: true)
    }

    /// An action's request, with the step's headers where it gives none of its own.
    static func action(_ value: JSONValue, _ p: StepParameters, method: String) throws -> Call {
        var headers = try p[Self.headers]?.objectValue ?? [:]
        for (k, v) in value["headers"]?.objectValue ?? [:] { headers[k] = v }
        let stepExpect = try p[Self.expect]
        let expect = value["expect"]?.arrayValue?.compactMap { $0.intValue.map(Int.init) } ?? stepExpect
        return Call(method: value["method"]?.stringValue ?? method, url: value["url"]?.stringValue ?? "", headers: headers, body: value["body"], expect: expect)
    }

    /// Sends `call`, its secrets resolved; a mutating one checks the run's proof right before
    /// the request is written. The answer's JSON (null for an empty body).
    private func send(_ call: Call, _ ctx: any StepContext, what: String, _ p: StepParameters, mutating: Bool) async throws -> JSONValue {
        let secretURL = SecretReference.isReference(call.url)
        let url = secretURL ? try ctx.secret(call.url) : call.url
        guard url.hasPrefix("https://") || url.hasPrefix("http://") else {
            throw StepError.badParameters("\(what) url: expected an http:// or https:// URL\(secretURL ? " in \(call.url)" : ", got \(URLText.redacted(url))")")
        }
        var headers: [(String, String)] = [("Idempotency-Key", ctx.idempotencyKey)]
        var secrets: [String] = []
        for (name, value) in call.headers.sorted(by: { $0.key < $1.key }) {
            guard let text = value.stringValue else { throw StepError.badParameters("headers.\(name): expected text or a secret reference") }
            if SecretReference.isReference(text) {
                let secret = try ctx.secret(text)
                secrets.append(secret)
                headers.append((name, secret))
            } else {
                headers.append((name, text))
            }
        }
        var bytes: [UInt8]?
        if let body = call.body {
            bytes = body.canonicalBytes
            headers.append(("Content-Type", "application/json"))
        }
        let display = secretURL ? "\(what) \(call.url)" : nil
        var request = HTTPRequest(
            method: call.method, url: url, headers: headers, body: bytes, totalTimeout: try p[Self.timeout], maxResponseBytes: 4 << 20, displayTarget: display)
        if mutating {
            let proof = try await ctx.proof()
            request.gate = proof.gate(doing: "\(what) \(call.method) \(request.target)")
        }
        let response: HTTPResponse
        do { response = try await http.send(request) } catch let e as HTTPError {
            throw StepError(code: "http-\(e.kind.rawValue)", message: "\(what): \(e.description)", retryable: e.retryable)
        }
        guard call.expect.contains(response.status) else {
            let retryable = try p[Self.retryOn].contains(response.status)
            let text = Exec.redact(String(decoding: response.body.prefix(200), as: UTF8.self), secrets)
            throw StepError(
                code: "http-status-\(response.status)",
                message: "\(what) \(call.method) \(request.target) answered HTTP \(response.status), expected \(call.expect.map(String.init).joined(separator: ", "))\(text.isEmpty ? "" : ": \(TerminalText.escaped(text))")",
                retryable: retryable)
        }
        if response.body.allSatisfy({ $0 == 32 || $0 == 10 || $0 == 13 || $0 == 9 }) { return .null }
        guard let value = try? JSONValue.parse(Data(response.body)) else {
            throw StepError(
                code: "http-bad-output",
                message: "\(what) \(call.method) \(request.target) answered HTTP \(response.status) with a body that is not JSON",
                retryable: false)
        }
        return Exec.redact(value, secrets)
    }
}
