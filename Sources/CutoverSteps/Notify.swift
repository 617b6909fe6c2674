import CutoverCore
import CutoverNet
import Foundation

/// `notify`: POSTs a JSON message to a webhook: Slack-style `{"text": ...}`, a PagerDuty
/// Events v2 event, or cutover's own JSON. The URL may be a secret reference.
public struct Notify: StepType {
    public struct Output: Codable, Sendable {
        public var status: Int
    }

    public static let name = "notify"
    public static let summary = "POSTs a message to a webhook: Slack-style text, a PagerDuty Events v2 event, or cutover's own JSON."
    public static let kind = StepKind.check
    static let url = Param<String>.secret("url", literalAllowed: true, "the webhook; use env:NAME when the URL holds a token")
    static let message = Param<String>.string("message", "the text to send")
    static let format = Param<String>.oneOf("format", ["slack", "pagerduty", "json"], default: "slack", "payload shape")
    static let severity = Param<String>.oneOf("severity", ["info", "warning", "error", "critical"], default: "info", "for pagerduty")
    static let routingKey = Param<String?>.secret("routingKey", "PagerDuty integration key")
    static let timeout = Param<Duration>.duration("timeout", default: "10s", "per request")
    public static let schema = StepSchema(url, message, format, severity, routingKey, timeout)

    let http: HTTPClient

    public init(http: HTTPClient) { self.http = http }

    public func execute(_ p: StepParameters, _ ctx: any StepContext) async throws -> Output {
        let given = try p[Self.url]
        let secretURL = SecretReference.isReference(given)
        let url = secretURL ? try ctx.secret(given) : given
        let display = secretURL ? "webhook \(given)" : nil
        let body = try payload(p, ctx)
        let request = HTTPRequest(
            method: "POST", url: url,
            headers: [("Content-Type", "application/json"), ("Idempotency-Key", ctx.idempotencyKey)],
            body: body.canonicalBytes,
            totalTimeout: try p[Self.timeout], maxResponseBytes: 64 << 10,
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

    private func payload(_ p: StepParameters, _ ctx: any StepContext) throws -> JSONValue {
        let message = try p[Self.message]
        let summary = "[cutover \(ctx.mode.rawValue)] \(message)"
        switch try p[Self.format] {
        case "pagerduty":
            guard let key = try p[Self.routingKey] else {
                throw StepError.badParameters("notify with format pagerduty needs routingKey (a secret reference like env:PD_ROUTING_KEY)")
            }
            return .object([
                "routing_key": .string(try ctx.secret(key)),
                "event_action": .string("trigger"),
                "dedup_key": .string(ctx.idempotencyKey),
                "payload": .object([
                    "summary": .string(summary),
                    "source": .string("cutover"),
                    "severity": .string(try p[Self.severity]),
                    "custom_details": .object(["run": .string(ctx.runID), "step": .string(ctx.stepID)]),
                ]),
            ])
        case "json":
            return .object([
                "run": .string(ctx.runID), "step": .string(ctx.stepID), "mode": .string(ctx.mode.rawValue),
                "message": .string(message),
            ])
        default:
            return .object(["text": .string(summary)])
        }
    }
}
