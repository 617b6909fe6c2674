import CutoverCore
import CutoverNet
import Foundation

/// A Google API call that failed with Google's error JSON (`{"error": {"code", "message",
/// "errors": [{"reason"}], "status"}}`), or with an answer that is not JSON. Names the API and
/// what was being done; never a token.
public struct GoogleError: Error, Sendable, CustomStringConvertible {
    /// `NOT_FOUND`, `notFound`, `QUOTA_EXCEEDED`, `HTTP 502`: the most specific Google gives.
    public var code: String
    public var message: String
    public var status: Int?
    public var retryable: Bool

    public var description: String { message }
}

extension GoogleError: StepFailure {
    public func stepError(doing what: String) -> StepError {
        StepError(code: "gcp-\(code)", message: "\(what): \(message)", retryable: retryable)
    }
}

/// Authenticated JSON calls to one Google API (`https://compute.googleapis.com/compute/v1/`,
/// or a fake on loopback). Paths are built from names the target schema checked; a URL Google
/// returns (a `selfLink`) is read for its path, never followed to its host.
struct GoogleAPI: Sendable {
    /// The API for people: `Compute Engine`.
    let service: String
    /// Scheme, host and port, without a final `/`.
    let root: String
    /// Below the root, ending in `/`, like `compute/v1/`.
    let basePath: String
    let credentials: GoogleCredentials
    let http: HTTPClient
    let clock: @Sendable () -> Date

    init(service: String, endpoint: String, basePath: String, credentials: GoogleCredentials, http: HTTPClient, clock: @escaping @Sendable () -> Date = { Date() }) {
        let root = endpoint.hasSuffix("/") ? String(endpoint.dropLast()) : endpoint
        self.service = service
        self.root = root
        self.basePath = basePath
        self.credentials = credentials
        self.http = http
        self.clock = clock
    }

    /// The API's root and where its tokens come from.
    var endpoints: [String] {
        switch credentials {
        case .serviceAccount(let key): [root, key.tokenURI]
        case .metadata(let host): [root, "http://\(host)"]
        case .none: [root]
        }
    }

    /// Sends one call and parses the JSON answer. A 401 (a token that expired early or was
    /// revoked) is tried once more with a new token; a second 401 is named.
    /// - Parameters:
    ///   - path: below the base, like `projects/p/zones/z/instanceGroupManagers/g`.
    ///   - gate: the run proof's last check, for calls that change something.
    func call(
        _ method: String, _ path: String, query: [(String, String)] = [], body: JSONValue? = nil, what: String,
        timeout: Duration = .seconds(30), gate: (@Sendable () -> Error?)? = nil
    ) async throws -> JSONValue {
        var headers = [("Accept", "application/json")]
        if body != nil { headers.append(("Content-Type", "application/json")) }
        let r = try await bytes(
            method, basePath + path, query: query, headers: headers,
            body: body.map { $0.canonicalBytes } ?? (method == "GET" ? nil : []), what: what, timeout: timeout, gate: gate)
        guard let json = try? JSONValue.parse(Data(r.body)), json.objectValue != nil else {
            throw GoogleError(code: "garbage", message: "\(service) answered \(what) with HTTP \(r.status) and something that is not a JSON object", status: r.status, retryable: true)
        }
        return json
    }

    /// A call whose body or answer is bytes, not JSON (Cloud Storage's objects), streamed when
    /// `upload` or `download` is given; what `call` sends JSON through. A 401 (a token that
    /// expired early or was revoked) is tried once more with a new token, unless the body was
    /// streamed (it cannot be sent twice); a second 401 is named.
    /// - Parameter path: below the root, like `upload/storage/v1/b/bucket/o`.
    /// - Returns: the answer, 2xx only.
    func bytes(
        _ method: String, _ path: String, query: [(String, String)] = [], headers extra: [(String, String)] = [], body: [UInt8]? = nil,
        upload: HTTPUpload? = nil, download: HTTPDownload? = nil, maxResponseBytes: Int = 8 << 20, what: String,
        timeout: Duration = .seconds(30), gate: (@Sendable () -> Error?)? = nil
    ) async throws -> HTTPResponse {
        var refused: String?
        for attempt in 0..<2 {
            let token = try await GoogleTokens.shared.token(credentials, http: http, now: clock())
            var headers = extra
            if let token { headers.append(("Authorization", "Bearer \(token)")) }
            let q = query.map { "\(URLText.percentEncoded($0.0))=\(URLText.percentEncoded($0.1))" }.joined(separator: "&")
            let streamed = upload != nil || download != nil
            var request = HTTPRequest(
                method: method, url: root + "/" + path + (q.isEmpty ? "" : "?" + q), headers: headers, body: body,
                connectTimeout: .seconds(5), totalTimeout: streamed ? .seconds(24 * 3_600) : timeout, maxResponseBytes: maxResponseBytes,
                displayTarget: "\(service) \(URLText.redacted(root))/\(path)", gate: gate)
            request.upload = upload
            request.download = download
            if streamed { request.stallTimeout = .seconds(60) }
            let r: HTTPResponse
            do {
                r = try await http.send(request)
            } catch let e as HTTPError {
                throw GoogleError(code: e.kind.rawValue, message: "\(what): \(e.description)", status: nil, retryable: e.retryable)
            }
            if r.status == 401, let token {
                GoogleTokens.shared.forget(credentials, token: token)
                refused = Self.scrubbed(Self.errorDetail(r).message, of: [token])
                if attempt == 0, upload == nil { continue }
                break
            }
            guard (200..<300).contains(r.status) else { throw error(r, what: what, scrub: token.map { [$0] } ?? []) }
            return r
        }
        throw GoogleError(
            code: "UNAUTHENTICATED",
            message: "\(service) refused the access token for \(credentials.principal) twice, a new one the second time (HTTP 401: \(refused ?? "")); check that the service account exists and is enabled, and that this machine's clock is right",
            status: 401, retryable: false)
    }

    private func error(_ r: HTTPResponse, what: String, scrub: [String]) -> GoogleError {
        let (code, message) = Self.errorDetail(r)
        let reason = (try? JSONValue.parse(Data(r.body)))?["error"]?["errors"]?.arrayValue?.first?["reason"]?.stringValue
        let hint = switch r.status {
        case 403: "; check the service account's IAM roles on the project"
        case 404: "; check the project, location and name in the runbook's target"
        default: ""
        }
        // Google says "slow down" in the reason even when the status is PERMISSION_DENIED.
        let retryable = r.status >= 500 || r.status == 429
            || !Set([code, reason ?? ""]).isDisjoint(with: ["rateLimitExceeded", "userRateLimitExceeded", "RESOURCE_EXHAUSTED"])
        return GoogleError(code: code, message: "\(service) answered \(what) with HTTP \(r.status): \(Self.scrubbed(message, of: scrub))\(hint)", status: r.status, retryable: retryable)
    }

    /// The most specific code Google's error JSON gives (a reason, else a status) and its message.
    static func errorDetail(_ r: HTTPResponse) -> (code: String, message: String) {
        guard let json = try? JSONValue.parse(Data(r.body)), let e = json["error"], e.objectValue != nil else {
            return ("HTTP \(r.status)", "not Google's error JSON: \(HTTPResponse.snippet(r.body))")
        }
        let reason = e["errors"]?.arrayValue?.first?["reason"]?.stringValue
        let code = [e["status"]?.stringValue, reason].compactMap { $0 }.first { Self.isCode($0) } ?? "HTTP \(r.status)"
        let message = String((e["message"]?.stringValue ?? "no message").prefix(400))
        return (code, message)
    }

    /// A code is letters, digits and `_`, short: anything else from a server is not used as one.
    static func isCode(_ s: String) -> Bool {
        !s.isEmpty && s.utf8.count <= 64 && s.unicodeScalars.allSatisfy { CharacterSet.alphanumerics.contains($0) && $0.isASCII || $0 == "_" }
    }


    /// `text` without any of `secrets` (a token or an assertion a server echoed back).
    static func scrubbed(_ text: String, of secrets: [String]) -> String {
        var out = text
        for s in secrets where s.count >= 8 { out = out.replacingOccurrences(of: s, with: "[redacted]") }
        return out
    }


    /// The path of a Google resource URL below `/compute/v1/` (or the API's base path), like
    /// `projects/p/global/instanceTemplates/t`, when every segment is a plain name; nil otherwise.
    static func resourcePath(_ url: String, basePath: String) -> String? {
        guard let r = url.range(of: "/" + basePath) else { return nil }
        let path = String(url[r.upperBound...])
        let segments = path.split(separator: "/", omittingEmptySubsequences: false)
        guard !segments.isEmpty, segments.allSatisfy({ GoogleNames.isSegment(String($0)) }) else { return nil }
        return path
    }
}

/// Google resource names as Compute Engine allows them (RFC 1035 labels: lowercase letters,
/// digits and hyphens, starting with a letter, at most 63): what makes a path safe to build.
enum GoogleNames {
    static func isName(_ s: String) -> Bool {
        let u = Array(s.utf8)
        guard (1...63).contains(u.count), let first = u.first, let last = u.last else { return false }
        func lower(_ c: UInt8) -> Bool { c >= UInt8(ascii: "a") && c <= UInt8(ascii: "z") }
        func digit(_ c: UInt8) -> Bool { c >= UInt8(ascii: "0") && c <= UInt8(ascii: "9") }
        return lower(first) && (lower(last) || digit(last)) && u.allSatisfy { lower($0) || digit($0) || $0 == UInt8(ascii: "-") }
    }

    /// A path segment Google returns (a name or a collection like `instanceTemplates`): ASCII
    /// letters, digits and hyphens only, so it cannot climb (`..`) or smuggle a query.
    static func isSegment(_ s: String) -> Bool {
        !s.isEmpty && s.utf8.count <= 63 && s.unicodeScalars.allSatisfy { $0.isASCII && (CharacterSet.alphanumerics.contains($0) || $0 == "-") }
    }

    /// A project id: a name of 6 to 30 characters.
    static func isProject(_ s: String) -> Bool { isName(s) && (6...30).contains(s.utf8.count) }
}
