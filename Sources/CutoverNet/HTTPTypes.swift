import CutoverCore
/// One HTTP request, with the limits every call in cutover has.
public struct HTTPRequest: Sendable {
    public var method: String
    public var url: String
    public var headers: [(String, String)]
    public var body: [UInt8]?
    public var connectTimeout: Duration
    public var totalTimeout: Duration
    public var maxResponseBytes: Int
    /// How errors name the target when the URL itself is secret (a webhook with a token in
    /// its path). By default: scheme, host, port and path, without credentials or query.
    public var displayTarget: String?

    /// A last check made once the connection (and TLS) is up, right before the request is
    /// written: nil sends it, an error stops it unsent and is what `send` throws. Mutating
    /// provider calls check their run proof here, as late as the transport allows.
    public var gate: (@Sendable () -> Error?)?
    /// A body produced while it is sent (instead of `body`), for objects larger than memory.
    public var upload: HTTPUpload?
    /// Where a successful (2xx) answer's body goes as it arrives, instead of `HTTPResponse.body`;
    /// any other answer's body is kept as usual, for its error message.
    public var download: HTTPDownload?
    /// For long transfers: give up when fewer than 1,024 bytes a second moved for this long
    /// (the total timeout still applies).
    public var stallTimeout: Duration?

    public init(
        method: String = "GET", url: String, headers: [(String, String)] = [], body: [UInt8]? = nil,
        connectTimeout: Duration = .seconds(5), totalTimeout: Duration = .seconds(30),
        maxResponseBytes: Int = 4 << 20, displayTarget: String? = nil, gate: (@Sendable () -> Error?)? = nil
    ) {
        self.gate = gate
        self.method = method
        self.url = url
        self.headers = headers
        self.body = body
        self.connectTimeout = connectTimeout
        self.totalTimeout = totalTimeout
        self.maxResponseBytes = maxResponseBytes
        self.displayTarget = displayTarget
    }

    /// The target as errors show it.
    public var target: String { displayTarget ?? HTTPRequest.redacted(url) }

    /// `url` without user info and query, which may carry credentials.
    public static func redacted(_ url: String) -> String { URLText.redacted(url) }
}

public struct HTTPResponse: Sendable {
    public var status: Int
    /// Header names in lower case.
    public var headers: [String: String]
    public var body: [UInt8]
    public var duration: Duration

    public init(status: Int, headers: [String: String], body: [UInt8], duration: Duration) {
        self.status = status
        self.headers = headers
        self.body = body
        self.duration = duration
    }

    public var text: String { String(decoding: body, as: UTF8.self) }

    /// The first 120 bytes of a body that is not what the protocol says, quoted on one line,
    /// for an error message.
    public static func snippet(_ body: [UInt8]) -> String {
        let text = String(decoding: body.prefix(120), as: UTF8.self).replacingOccurrences(of: "\n", with: " ")
        return body.count > 120 ? "\"\(text)…\"" : "\"\(text)\""
    }
}

/// A request body of exactly `length` bytes, read as it is sent.
public struct HTTPUpload: Sendable {
    public var length: Int64
    /// Fills the buffer and says how many bytes it put there (0 only at the end), or nil to
    /// abort: the body is then incomplete, so the server stores nothing.
    public var read: @Sendable (UnsafeMutableRawBufferPointer) -> Int?

    public init(length: Int64, read: @escaping @Sendable (UnsafeMutableRawBufferPointer) -> Int?) {
        self.length = length
        self.read = read
    }
}

/// Where the body of a successful answer goes, piece by piece.
public struct HTTPDownload: Sendable {
    /// Takes the next bytes; false stops the transfer (`send` then throws `.cancelled`).
    public var write: @Sendable (UnsafeRawBufferPointer) -> Bool

    public init(write: @escaping @Sendable (UnsafeRawBufferPointer) -> Bool) { self.write = write }
}

/// A request that got no usable response, classified for retries.
public struct HTTPError: Error, Sendable, CustomStringConvertible {
    public enum Kind: String, Sendable {
        case connectionRefused = "connection-refused"
        case timeout
        case dns
        case tls
        case responseTooLarge = "response-too-large"
        case cancelled
        case other
    }

    public var kind: Kind
    public var target: String
    public var detail: String

    public init(kind: Kind, target: String, detail: String) {
        self.kind = kind
        self.target = target
        self.detail = detail
    }

    /// Connection refused, timeouts and name lookups can pass; the rest will not by waiting.
    public var retryable: Bool {
        switch kind {
        case .connectionRefused, .timeout, .dns, .other: true
        case .tls, .responseTooLarge, .cancelled: false
        }
    }

    public var description: String {
        switch kind {
        case .connectionRefused: "\(target): connection refused; is the service up and listening? (\(detail))"
        case .timeout: "\(target): no answer in time (\(detail))"
        case .dns: "\(target): host name does not resolve (\(detail))"
        case .tls: "\(target): TLS failed; check the certificate and the CA bundle (\(detail))"
        case .responseTooLarge: "\(target): response larger than the limit (\(detail))"
        case .cancelled: "\(target): request cancelled"
        case .other: "\(target): \(detail)"
        }
    }
}
