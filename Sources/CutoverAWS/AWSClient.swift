import CutoverCore
import CutoverNet
import Foundation

/// An AWS API call that failed: the transport, an error answer, or an answer that is not
/// what the API returns. Names the service and endpoint; never the credentials.
public struct AWSError: Error, Sendable, CustomStringConvertible {
    public var target: String
    /// The AWS error code (`ValidationError`, `Throttling`), `HTTP 500`, or a transport kind.
    public var code: String
    public var message: String
    public var status: Int?
    public var retryable: Bool

    public var description: String { "\(target): \(code): \(message)" }
}

/// Signed calls to one AWS endpoint (real AWS, or moto_server on loopback).
public struct AWSClient: Sendable {
    public let endpoint: String
    public let signer: AWSSigner
    let http: HTTPClient
    let clock: @Sendable () -> Date
    public var timeout: Duration = .seconds(30)

    /// - Parameter endpoint: scheme, host and port, like `https://autoscaling.us-east-1.amazonaws.com`.
    public init(endpoint: String, signer: AWSSigner, http: HTTPClient, clock: @escaping @Sendable () -> Date = { Date() }) {
        self.endpoint = endpoint.hasSuffix("/") ? String(endpoint.dropLast()) : endpoint
        self.signer = signer
        self.http = http
        self.clock = clock
    }

    var target: String { "\(signer.service) at \(HTTPRequest.redacted(endpoint))" }

    /// A query-API call (Auto Scaling, EC2, STS): form-encoded `Action` and parameters, XML back.
    public func query(action: String, version: String, _ parameters: [(String, String)] = [], gate: (@Sendable () -> Error?)? = nil) async throws -> XMLTree {
        let form = ([("Action", action), ("Version", version)] + parameters)
            .map { "\(AWSSigner.encode($0.0, keepSlash: false))=\(AWSSigner.encode($0.1, keepSlash: false))" }
            .joined(separator: "&")
        let r = try await send(method: "POST", path: "/", query: "", headers: [("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")], body: Array(form.utf8), what: action, gate: gate)
        return try xml(r, what: action)
    }

    /// A REST call (Route 53, S3). `path` is as it goes on the wire.
    public func rest(
        method: String, path: String, query: String = "", headers: [(String, String)] = [], body: [UInt8] = [], maxResponseBytes: Int = 4 << 20,
        what: String, gate: (@Sendable () -> Error?)? = nil
    ) async throws -> HTTPResponse {
        try await send(method: method, path: path, query: query, headers: headers, body: body, what: what, maxResponseBytes: maxResponseBytes, gate: gate)
    }

    /// A REST call whose body is streamed in (`upload`, sent as `UNSIGNED-PAYLOAD`) or whose
    /// successful answer is streamed out (`download`): S3 objects of any size.
    public func stream(
        method: String, path: String, query: String = "", headers: [(String, String)] = [], upload: HTTPUpload? = nil, download: HTTPDownload? = nil,
        what: String, gate: (@Sendable () -> Error?)? = nil
    ) async throws -> HTTPResponse {
        try await send(
            method: method, path: path, query: query, headers: headers, body: [], what: what, gate: gate, upload: upload, download: download)
    }

    /// Parses an XML answer.
    /// - Throws: `AWSError` with code `garbage` when it is not XML.
    public func xml(_ r: HTTPResponse, what: String) throws -> XMLTree {
        do {
            return try XMLTree.parse(r.body)
        } catch {
            throw AWSError(target: target, code: "garbage", message: "\(what) answered HTTP \(r.status) with something that is not XML (\(error)): \(HTTPResponse.snippet(r.body))", status: r.status, retryable: true)
        }
    }

    private func send(
        method: String, path: String, query: String, headers: [(String, String)], body: [UInt8], what: String, maxResponseBytes: Int = 4 << 20,
        gate: (@Sendable () -> Error?)? = nil, upload: HTTPUpload? = nil, download: HTTPDownload? = nil
    ) async throws -> HTTPResponse {
        guard let hostStart = endpoint.range(of: "://") else {
            throw AWSError(target: target, code: "bad-endpoint", message: "expected an endpoint like https://host[:port]", status: nil, retryable: false)
        }
        let host = String(endpoint[hostStart.upperBound...].prefix { $0 != "/" })
        var all = [("Host", host)] + headers
        let streamed = upload != nil || download != nil
        if streamed { all.append(("X-Amz-Content-Sha256", "UNSIGNED-PAYLOAD")) }
        let signature = signer.sign(method: method, path: path, query: query, headers: all, body: body, date: clock(), payloadHash: streamed ? "UNSIGNED-PAYLOAD" : nil)
        all += signature.headers
        let url = endpoint + path + (query.isEmpty ? "" : "?" + query)
        var request = HTTPRequest(
            method: method, url: url, headers: all.filter { $0.0 != "Host" }, body: body.isEmpty && (method == "GET" || method == "HEAD" || streamed) ? nil : body,
            connectTimeout: .seconds(5), totalTimeout: streamed ? .seconds(24 * 3_600) : timeout, maxResponseBytes: maxResponseBytes,
            displayTarget: "\(HTTPRequest.redacted(endpoint))\(path)", gate: gate)
        if streamed {
            request.upload = upload
            request.download = download
            request.stallTimeout = .seconds(60)
        }
        let r: HTTPResponse
        do {
            r = try await http.send(request)
        } catch let e as HTTPError {
            throw AWSError(target: target, code: e.kind.rawValue, message: "\(what): \(e.description)", status: nil, retryable: e.retryable)
        }
        guard (200..<300).contains(r.status) else { throw error(from: r, what: what) }
        return r
    }

    /// An error answer: the AWS code and message when the body says them.
    func error(from r: HTTPResponse, what: String) -> AWSError {
        // The JSON protocol's shape (Secrets Manager): {"__type": "...#Code", "message": "..."}.
        if let json = try? JSONValue.parse(Data(r.body)), let type = json["__type"]?.stringValue {
            let code = String(type.split(separator: "#").last ?? Substring(type))
            let message = json["message"]?.stringValue ?? json["Message"]?.stringValue ?? "no message"
            let throttled = ["ThrottlingException", "TooManyRequestsException", "RequestLimitExceeded"].contains(code)
            return AWSError(
                target: target, code: code, message: "\(what) answered HTTP \(r.status): \(message.prefix(400))", status: r.status,
                retryable: r.status >= 500 || r.status == 429 || throttled)
        }
        let node = try? XMLTree.parse(r.body)
        if let node, node.name == "InvalidChangeBatch" {
            // Route 53's own shape for a change batch it refused: the reasons under <Messages>.
            let reasons = node.find("Messages")?.all("Message").map(\.text).joined(separator: "; ") ?? "no message"
            return AWSError(target: target, code: "InvalidChangeBatch", message: "\(what) answered HTTP \(r.status): \(reasons)", status: r.status, retryable: false)
        }
        let err = node.flatMap { $0.name == "Error" ? $0 : $0.find("Error") }
        let code = err?["Code"]?.text ?? "HTTP \(r.status)"
        let message = err?["Message"]?.text ?? (node == nil ? HTTPResponse.snippet(r.body) : "no message")
        let throttled = ["Throttling", "ThrottlingException", "RequestLimitExceeded", "SlowDown", "PriorRequestNotComplete"].contains(code)
        return AWSError(target: target, code: code, message: "\(what) answered HTTP \(r.status): \(message)", status: r.status, retryable: r.status >= 500 || r.status == 429 || throttled)
    }
}

extension AWSError: StepFailure {
    public func stepError(doing what: String) -> StepError {
        StepError(code: "aws-\(code)", message: "\(what): \(description)", retryable: retryable)
    }
}
