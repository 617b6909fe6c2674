import CutoverCore
import CutoverNet
import Foundation

/// `notify`: POSTs a JSON message to a webhook: Slack-style `{"text": ...}`, a PagerDuty
/// Events v2 event, or cutover's own JSON. The URL may be a secret reference.
public struct Notify: StepType {
    public struct Parameters: Codable, Sendable {
        public var url: String
        public var message: String
        public var format: String?
        public var severity: String?
        public var routingKey: String?
        public var timeout: String?

        public init(
            url: String, message: String, format: String? = nil, severity: String? = nil, routingKey: String? = nil,
            timeout: String? = nil
        ) {
            self.url = url
            self.message = message
            self.format = format
            self.severity = severity
            self.routingKey = routingKey
            self.timeout = timeout
        }
    }

    public struct Output: Codable, Sendable {
        public var status: Int
    }

    public static let name = "notify"
    public static let kind = StepKind.check
    public static let parameters = [
        ParameterField("url", .secret(literalAllowed: true), required: true, "the webhook; use env:NAME when the URL holds a token"),
        ParameterField("message", .string, required: true, "the text to send"),
        ParameterField("format", .oneOf(["slack", "pagerduty", "json"]), "payload shape (default slack)"),
        ParameterField("severity", .oneOf(["info", "warning", "error", "critical"]), "for pagerduty (default info)"),
        ParameterField("routingKey", .secret(literalAllowed: false), "PagerDuty integration key"),
        ParameterField("timeout", .duration, "per request (default 10s)"),
    ]

    let http: HTTPClient

    public init(http: HTTPClient) { self.http = http }

    public func execute(_ p: Parameters, _ ctx: any StepContext) async throws -> Output {
        let secretURL = SecretReference.isReference(p.url)
        let url = secretURL ? try ctx.secret(p.url) : p.url
        let display = secretURL ? "webhook \(p.url)" : nil
        let body = try payload(p, ctx)
        let request = HTTPRequest(
            method: "POST", url: url,
            headers: [("Content-Type", "application/json"), ("Idempotency-Key", ctx.idempotencyKey)],
            body: Array(body.canonicalString.utf8),
            totalTimeout: try duration(p.timeout ?? "10s", field: "timeout"), maxResponseBytes: 64 << 10,
            displayTarget: display)
        let response: HTTPResponse
        do { response = try await http.send(request) } catch let e as HTTPError {
            throw StepError(code: "webhook-\(e.kind.rawValue)", message: e.description, retryable: e.retryable)
        }
        guard (200..<300).contains(response.status) else {
            throw StepError(
                code: "webhook-status-\(response.status)",
                message: "\(request.target) answered HTTP \(response.status)\(response.status >= 500 ? "; will try again" : "; check the URL and the payload format")",
                retryable: response.status >= 500 || response.status == 429)
        }
        return Output(status: response.status)
    }

    private func payload(_ p: Parameters, _ ctx: any StepContext) throws -> JSONValue {
        let summary = "[cutover \(ctx.mode.rawValue)] \(p.message)"
        switch p.format ?? "slack" {
        case "pagerduty":
            guard let key = p.routingKey else {
                throw StepError.badParameters("notify with format pagerduty needs routingKey (a secret reference like env:PD_ROUTING_KEY)")
            }
            return .object([
                "routing_key": .string(try ctx.secret(key)),
                "event_action": .string("trigger"),
                "dedup_key": .string(ctx.idempotencyKey),
                "payload": .object([
                    "summary": .string(summary),
                    "source": .string("cutover"),
                    "severity": .string(p.severity ?? "info"),
                    "custom_details": .object(["run": .string(ctx.runID), "step": .string(ctx.stepID)]),
                ]),
            ])
        case "json":
            return .object([
                "run": .string(ctx.runID), "step": .string(ctx.stepID), "mode": .string(ctx.mode.rawValue),
                "message": .string(p.message),
            ])
        default:
            return .object(["text": .string(summary)])
        }
    }
}
