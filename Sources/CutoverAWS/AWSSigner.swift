import CutoverCore
import CutoverCrypto
import Foundation

/// AWS credentials, resolved from references at execution time and never logged.
public struct AWSCredentials: Sendable {
    public var accessKey: String
    public var secretKey: String
    public var sessionToken: String?

    public init(accessKey: String, secretKey: String, sessionToken: String? = nil) {
        self.accessKey = accessKey
        self.secretKey = secretKey
        self.sessionToken = sessionToken
    }
}

/// AWS Signature Version 4 (the `AWS4-HMAC-SHA256` Authorization header).
///
/// Steps, as AWS documents them: a canonical request (method, URI, sorted query, sorted
/// lower-case headers, signed header names, payload hash), a string to sign (algorithm,
/// time, scope, hash of the canonical request), a key derived by HMAC-chaining the date,
/// region, service and `aws4_request` from `AWS4` + secret, and the HMAC of the string.
public struct AWSSigner: Sendable {
    public var credentials: AWSCredentials
    public var region: String
    public var service: String
    /// Generic services normalize the path (`/a/../b` -> `/b`) and encode it twice; S3 does neither.
    public var normalizePath: Bool
    /// S3 wants the payload hash in `x-amz-content-sha256`.
    public var sendContentHash: Bool

    public init(credentials: AWSCredentials, region: String, service: String) {
        self.credentials = credentials
        self.region = region
        self.service = service
        normalizePath = service != "s3"
        sendContentHash = service == "s3"
    }

    /// Everything the signature covers, and the signature itself.
    public struct Signature: Sendable {
        public var canonicalRequest: String
        public var stringToSign: String
        public var authorization: String
        /// Headers to add to the request: the Authorization header and any `x-amz-*` added.
        public var headers: [(String, String)]
    }

    /// Signs a request.
    /// - Parameters:
    ///   - path: the URI path as it goes on the wire (already percent-encoded where needed).
    ///   - query: the raw query string, without `?`.
    ///   - headers: the headers to sign, in any order; must include `Host`. `X-Amz-Date` is
    ///     added from `date` when missing.
    ///   - payloadHash: what stands for the body's hash when the body is streamed
    ///     (`UNSIGNED-PAYLOAD`, which S3 accepts); nil hashes `body`.
    public func sign(
        method: String, path: String, query: String, headers: [(String, String)], body: [UInt8], date: Date, payloadHash: String? = nil
    ) -> Signature {
        let amzDate = AWSSigner.amzDate(date)
        var all = headers
        var added: [(String, String)] = []
        if !all.contains(where: { $0.0.lowercased() == "x-amz-date" }) {
            added.append(("X-Amz-Date", amzDate))
        }
        let payloadHash = payloadHash ?? Hex.encode(SHA256.hash(body))
        if sendContentHash, !all.contains(where: { $0.0.lowercased() == "x-amz-content-sha256" }) {
            added.append(("X-Amz-Content-Sha256", payloadHash))
        }
        if let token = credentials.sessionToken, !all.contains(where: { $0.0.lowercased() == "x-amz-security-token" }) {
            added.append(("X-Amz-Security-Token", token))
        }
        all += added
        let time = all.first { $0.0.lowercased() == "x-amz-date" }?.1 ?? amzDate
        let day = String(time.prefix(8))

        let (canonicalHeaders, signedHeaders) = AWSSigner.canonicalHeaders(all)
        let canonicalRequest = [
            method.uppercased(),
            canonicalURI(path),
            AWSSigner.canonicalQuery(query),
            canonicalHeaders,
            signedHeaders,
            payloadHash,
        ].joined(separator: "\n")
        let scope = "\(day)/\(region)/\(service)/aws4_request"
        let stringToSign = ["AWS4-HMAC-SHA256", time, scope, Hex.encode(SHA256.hash(Array(canonicalRequest.utf8)))].joined(separator: "\n")
        let key = AWSSigner.signingKey(secret: credentials.secretKey, day: day, region: region, service: service)
        let signature = Hex.encode(HMACSHA256.mac(key: key, message: Array(stringToSign.utf8)))
        let authorization = "AWS4-HMAC-SHA256 Credential=\(credentials.accessKey)/\(scope), SignedHeaders=\(signedHeaders), Signature=\(signature)"
        return Signature(
            canonicalRequest: canonicalRequest, stringToSign: stringToSign, authorization: authorization,
            headers: added + [("Authorization", authorization)])
    }

    /// The key for one day, region and service.
    public static func signingKey(secret: String, day: String, region: String, service: String) -> [UInt8] {
        var key = HMACSHA256.mac(key: Array("AWS4\(secret)".utf8), message: Array(day.utf8))
        for part in [region, service, "aws4_request"] { key = HMACSHA256.mac(key: key, message: Array(part.utf8)) }
        return key
    }

    /// `20150830T123600Z`.
    public static func amzDate(_ date: Date) -> String {
        let seconds = Int64(date.timeIntervalSince1970.rounded(.down))
        let days = seconds >= 0 ? seconds / 86_400 : (seconds - 86_399) / 86_400
        let rest = seconds - days * 86_400
        let (y, m, d) = civil(fromDays: days)
        func two(_ n: Int64) -> String { n < 10 ? "0\(n)" : "\(n)" }
        return "\(y)\(two(m))\(two(d))T\(two(rest / 3_600))\(two(rest % 3_600 / 60))\(two(rest % 60))Z"
    }

    /// Days since 1970-01-01 to a proleptic Gregorian date (Howard Hinnant's algorithm).
    static func civil(fromDays z0: Int64) -> (Int64, Int64, Int64) {
        let z = z0 + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let d = doy - (153 * mp + 2) / 5 + 1
        let m = mp < 10 ? mp + 3 : mp - 9
        return (yoe + era * 400 + (m <= 2 ? 1 : 0), m, d)
    }

    func canonicalURI(_ path: String) -> String {
        guard normalizePath else {
            // S3: the path as sent, each byte outside the unreserved set encoded once.
            return AWSSigner.encode(AWSSigner.percentDecoded(path), keepSlash: true)
        }
        var segments: [Substring] = []
        for segment in path.split(separator: "/", omittingEmptySubsequences: true) {
            if segment == "." { continue }
            if segment == ".." {
                _ = segments.popLast()
                continue
            }
            segments.append(segment)
        }
        var out = "/" + segments.map { AWSSigner.encode(String($0), keepSlash: false) }.joined(separator: "/")
        if path.hasSuffix("/"), !segments.isEmpty { out += "/" }
        return out
    }

    /// Sorted `key=value` pairs, each side decoded then encoded the AWS way.
    static func canonicalQuery(_ query: String) -> String {
        guard !query.isEmpty else { return "" }
        let pairs: [(String, String)] = query.split(separator: "&", omittingEmptySubsequences: true).map { item in
            let parts = item.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            let key = encode(percentDecoded(String(parts[0])), keepSlash: false)
            let value = parts.count > 1 ? encode(percentDecoded(String(parts[1])), keepSlash: false) : ""
            return (key, value)
        }
        return pairs.sorted { $0.0 == $1.0 ? $0.1 < $1.1 : $0.0 < $1.0 }.map { "\($0.0)=\($0.1)" }.joined(separator: "&")
    }

    /// Lower-case names, sorted; values trimmed with inner runs of spaces collapsed; repeated
    /// headers joined by commas in the order they came; folded lines joined by commas too.
    static func canonicalHeaders(_ headers: [(String, String)]) -> (String, String) {
        var values: [String: [String]] = [:]
        for (name, value) in headers {
            let lines = value.split(separator: "\n", omittingEmptySubsequences: true).map { collapse(String($0)) }
            values[name.lowercased(), default: []].append(lines.joined(separator: ","))
        }
        let names = values.keys.sorted()
        let block = names.map { "\($0):\(values[$0]!.joined(separator: ","))\n" }.joined()
        return (block, names.joined(separator: ";"))
    }

    private static func collapse(_ s: String) -> String {
        var out = ""
        var lastSpace = false
        for ch in s.trimmingCharacters(in: .whitespaces) {
            if ch == " " || ch == "\t" {
                if !lastSpace { out.append(" ") }
                lastSpace = true
            } else {
                out.append(ch)
                lastSpace = false
            }
        }
        return out
    }

    /// Percent-encodes every byte outside `A-Z a-z 0-9 - _ . ~` (and `/` when kept), as SigV4 wants.
    public static func encode(_ s: String, keepSlash: Bool) -> String {
        URLText.percentEncoded(s, keepSlash: keepSlash)
    }

    static func percentDecoded(_ s: String) -> String {
        guard s.contains("%") else { return s }
        var bytes: [UInt8] = []
        var u = Array(s.utf8)[...]
        while let b = u.popFirst() {
            if b == UInt8(ascii: "%"), u.count >= 2, let v = UInt8(String(decoding: u.prefix(2), as: UTF8.self), radix: 16) {
                bytes.append(v)
                u = u.dropFirst(2)
            } else {
                bytes.append(b)
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}
