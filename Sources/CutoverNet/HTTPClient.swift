import Dispatch
import Foundation
internal import CCurl

/// HTTP over libcurl. Each transfer runs on its own thread, so the cooperative pool is never
/// blocked and slow targets never queue behind each other (the global dispatch queue runs
/// only as many blocking jobs as there are cores); cancelling the calling task aborts the
/// transfer. TLS verification stays on.
public struct HTTPClient: Sendable {
    public init() {}

    /// libcurl, loaded and set up at the first transfer (not at start: see CCurl/lazy.h), and
    /// looked for again at the next while it cannot be; nil when it is ready, else why not.
    static var unavailable: String? {
        withUnsafeTemporaryAllocation(of: CChar.self, capacity: 512) { why in
            cutover_curl_unavailable(why.baseAddress, why.count) == 0 ? nil : String(cString: why.baseAddress!) + "; install libcurl4 (scripts/install-deps)"
        }
    }

    /// Sends `request` and returns whatever status came back.
    /// - Throws: `HTTPError` when no response arrived (refused, timed out, too large, TLS).
    public func send(_ request: HTTPRequest) async throws -> HTTPResponse {
        let transfer = Transfer(request)
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (c: CheckedContinuation<HTTPResponse, Error>) in
                Thread.detachNewThread { c.resume(with: transfer.perform()) }
            }
        } onCancel: {
            transfer.cancel()
        }
    }

    /// What opening a connection took: the TCP connection (nil when none was made), the TLS
    /// handshake after it (https only; how long it ran, even when it failed), and the error.
    public struct Handshake: Sendable {
        public var connect: Duration?
        public var tls: Duration?
        public var elapsed: Duration
        public var error: HTTPError?
    }

    /// Opens a connection to `url`'s host and port and, for `https`, completes the TLS
    /// handshake with the certificate verified; sends nothing and closes. `direct` ignores the
    /// environment's proxy settings (for a connection that is not HTTP).
    public func handshake(_ url: String, timeout: Duration, direct: Bool) async -> Handshake {
        let target = HTTPRequest.redacted(url)
        return await withCheckedContinuation { c in
            Thread.detachNewThread {
                if let why = HTTPClient.unavailable {
                    c.resume(returning: Handshake(connect: nil, tls: nil, elapsed: .zero, error: HTTPError(kind: .other, target: target, detail: why)))
                    return
                }
                guard let handle = cutover_curl_easy_init() else {
                    c.resume(returning: Handshake(connect: nil, tls: nil, elapsed: .zero, error: HTTPError(kind: .other, target: target, detail: "libcurl could not start a connection")))
                    return
                }
                defer { cutover_curl_easy_cleanup(handle) }
                cutover_curl_setopt_string(handle, CURLOPT_URL, url)
                cutover_curl_setopt_long(handle, CURLOPT_CONNECT_ONLY, 1)
                cutover_curl_setopt_long(handle, CURLOPT_NOSIGNAL, 1)
                cutover_curl_setopt_long(handle, CURLOPT_SSL_VERIFYPEER, 1)
                cutover_curl_setopt_long(handle, CURLOPT_SSL_VERIFYHOST, 2)
                cutover_curl_setopt_long(handle, CURLOPT_CONNECTTIMEOUT_MS, timeout.wholeMilliseconds)
                cutover_curl_setopt_long(handle, CURLOPT_TIMEOUT_MS, timeout.wholeMilliseconds)
                cutover_curl_setopt_string(handle, CURLOPT_PROTOCOLS_STR, "http,https")
                if direct { cutover_curl_setopt_string(handle, CURLOPT_NOPROXY, "*") }
                let rc = cutover_curl_easy_perform(handle)
                // Both times count from the start; the handshake is what follows the connection.
                var connect = 0.0, appConnect = 0.0, total = 0.0
                cutover_curl_getinfo_double(handle, CURLINFO_CONNECT_TIME, &connect)
                cutover_curl_getinfo_double(handle, CURLINFO_APPCONNECT_TIME, &appConnect)
                cutover_curl_getinfo_double(handle, CURLINFO_TOTAL_TIME, &total)
                func duration(_ seconds: Double) -> Duration { .microseconds(Int64(max(0, seconds) * 1e6)) }
                let secure = url.lowercased().hasPrefix("https:")
                let connected = connect > 0 ? duration(connect) : nil
                let error = rc == CURLE_OK ? nil : HTTPError(kind: HTTPError.Kind(rc), target: target, detail: String(cString: cutover_curl_easy_strerror(rc)))
                var tls: Duration?
                if secure, connected != nil { tls = duration((rc == CURLE_OK ? appConnect : total) - connect) }
                c.resume(returning: Handshake(connect: connected, tls: tls, elapsed: duration(total), error: error))
            }
        }
    }
}

extension HTTPError.Kind {
    /// What a curl failure means for people.
    fileprivate init(_ rc: CURLcode) {
        switch rc {
        case CURLE_COULDNT_CONNECT: self = .connectionRefused
        case CURLE_OPERATION_TIMEDOUT: self = .timeout
        case CURLE_COULDNT_RESOLVE_HOST: self = .dns
        case CURLE_PEER_FAILED_VERIFICATION, CURLE_SSL_CONNECT_ERROR, CURLE_SSL_CACERT_BADFILE: self = .tls
        case CURLE_ABORTED_BY_CALLBACK: self = .cancelled
        default: self = .other
        }
    }
}

/// One curl easy handle's transfer. Its buffers are touched by the curl callbacks on the one
/// thread that runs `perform`; only `cancelled` crosses threads, under `lock`.
private final class Transfer: @unchecked Sendable {
    let request: HTTPRequest
    var body: [UInt8] = []
    var headers: [String: String] = [:]
    var tooLarge = false
    /// The easy handle while `perform` runs, for the callbacks.
    var handle: UnsafeMutableRawPointer?
    /// The answer's status once its headers are in (0 before), for `download`.
    var status = 0
    /// What the request's gate refused it with, when it did (nothing was sent).
    var refused: Error?
    private let lock = NSLock()
    private var cancelledFlag = false

    init(_ request: HTTPRequest) { self.request = request }

    var cancelled: Bool {
        lock.lock()
        defer { lock.unlock() }
        return cancelledFlag
    }

    func cancel() {
        lock.lock()
        cancelledFlag = true
        lock.unlock()
    }

    func perform() -> Result<HTTPResponse, Error> {
        if let why = HTTPClient.unavailable { return .failure(HTTPError(kind: .other, target: request.target, detail: why)) }
        guard let handle = cutover_curl_easy_init() else {
            return .failure(HTTPError(kind: .other, target: request.target, detail: "libcurl could not start a transfer"))
        }
        defer { cutover_curl_easy_cleanup(handle) }
        var headerList: UnsafeMutablePointer<curl_slist>?
        defer { cutover_curl_slist_free_all(headerList) }

        cutover_curl_setopt_string(handle, CURLOPT_URL, request.url)
        cutover_curl_setopt_long(handle, CURLOPT_NOSIGNAL, 1)
        cutover_curl_setopt_long(handle, CURLOPT_SSL_VERIFYPEER, 1)
        cutover_curl_setopt_long(handle, CURLOPT_SSL_VERIFYHOST, 2)
        cutover_curl_setopt_long(handle, CURLOPT_CONNECTTIMEOUT_MS, request.connectTimeout.wholeMilliseconds)
        cutover_curl_setopt_long(handle, CURLOPT_TIMEOUT_MS, request.totalTimeout.wholeMilliseconds)
        cutover_curl_setopt_long(handle, CURLOPT_FOLLOWLOCATION, 0)
        cutover_curl_setopt_string(handle, CURLOPT_USERAGENT, "cutover/0.1")
        cutover_curl_setopt_string(handle, CURLOPT_PROTOCOLS_STR, "http,https")
        if request.method == "HEAD" {
            cutover_curl_setopt_long(handle, CURLOPT_NOBODY, 1)
        } else if request.method != "GET" || request.body != nil {
            cutover_curl_setopt_string(handle, CURLOPT_CUSTOMREQUEST, request.method)
        }
        if let upload = request.upload {
            cutover_curl_setopt_long(handle, CURLOPT_UPLOAD, 1)
            cutover_curl_setopt_string(handle, CURLOPT_CUSTOMREQUEST, request.method)
            cutover_curl_setopt_offset(handle, CURLOPT_INFILESIZE_LARGE, curl_off_t(upload.length))
            cutover_curl_setopt_long(handle, CURLOPT_UPLOAD_BUFFERSIZE, 1 << 20)
        }
        if request.download != nil { cutover_curl_setopt_long(handle, CURLOPT_BUFFERSIZE, 256 << 10) }
        if let stall = request.stallTimeout {
            cutover_curl_setopt_long(handle, CURLOPT_LOW_SPEED_LIMIT, 1_024)
            cutover_curl_setopt_long(handle, CURLOPT_LOW_SPEED_TIME, max(1, stall.wholeMilliseconds / 1_000))
        }
        for (name, value) in request.headers { headerList = cutover_curl_slist_append(headerList, "\(name): \(value)") }
        // An empty Expect avoids curl's 1-second wait for "100 Continue" on larger bodies.
        headerList = cutover_curl_slist_append(headerList, "Expect:")
        cutover_curl_setopt_slist(handle, CURLOPT_HTTPHEADER, headerList)

        self.handle = handle
        let me = Unmanaged.passUnretained(self).toOpaque()
        var payload = request.body ?? []
        let rc: CURLcode = payload.withUnsafeMutableBytes { raw in
            if request.upload != nil {
                cutover_curl_setopt_read(handle, { data, size, count, user in
                    let t = Unmanaged<Transfer>.fromOpaque(user!).takeUnretainedValue()
                    guard let data, let n = t.request.upload?.read(UnsafeMutableRawBufferPointer(start: data, count: size * count)) else {
                        return cutover_curl_readfunc_abort()
                    }
                    return n
                })
                cutover_curl_setopt_pointer(handle, CURLOPT_READDATA, me)
            } else if request.body != nil {
                cutover_curl_setopt_long(handle, CURLOPT_POSTFIELDSIZE, raw.count)
                cutover_curl_setopt_pointer(handle, CURLOPT_POSTFIELDS, raw.baseAddress ?? UnsafeMutableRawPointer(bitPattern: 1))
            }
            cutover_curl_setopt_write(handle, CURLOPT_WRITEFUNCTION, { data, size, count, user in
                let t = Unmanaged<Transfer>.fromOpaque(user!).takeUnretainedValue()
                let n = size * count
                if let download = t.request.download {
                    if t.status == 0 { cutover_curl_getinfo_long(t.handle, CURLINFO_RESPONSE_CODE, &t.status) }
                    if (200..<300).contains(t.status) {
                        return download.write(UnsafeRawBufferPointer(start: data, count: n)) ? n : 0
                    }
                }
                if t.body.count + n > t.request.maxResponseBytes {
                    t.tooLarge = true
                    return 0
                }
                if let data { t.body.append(contentsOf: UnsafeRawBufferPointer(start: data, count: n)) }
                return n
            })
            cutover_curl_setopt_pointer(handle, CURLOPT_WRITEDATA, me)
            cutover_curl_setopt_write(handle, CURLOPT_HEADERFUNCTION, { data, size, count, user in
                let t = Unmanaged<Transfer>.fromOpaque(user!).takeUnretainedValue()
                let n = size * count
                if let data {
                    let line = String(decoding: UnsafeRawBufferPointer(start: data, count: n), as: UTF8.self)
                    if let colon = line.firstIndex(of: ":") {
                        let name = line[..<colon].lowercased()
                        t.headers[name] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespacesAndNewlines)
                    }
                }
                return n
            })
            cutover_curl_setopt_pointer(handle, CURLOPT_HEADERDATA, me)
            cutover_curl_setopt_long(handle, CURLOPT_NOPROGRESS, 0)
            cutover_curl_setopt_progress(handle, { user, _, _, _, _ in
                Unmanaged<Transfer>.fromOpaque(user!).takeUnretainedValue().cancelled ? 1 : 0
            })
            cutover_curl_setopt_pointer(handle, CURLOPT_XFERINFODATA, me)
            if request.gate != nil {
                cutover_curl_setopt_prereq(handle, { user, _, _, _, _ in
                    let t = Unmanaged<Transfer>.fromOpaque(user!).takeUnretainedValue()
                    t.refused = t.request.gate?()
                    return t.refused == nil ? 0 : 1  // CURL_PREREQFUNC_OK, CURL_PREREQFUNC_ABORT
                })
                cutover_curl_setopt_pointer(handle, CURLOPT_PREREQDATA, me)
            }
            return cutover_curl_easy_perform(handle)
        }
        if let refused { return .failure(refused) }
        if rc != CURLE_OK { return .failure(error(for: rc)) }
        var status = 0
        cutover_curl_getinfo_long(handle, CURLINFO_RESPONSE_CODE, &status)
        var seconds = 0.0
        cutover_curl_getinfo_double(handle, CURLINFO_TOTAL_TIME, &seconds)
        return .success(HTTPResponse(status: status, headers: headers, body: body, duration: .milliseconds(Int64(seconds * 1_000))))
    }

    private func error(for rc: CURLcode) -> HTTPError {
        let detail = String(cString: cutover_curl_easy_strerror(rc))
        switch rc {
        case CURLE_WRITE_ERROR where tooLarge:
            return HTTPError(kind: .responseTooLarge, target: request.target, detail: "more than \(request.maxResponseBytes) bytes")
        case CURLE_WRITE_ERROR where request.download != nil:
            return HTTPError(kind: .cancelled, target: request.target, detail: detail)
        default:
            return HTTPError(kind: HTTPError.Kind(rc), target: request.target, detail: detail)
        }
    }
}

extension Duration {
    fileprivate var wholeMilliseconds: Int {
        let (s, atto) = components
        return Int(s * 1_000 + atto / 1_000_000_000_000_000)
    }
}
