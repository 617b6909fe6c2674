import CutoverCore
import CutoverCrypto
import CutoverNet
import Foundation

/// How a Google target proves who it is: a service-account key exchanged for access tokens
/// (RFC 7523), the metadata server of the Compute Engine machine cutover runs on, or nothing
/// (a local emulator). The key's text and every token stay in memory: never in the log, a
/// report or an error.
enum GoogleCredentials: Sendable {
    case serviceAccount(ServiceAccountKey)
    /// `host[:port]` of the metadata server (`GCE_METADATA_HOST`, else metadata.google.internal).
    case metadata(host: String)
    case none

    /// The scope every token asks for: Compute, Cloud DNS and Storage are all under it, and
    /// IAM roles on the service account narrow what it may do.
    static let scope = "https://www.googleapis.com/auth/cloud-platform"

    /// The credentials a target names (`credentials`): `none`, `metadata`, a secret reference
    /// holding the key's JSON (`file:/path/key.json`, `env:NAME`), or `application-default`
    /// (the default): the key file `GOOGLE_APPLICATION_CREDENTIALS` names, else the metadata
    /// server, as Google's own clients look.
    static func resolve(_ setting: String, _ secret: (String) throws -> String, environment: [String: String]) throws -> GoogleCredentials {
        let metadataHost = environment["GCE_METADATA_HOST"].flatMap { $0.isEmpty ? nil : $0 } ?? "metadata.google.internal"
        switch setting {
        case "none": return .none
        case "metadata": return .metadata(host: metadataHost)
        case "application-default":
            guard let path = environment["GOOGLE_APPLICATION_CREDENTIALS"], !path.isEmpty else { return .metadata(host: metadataHost) }
            let reference = "file:" + path
            return .serviceAccount(try ServiceAccountKey.parse(try secret(reference), source: "\(reference) (GOOGLE_APPLICATION_CREDENTIALS)"))
        default:
            return .serviceAccount(try ServiceAccountKey.parse(try secret(setting), source: setting))
        }
    }

    /// Who the tokens speak for, for messages: the service account's e-mail, or where from.
    var principal: String {
        switch self {
        case .serviceAccount(let key): "service account \(key.clientEmail) (key \(key.source))"
        case .metadata(let host): "the metadata server's default service account (\(host))"
        case .none: "no credentials"
        }
    }
}

/// A service-account key file as Google issues it (`"type": "service_account"`): only what the
/// token flow needs, the private key parsed once.
struct ServiceAccountKey: Sendable {
    let clientEmail: String
    let keyID: String
    let tokenURI: String
    let key: RSASigningKey
    /// Where the key came from (its reference), for messages.
    let source: String
    /// SHA-256 of the key's PEM: tells two keys of one account apart (a rotated or a forged
    /// one) without keeping the key's text.
    let digest: String

    /// - Throws: `StepError` (`gcp-bad-key`) naming `source` and the field at fault, never the
    ///   file's contents.
    static func parse(_ text: String, source: String) throws -> ServiceAccountKey {
        func bad(_ problem: String) -> StepError {
            StepError(
                code: "gcp-bad-key",
                message: "service-account key \(source): \(problem); download a new JSON key for the service account (IAM, Service accounts, Keys) and point the target's credentials at it",
                retryable: false)
        }
        guard let json = try? JSONValue.parse(text), json.objectValue != nil else { throw bad("not JSON") }
        guard json["type"]?.stringValue == "service_account" else {
            throw bad("\"type\" is not \"service_account\" (a user's or an external account's credentials cannot sign tokens here)")
        }
        guard let email = json["client_email"]?.stringValue, email.contains("@"), email.unicodeScalars.allSatisfy(Self.isPlain) else {
            throw bad("\"client_email\" is missing or not an e-mail address")
        }
        guard let keyID = json["private_key_id"]?.stringValue, !keyID.isEmpty, keyID.unicodeScalars.allSatisfy(Self.isPlain) else {
            throw bad("\"private_key_id\" is missing")
        }
        let tokenURI = json["token_uri"]?.stringValue ?? "https://oauth2.googleapis.com/token"
        guard URLText.isSafeTokenEndpoint(tokenURI) else {
            throw bad("\"token_uri\" must be an https:// URL (http:// only on 127.0.0.1, for an emulator)")
        }
        guard let pem = json["private_key"]?.stringValue else { throw bad("\"private_key\" is missing") }
        let key: RSASigningKey
        do {
            key = try RSASigningKey.read(pem: pem, source: "\"private_key\"")
        } catch let e as KeyError {
            throw bad(e.description)
        }
        return ServiceAccountKey(
            clientEmail: email, keyID: keyID, tokenURI: tokenURI, key: key, source: source, digest: Hex.encode(SHA256.hash(Array(pem.utf8))))
    }

    private static func isPlain(_ c: Unicode.Scalar) -> Bool { c.value > 0x20 && c.value < 0x7f && c != "\"" && c != "\\" }

    /// The audience Google's own clients (google-auth, gcloud) put in every assertion, wherever
    /// the key's `token_uri` sends it: Google's endpoint checks for it.
    static let audience = "https://oauth2.googleapis.com/token"

    /// The signed assertion (RFC 7523 §2.1) Google's token endpoint takes: the key's id in the
    /// header; the account as issuer, Google's token endpoint as audience, an hour at most.
    func assertion(now: Date) throws -> String {
        let iat = Int64(now.timeIntervalSince1970)
        let header = JSONValue.object(["alg": .string("RS256"), "typ": .string("JWT"), "kid": .string(keyID)])
        let claims = JSONValue.object([
            "iss": .string(clientEmail), "scope": .string(GoogleCredentials.scope), "aud": .string(Self.audience),
            "iat": .int(iat), "exp": .int(iat + 3600),
        ])
        let signingInput = Base64URL.encode(header.canonicalBytes) + "." + Base64URL.encode(claims.canonicalBytes)
        let signature = try key.signRS256(Array(signingInput.utf8))
        return signingInput + "." + Base64URL.encode(signature)
    }
}

extension URLText {
    /// https anywhere; http only to the loopback address (an emulator, the sandbox).
    static func isSafeTokenEndpoint(_ url: String) -> Bool {
        guard let c = URLComponents(string: url), let host = c.host, !host.isEmpty else { return false }
        return c.scheme == "https" || isLoopback(url)
    }

    /// The URL's host is exactly the loopback address (parsed, not a prefix: 127.0.0.1.evil.example is not).
    static func isLoopback(_ url: String) -> Bool {
        guard let c = URLComponents(string: url), c.scheme == "http" || c.scheme == "https", let host = c.host else { return false }
        return host == "127.0.0.1" || host == "localhost" || host == "::1" || host == "[::1]"
    }

    /// An https URL on Google's API domain.
    static func isGoogle(_ url: String) -> Bool {
        guard let c = URLComponents(string: url), c.scheme == "https", let host = c.host?.lowercased() else { return false }
        return host == "googleapis.com" || host.hasSuffix(".googleapis.com")
    }
}

/// Access tokens, cached per process until shortly before they expire, one per identity
/// (a key, the metadata server). The only place a token is held.
final class GoogleTokens: @unchecked Sendable {
    // @unchecked: `cache` is only touched under `lock`.
    static let shared = GoogleTokens()

    /// A token this close to expiry is not used: a request sent now must still carry a valid one
    /// when Google reads it.
    static let refreshMargin: TimeInterval = 300

    private struct Cached {
        var token: String
        var expires: Date
    }

    private let lock = NSLock()
    private var cache: [String: Cached] = [:]

    private func cacheKey(_ c: GoogleCredentials) -> String? {
        switch c {
        case .serviceAccount(let k): "sa \(k.clientEmail) \(k.digest) \(k.tokenURI)"
        case .metadata(let host): "metadata \(host)"
        case .none: nil
        }
    }

    /// A valid token for `credentials` (nil for `none`): the cached one, or a new one.
    func token(_ credentials: GoogleCredentials, http: HTTPClient, now: Date) async throws -> String? {
        guard let key = cacheKey(credentials) else { return nil }
        let cached = lock.withLock { cache[key] }
        if let cached, cached.expires.timeIntervalSince(now) > Self.refreshMargin { return cached.token }
        let (token, lifetime) = try await fetch(credentials, http: http, now: now)
        lock.withLock { cache[key] = Cached(token: token, expires: now.addingTimeInterval(lifetime)) }
        return token
    }

    /// Forgets the token Google refused (expired early, revoked), so the next call gets a new one.
    func forget(_ credentials: GoogleCredentials, token: String) {
        guard let key = cacheKey(credentials) else { return }
        lock.withLock { if cache[key]?.token == token { cache[key] = nil } }
    }

    private func fetch(_ credentials: GoogleCredentials, http: HTTPClient, now: Date) async throws -> (String, TimeInterval) {
        switch credentials {
        case .none:
            preconditionFailure("no token for no credentials")
        case .serviceAccount(let key):
            let assertion: String
            do {
                assertion = try key.assertion(now: now)
            } catch let e as KeyError {
                throw StepError(code: "gcp-bad-key", message: "service-account key \(key.source): \(e.description)", retryable: false)
            }
            let body = "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer&assertion=" + assertion
            let request = HTTPRequest(
                method: "POST", url: key.tokenURI, headers: [("Content-Type", "application/x-www-form-urlencoded"), ("Accept", "application/json")],
                body: Array(body.utf8), connectTimeout: .seconds(5), totalTimeout: .seconds(30), maxResponseBytes: 64 << 10)
            return try await exchange(request, http: http, for: credentials, scrub: [assertion], hint: "the key may have been deleted or disabled, or this machine's clock is off")
        case .metadata(let host):
            let request = HTTPRequest(
                url: "http://\(host)/computeMetadata/v1/instance/service-accounts/default/token", headers: [("Metadata-Flavor", "Google")],
                connectTimeout: .seconds(2), totalTimeout: .seconds(10), maxResponseBytes: 64 << 10)
            return try await exchange(request, http: http, for: credentials, scrub: [], hint: "outside Compute Engine, set the target's credentials to a service-account key (file:/path/key.json)")
        }
    }

    /// Sends a token request and reads `access_token` and `expires_in`.
    private func exchange(_ request: HTTPRequest, http: HTTPClient, for credentials: GoogleCredentials, scrub: [String], hint: String) async throws -> (String, TimeInterval) {
        let from = "the token endpoint \(request.target) for \(credentials.principal)"
        let r: HTTPResponse
        do {
            r = try await http.send(request)
        } catch let e as HTTPError {
            throw StepError(code: "gcp-token-\(e.kind.rawValue)", message: "getting an access token from \(from): \(e.description); \(hint)", retryable: e.retryable)
        }
        let json = try? JSONValue.parse(Data(r.body))
        guard (200..<300).contains(r.status) else {
            // OAuth's error shape: {"error": "invalid_grant", "error_description": "Invalid JWT Signature."}
            let reason = [json?["error"]?.stringValue, json?["error_description"]?.stringValue].compactMap { $0 }.joined(separator: ": ")
            let detail = GoogleAPI.scrubbed(reason.isEmpty ? "no OAuth error in the answer" : reason, of: scrub)
            throw StepError(
                code: "gcp-token-refused", message: "\(from) refused to issue an access token (HTTP \(r.status): \(detail)); \(hint)",
                retryable: r.status >= 500 || r.status == 429)
        }
        guard let token = json?["access_token"]?.stringValue, !token.isEmpty, token.unicodeScalars.allSatisfy({ $0.value > 0x20 && $0.value < 0x7f }) else {
            throw StepError(code: "gcp-token-garbage", message: "\(from) answered HTTP \(r.status) without an access token", retryable: true)
        }
        let lifetime = json?["expires_in"]?.doubleValue ?? 3600
        return (token, max(0, lifetime))
    }
}
