import CutoverCore
import CutoverCrypto
import CutoverNet
import Foundation

/// `gcp-sm:projects/P/secrets/S/versions/V` references, read from Google Secret Manager
/// (`versions.access`) as this process's own Google identity, found as Google's clients find
/// it: the key file `GOOGLE_APPLICATION_CREDENTIALS` names, else the metadata server of the
/// machine (`GCE_METADATA_HOST`). The endpoint is `CLOUDSDK_API_ENDPOINT_OVERRIDES_SECRETMANAGER`
/// (gcloud's own setting), else Google's. The payload's CRC32C is checked when it comes with one.
public struct GoogleSecretManager: SecretSource {
    public let scheme = "gcp-sm"
    let http: HTTPClient
    let environment: [String: String]

    public init(http: HTTPClient, environment: [String: String]) {
        self.http = http
        self.environment = environment
    }

    public func read(_ name: String) async throws -> String {
        let reference = "\(scheme):\(name)"
        func missing(_ why: String, retryable: Bool = false) -> StepError {
            StepError(code: "secret-missing", message: "secret \(reference): \(why)", retryable: retryable)
        }
        let credentials = try GoogleCredentials.resolve("application-default", { ref in
            let path = String(ref.dropFirst("file:".count))
            guard let data = FileManager.default.contents(atPath: path), let text = String(data: data, encoding: .utf8) else {
                throw missing("the key file GOOGLE_APPLICATION_CREDENTIALS names (\(path)) cannot be read")
            }
            return text
        }, environment: environment)
        // gcloud's override names the API's root with its version: http://host:port/v1/ or http://host:port/
        var endpoint = environment["CLOUDSDK_API_ENDPOINT_OVERRIDES_SECRETMANAGER"].flatMap { $0.isEmpty ? nil : $0 } ?? "https://secretmanager.googleapis.com/"
        if !endpoint.hasSuffix("/") { endpoint += "/" }
        if endpoint.hasSuffix("/v1/") { endpoint = String(endpoint.dropLast("v1/".count)) }
        let api = GoogleAPI(service: "Secret Manager", endpoint: endpoint, basePath: "v1/", credentials: credentials, http: http)
        let answer: JSONValue
        do {
            answer = try await api.call("GET", name + ":access", what: "reading \(reference)")
        } catch let e as GoogleError {
            switch e.code {
            case "NOT_FOUND": throw missing("Secret Manager has no such secret or version")
            case "PERMISSION_DENIED", "UNAUTHENTICATED", "forbidden":
                throw missing("Secret Manager refused \(credentials.principal) (\(e.code)): grant it roles/secretmanager.secretAccessor on the secret")
            case "FAILED_PRECONDITION": throw missing("the version is disabled or destroyed: name an enabled one, or latest")
            default: throw missing("Secret Manager did not answer with it: \(e.message)", retryable: e.retryable)
            }
        }
        guard let data = answer["payload"]?["data"]?.stringValue, let bytes = Data(base64Encoded: data) else {
            throw missing("Secret Manager's answer has no payload data", retryable: true)
        }
        if let sent = answer["payload"]?["dataCrc32c"], let expected = sent.stringValue.flatMap({ UInt32($0) }) ?? sent.intValue.flatMap({ UInt32(exactly: $0) }) {
            guard CRC32C.checksum(Array(bytes)) == expected else {
                throw missing("the payload does not match its CRC32C (damaged on the way)", retryable: true)
            }
        }
        guard let text = String(data: bytes, encoding: .utf8) else { throw missing("its value is not UTF-8 text") }
        return text.hasSuffix("\n") ? String(text.dropLast()) : text
    }
}
