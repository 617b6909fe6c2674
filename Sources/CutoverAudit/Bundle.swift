import CutoverCore
import CutoverCrypto
import CutoverStore
import Foundation

/// A run's audit bundle: JSON lines that `cutover audit verify --bundle` checks on a machine
/// with nothing else. Line 1 describes it (run, range, the chain link before it, the public
/// key); then every event of the range in order (the run's and any other run's in between,
/// since the chain passes through them); then the checkpoints that sign the range. Every line
/// is canonical JSON, so any changed byte changes what is hashed or breaks the line.
public enum AuditBundle {
    /// v2 writes each time as RFC 3339 (`at`) beside its milliseconds (`atMillis`, what the
    /// chain hashes); v1 bundles (milliseconds in `at`) still verify.
    public static let format = "cutover-audit-bundle-v2"
    static let formats = ["cutover-audit-bundle-v1", format]

    public static func export(_ log: any EventLog, run: String, publicKey: Ed25519Key?) throws -> String {
        guard let span = try log.span(of: run) else { throw KeyError("no run \(run) in \(log.location)") }
        let checkpoints = try log.checkpoints()
        // Through the first checkpoint that covers the run's last event, so the bundle is signed.
        let cover = checkpoints.filter { $0.seq >= span.upperBound }.min { $0.seq < $1.seq }
        let through = cover?.seq ?? span.upperBound
        let link = span.lowerBound > 1 ? (try log.link(at: span.lowerBound - 1)?.hash ?? []) : ChainLink.genesis.hash
        var header: [String: JSONValue] = [
            "format": .string(format), "run": .string(run), "from": .int(span.lowerBound), "through": .int(through),
            "link": .string(Hex.encode(link)),
        ]
        if let publicKey {
            header["publicKey"] = .string(try publicKey.publicPEM())
            header["key"] = .string(publicKey.fingerprint)
        }
        var lines = [JSONValue.object(header).canonicalString]
        try log.forEachEvent(from: span.lowerBound, through: through) { e in
            let body = (try? JSONValue.parse(Data(e.bodyJSON.utf8))) ?? .string(e.bodyJSON)
            lines.append(JSONValue.object(["event": .object([
                "seq": .int(e.seq), "run": .string(e.runID), "runSeq": .int(e.runSeq), "at": .string(TimeText.rfc3339(e.atMillis)),
                "atMillis": .int(e.atMillis), "actor": .string(e.actor),
                "type": .string(e.type), "body": body, "hash": .string(Hex.encode(e.hash)),
            ])]).canonicalString)
        }
        for cp in checkpoints where cp.seq >= span.lowerBound && cp.seq <= through {
            lines.append(JSONValue.object(["checkpoint": .object([
                "seq": .int(cp.seq), "hash": .string(Hex.encode(cp.hash)), "at": .string(TimeText.rfc3339(cp.atMillis)), "atMillis": .int(cp.atMillis),
                "key": .string(cp.key), "signature": .string(Hex.encode(cp.signature)),
            ])]).canonicalString)
        }
        return lines.joined(separator: "\n") + "\n"
    }

    /// What a bundle says about itself.
    public struct Header: Sendable {
        public var run: String
        public var from: Int64
        public var through: Int64
        public var keyFromBundle: Ed25519Key?
    }

    /// Verifies a bundle with `trusted` (or, without one, the key the bundle carries).
    public static func verify(_ text: String, source: String, trusted: Ed25519Key?) -> (VerifyReport, Header?, RunState?) {
        let started = Date()
        var report = VerifyReport()
        func fail(_ line: Int, _ message: String, _ kind: Finding.Kind = .malformed) -> (VerifyReport, Header?, RunState?) {
            report.findings.append(Finding(kind: kind, seq: nil, message: "\(source) line \(line): \(message)"))
            return (report, nil, nil)
        }
        var lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        if lines.last == "" { lines.removeLast() }
        guard let first = lines.first else { return fail(1, "empty bundle") }
        guard let h = try? JSONValue.parse(Data(first.utf8)), h.canonicalString == first, let version = h["format"]?.stringValue, formats.contains(version),
            let run = h["run"]?.stringValue, let from = h["from"]?.intValue, let through = h["through"]?.intValue,
            let linkHex = h["link"]?.stringValue, let link = Hex.decode(linkHex), link.count == 32, Hex.encode(link) == linkHex
        else { return fail(1, "not a \(formats.joined(separator: " or ")) header") }
        var bundleKey: Ed25519Key?
        if let pem = h["publicKey"]?.stringValue {
            do { bundleKey = try Ed25519Key.read(pem: pem, source: "\(source) public key") } catch { return fail(1, "\(error)") }
            // Byte for byte as cutover writes it: base64 has bits a lenient decoder ignores.
            guard (try? bundleKey?.publicPEM()) == pem, h["key"]?.stringValue == bundleKey?.fingerprint else {
                return fail(1, "the public key is not as cutover wrote it, or does not match its fingerprint")
            }
        } else if h["key"] != nil {
            return fail(1, "a key fingerprint without a public key")
        }
        guard Set(h.objectValue?.keys.map { $0 } ?? []).isSubset(of: ["format", "run", "from", "through", "link", "publicKey", "key"]) else {
            return fail(1, "unexpected fields in the header")
        }
        let header = Header(run: run, from: from, through: through, keyFromBundle: bundleKey)
        // A time: v1's milliseconds in `at`; v2's in `atMillis`, with `at` the same instant in
        // RFC 3339 (a line whose two disagree was edited).
        let v1 = version == formats[0]
        func time(_ o: JSONValue) -> Int64? {
            if v1 { return o["at"]?.intValue }
            guard let millis = o["atMillis"]?.intValue, o["at"]?.stringValue == TimeText.rfc3339(millis) else { return nil }
            return millis
        }
        var events: [StoredEvent] = []
        var checkpoints: [StoredCheckpoint] = []
        for (i, line) in lines.enumerated().dropFirst() {
            guard let v = try? JSONValue.parse(Data(line.utf8)) else { return fail(i + 1, "not JSON") }
            guard v.canonicalString == line else { return fail(i + 1, "not in canonical form: the line was changed") }
            guard v.objectValue?.count == 1 else { return fail(i + 1, "expected one event or one checkpoint") }
            if let e = v["event"] {
                guard e.objectValue?.count == (v1 ? 8 : 9), let seq = e["seq"]?.intValue, let r = e["run"]?.stringValue, let rs = e["runSeq"]?.intValue, let at = time(e),
                    let actor = e["actor"]?.stringValue, let type = e["type"]?.stringValue, let body = e["body"],
                    let hashHex = e["hash"]?.stringValue, let hash = Hex.decode(hashHex), Hex.encode(hash) == hashHex
                else { return fail(i + 1, "an event without exactly seq, run, runSeq, at\(v1 ? "" : ", atMillis (the same time)"), actor, type, body and hash") }
                events.append(StoredEvent(seq: seq, runID: r, runSeq: rs, type: type, atMillis: at, actor: actor, bodyJSON: body.canonicalString, hash: hash))
            } else if let c = v["checkpoint"] {
                let n = Int64(checkpoints.count + 1)
                guard c.objectValue?.count == (v1 ? 5 : 6), let seq = c["seq"]?.intValue, let hashHex = c["hash"]?.stringValue, let hash = Hex.decode(hashHex),
                    Hex.encode(hash) == hashHex, let at = time(c), let key = c["key"]?.stringValue,
                    let sigHex = c["signature"]?.stringValue, let sig = Hex.decode(sigHex), Hex.encode(sig) == sigHex
                else { return fail(i + 1, "a checkpoint without exactly seq, hash, at\(v1 ? "" : ", atMillis (the same time)"), key and signature") }
                checkpoints.append(StoredCheckpoint(n: n, seq: seq, hash: hash, atMillis: at, key: key, signature: sig))
            } else {
                return fail(i + 1, "neither an event nor a checkpoint")
            }
        }
        var audit = ChainAudit(start: from, link: link, checkpoints: checkpoints, key: trusted ?? bundleKey, fold: { $0 == run })
        for e in events where !audit.feed(e) { break }
        report = audit.finish()
        if report.intact, report.lastSeq != through {
            report.findings.append(Finding(kind: .truncated, seq: (report.lastSeq ?? from - 1) + 1, message: "the bundle says it holds events \(from)...\(through), but it ends at \(report.lastSeq ?? from - 1)"))
        }
        if report.intact, !events.contains(where: { $0.runID == run }) {
            report.findings.append(Finding(kind: .missing, seq: nil, message: "the bundle holds no event of run \(run)"))
        }
        let hashes = Dictionary(events.map { ($0.seq, $0.hash) }, uniquingKeysWith: { a, _ in a })
        report.findings += ApprovalAudit.findings(audit.runStates) { hashes[$0].map(ApprovalStatement.hex) }
        report.seconds = Date().timeIntervalSince(started)
        return (report, header, audit.runStates[run])
    }
}
