import CutoverCore
import CutoverNet
import Foundation

/// `aws-sm:NAME` references, read from AWS Secrets Manager (`GetSecretValue`, its JSON
/// protocol) as this process's own AWS identity: `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`
/// and `AWS_SESSION_TOKEN`, as the AWS CLI reads them. NAME is the secret's name or ARN; a
/// `#KEY` after it picks one key of a secret whose text is a JSON object (`aws-sm:prod/db#password`).
/// The region is the ARN's, else `AWS_REGION` / `AWS_DEFAULT_REGION`; the endpoint
/// `AWS_ENDPOINT_URL_SECRETS_MANAGER`, else `AWS_ENDPOINT_URL`, else AWS's own.
public struct AWSSecretsManager: SecretSource {
    public let scheme = "aws-sm"
    let http: HTTPClient
    let environment: [String: String]

    public init(http: HTTPClient, environment: [String: String]) {
        self.http = http
        self.environment = environment
    }

    public func read(_ name: String) async throws -> String {
        let reference = "\(scheme):\(name)"
        let parts = name.split(separator: "#", maxSplits: 1).map(String.init)
        let id = parts[0], key = parts.count > 1 ? parts[1] : nil
        func missing(_ why: String, retryable: Bool = false) -> StepError {
            StepError(code: "secret-missing", message: "secret \(reference): \(why)", retryable: retryable)
        }
        // arn:aws:secretsmanager:REGION:ACCOUNT:secret:NAME
        let arn = id.split(separator: ":", omittingEmptySubsequences: false)
        let region = id.hasPrefix("arn:") && arn.count >= 7 ? String(arn[3]) : (environment["AWS_REGION"] ?? environment["AWS_DEFAULT_REGION"])
        guard let region, !region.isEmpty else {
            throw missing("no region: give the secret's ARN, or set AWS_REGION where cutover runs")
        }
        guard let accessKey = environment["AWS_ACCESS_KEY_ID"], !accessKey.isEmpty, let secretKey = environment["AWS_SECRET_ACCESS_KEY"], !secretKey.isEmpty else {
            throw missing("no AWS identity to read it as: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (a role allowed secretsmanager:GetSecretValue on it)")
        }
        let endpoint = [environment["AWS_ENDPOINT_URL_SECRETS_MANAGER"], environment["AWS_ENDPOINT_URL"]].compactMap { $0 }.first { !$0.isEmpty }
            ?? "https://secretsmanager.\(region).amazonaws.com"
        let signer = AWSSigner(
            credentials: AWSCredentials(accessKey: accessKey, secretKey: secretKey, sessionToken: environment["AWS_SESSION_TOKEN"].flatMap { $0.isEmpty ? nil : $0 }),
            region: region, service: "secretsmanager")
        let client = AWSClient(endpoint: endpoint, signer: signer, http: http)
        let answer: HTTPResponse
        do {
            answer = try await client.rest(
                method: "POST", path: "/",
                headers: [("Content-Type", "application/x-amz-json-1.1"), ("X-Amz-Target", "secretsmanager.GetSecretValue")],
                body: JSONValue.object(["SecretId": .string(id)]).canonicalBytes, maxResponseBytes: 1 << 20, what: "GetSecretValue \(id)")
        } catch let e as AWSError {
            switch e.code {
            case "ResourceNotFoundException": throw missing("Secrets Manager in \(region) has no such secret (or no current version)")
            case "AccessDeniedException", "UnrecognizedClientException", "InvalidSignatureException":
                throw missing("Secrets Manager refused this process's AWS identity (\(e.code)): allow it secretsmanager:GetSecretValue on the secret")
            case "DecryptionFailure": throw missing("Secrets Manager could not decrypt it with its KMS key (DecryptionFailure)")
            default: throw missing("Secrets Manager did not answer with it: \(e.description)", retryable: e.retryable)
            }
        }
        guard let json = try? JSONValue.parse(Data(answer.body)), json.objectValue != nil else {
            throw missing("Secrets Manager answered with something that is not JSON", retryable: true)
        }
        let text: String
        if let s = json["SecretString"]?.stringValue {
            text = s
        } else if let b = json["SecretBinary"]?.stringValue, let data = Data(base64Encoded: b), let s = String(data: data, encoding: .utf8) {
            text = s
        } else {
            throw missing("its value is neither text nor UTF-8 bytes")
        }
        guard let key else { return text }
        guard let picked = (try? JSONValue.parse(text))?[key] else {
            throw missing("its value is not a JSON object with the key \"\(key)\"")
        }
        guard let value = picked.stringValue ?? (picked.intValue.map { String($0) }) else {
            throw missing("the key \"\(key)\" does not hold text")
        }
        return value
    }
}
