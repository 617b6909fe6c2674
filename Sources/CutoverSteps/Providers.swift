import CutoverCore
import CutoverNet
import Foundation

/// The fields every AWS-facing step takes. Keys are secret references, resolved at execution.
struct AWSAccess {
    static let fields = [
        ParameterField("endpoint", .url, required: true, "the AWS API endpoint (https://autoscaling.us-east-1.amazonaws.com, or moto_server)"),
        ParameterField("region", .string, required: true, "the AWS region, like us-east-1"),
        ParameterField("accessKey", .secret(literalAllowed: false), required: true, "a reference like env:AWS_ACCESS_KEY_ID"),
        ParameterField("secretKey", .secret(literalAllowed: false), required: true, "a reference like env:AWS_SECRET_ACCESS_KEY"),
        ParameterField("sessionToken", .secret(literalAllowed: false), "a reference like env:AWS_SESSION_TOKEN, for temporary credentials"),
    ]

    static func client(
        service: String, endpoint: String, region: String, accessKey: String, secretKey: String, sessionToken: String?,
        ctx: any StepContext, http: HTTPClient
    ) throws -> AWSClient {
        let credentials = AWSCredentials(
            accessKey: try ctx.secret(accessKey), secretKey: try ctx.secret(secretKey),
            sessionToken: try sessionToken.map { try ctx.secret($0) })
        let signer = AWSSigner(credentials: credentials, region: region, service: service)
        return AWSClient(endpoint: endpoint, signer: signer, http: http, clock: { ctx.now() })
    }
}

/// Provider failures as step errors: a stable code, the target named, retryable when waiting
/// could help (refused, timeouts, 5xx, throttling, garbage), never a credential.
func providerError(_ error: Error, doing what: String) -> Error {
    switch error {
    case let e as AWSError:
        return StepError(code: "aws-\(e.code)", message: "\(what): \(e.description)", retryable: e.retryable)
    case let e as RedisError:
        return StepError(code: "redis-\(e.kind.rawValue)", message: "\(what): \(e.description)", retryable: e.retryable)
    case let e as SocketError:
        return StepError(code: "net-\(e.kind.rawValue)", message: "\(what): \(e.description)", retryable: e.retryable)
    case let e as HTTPError:
        return StepError(code: "http-\(e.kind.rawValue)", message: "\(what): \(e.description)", retryable: e.retryable)
    case let e as DNSError:
        return StepError(code: "dns-garbage", message: "\(what): \(e.description)", retryable: true)
    default:
        return error
    }
}

/// Runs provider calls, turning their failures into step errors that say what was being done.
func calling<T>(_ what: String, _ body: () async throws -> T) async throws -> T {
    do { return try await body() } catch { throw providerError(error, doing: what) }
}

/// Polls `check` every `interval` until it returns a value or `deadline` passes; the waits
/// go through the context, so pause and abort signals are read meanwhile.
func poll<T>(
    _ ctx: any StepContext, every interval: Duration, until deadline: Date, _ check: () async throws -> T?
) async throws -> T? {
    while true {
        if let v = try await check() { return v }
        let next = ctx.now().addingTimeInterval(Double(interval.milliseconds) / 1_000)
        if next > deadline { return nil }
        try await ctx.sleep(until: next)
    }
}

/// A Redis client from a `redis://host:port` parameter and an optional password reference.
func redis(_ url: String, password: String?, field: String, ctx: any StepContext) throws -> RedisClient {
    guard let client = RedisClient(url: url, password: try password.map { try ctx.secret($0) }) else {
        throw StepError.badParameters("\(field): expected redis://host:port (put the password in a secret reference, not the URL), got \"\(HTTPRequest.redacted(url))\"")
    }
    return client
}

extension Date {
    func adding(_ d: Duration) -> Date { addingTimeInterval(Double(d.milliseconds) / 1_000) }
}

func millis(since start: Date, _ ctx: any StepContext) -> Int64 {
    Int64((ctx.now().timeIntervalSince(start) * 1_000).rounded())
}
