/// The canonical text of the frequent payloads, written directly: the same bytes the Codable
/// path gives (a test holds them equal), without Foundation's encoder and the parse after it,
/// which were most of a no-op step's cost.
extension EventBody {
    /// The canonical payload of the types written by hand; nil for the others.
    func canonicalPayloadByHand() -> String? {
        var o = ""
        func key(_ k: String, first: Bool = false) {
            o += first ? "{\"" : ",\""
            o += k
            o += "\":"
        }
        func string(_ s: String) { JSONValue.writeQuoted(s, into: &o) }
        func attempt(_ p: StepAttempt) {
            key("attempt", first: true)
            o += String(p.attempt)
            key("step")
            string(p.step)
            o += "}"
        }
        func failure(_ p: StepFailed) {
            key("attempt", first: true)
            o += String(p.attempt)
            key("error")
            o += "{\"code\":"
            string(p.error.code)
            o += ",\"message\":"
            string(p.error.message)
            o += ",\"retryable\":"
            o += p.error.retryable ? "true" : "false"
            o += "}"
            if let r = p.retryAtMillis {
                key("retryAtMillis")
                o += String(r)
            }
            key("step")
            string(p.step)
            o += "}"
        }
        func signal(_ p: Signal) {
            if let reason = p.reason {
                key("reason", first: true)
                string(reason)
                o += "}"
            } else {
                o += "{}"
            }
        }
        switch self {
        case .stepStarted(let p), .compensationStarted(let p), .compensationSucceeded(let p): attempt(p)
        case .stepFailed(let p), .compensationFailed(let p): failure(p)
        case .stepSucceeded(let p):
            key("attempt", first: true)
            o += String(p.attempt)
            key("observed")
            o += p.observed ? "true" : "false"
            key("output")
            p.output.writeCanonical(into: &o)
            key("step")
            string(p.step)
            o += "}"
        case .driverAttached(let p):
            key("owner", first: true)
            string(p.owner)
            key("resumed")
            o += p.resumed ? "true" : "false"
            o += "}"
        case .stepNote(let p):
            key("message", first: true)
            string(p.message)
            key("step")
            string(p.step)
            o += "}"
        case .timerSet(let p):
            key("name", first: true)
            string(p.name)
            key("step")
            string(p.step)
            key("untilMillis")
            o += String(p.untilMillis)
            o += "}"
        case .beforeRecorded(let p):
            key("attempt", first: true)
            o += String(p.attempt)
            key("state")
            p.state.writeCanonical(into: &o)
            key("step")
            string(p.step)
            o += "}"
        case .pauseRequested(let p), .resumeRequested(let p), .abortRequested(let p), .rollbackRequested(let p), .runPaused(let p),
            .runResumed(let p):
            signal(p)
        default:
            return nil
        }
        return o
    }
}
