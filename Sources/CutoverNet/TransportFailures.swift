import CutoverCore

// The transport's failures as step errors: a stable code, the target, retryable when waiting
// could help (refused, timeouts, garbage); never a credential (targets are redacted).

extension SocketError: StepFailure {
    public func stepError(doing what: String) -> StepError {
        StepError(code: "net-\(kind.rawValue)", message: "\(what): \(description)", retryable: retryable)
    }
}

extension HTTPError: StepFailure {
    public func stepError(doing what: String) -> StepError {
        StepError(code: "http-\(kind.rawValue)", message: "\(what): \(description)", retryable: retryable)
    }
}

extension DNSError: StepFailure {
    public func stepError(doing what: String) -> StepError {
        StepError(code: "dns-garbage", message: "\(what): \(description)", retryable: true)
    }
}
