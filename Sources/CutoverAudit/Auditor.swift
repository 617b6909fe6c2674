import CutoverCore
import CutoverCrypto
import CutoverStore
import Foundation

/// Where signing keys live and how checkpoints are made and checked against a database.
public enum Auditor {
    /// `<folder of the database>/keys/cutover.ed25519.pem` (private, 0600) and `.pub.pem`.
    public static func keyPaths(database: String) -> (privateKey: String, publicKey: String) {
        let dir = URL(fileURLWithPath: database).deletingLastPathComponent().appendingPathComponent("keys")
        return (dir.appendingPathComponent("cutover.ed25519.pem").path, dir.appendingPathComponent("cutover.ed25519.pub.pem").path)
    }

    /// Makes a key pair; refuses to overwrite one.
    /// - Returns: the new key's fingerprint.
    public static func initKeys(privatePath: String, publicPath: String) throws -> String {
        let fm = FileManager.default
        if fm.fileExists(atPath: privatePath) { throw KeyError("\(privatePath) exists; cutover never overwrites a signing key (move it away first)") }
        let key = try Ed25519Key.generate()
        let dir = URL(fileURLWithPath: privatePath).deletingLastPathComponent().path
        try fm.createDirectory(atPath: dir, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        if FileOutput.isWritableByOthers(dir) {
            throw KeyError("\(dir) can be written by others: anyone could replace the public key auditors check signatures with. Keep keys in a folder only you can write (chmod go-w \(dir), or --dir elsewhere)")
        }
        let fd = open(privatePath, O_CREAT | O_EXCL | O_WRONLY, 0o600)
        guard fd >= 0 else { throw KeyError("cannot create \(privatePath): \(String(cString: strerror(errno)))") }
        let pem = Array(try key.privatePEM().utf8)
        let written = pem.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        fsync(fd)
        close(fd)
        guard written == pem.count else { throw KeyError("could not write \(privatePath)") }
        try FileOutput.write(try key.publicPEM(), to: publicPath, mode: 0o644)
        return key.fingerprint
    }

    /// Signs that the chain ends in the hash at `seq` (the head when nil) and appends it.
    public static func checkpoint(_ log: any EventLog, key: Ed25519Key, seq: Int64? = nil, now: Date = Date()) throws -> StoredCheckpoint? {
        guard let target = try seq.map({ try log.link(at: $0) }) ?? log.head() else { return nil }
        let at = Int64((now.timeIntervalSince1970 * 1_000).rounded(.down))
        let message = StoredCheckpoint.message(seq: target.seq, hash: target.hash, atMillis: at, key: key.fingerprint)
        return try log.appendCheckpoint(
            CheckpointDraft(seq: target.seq, hash: target.hash, atMillis: at, key: key.fingerprint, signature: try key.sign(message)))
    }

    /// A checkpoint as an auditor keeps it, away from the database: canonical JSON.
    public static func keptText(_ cp: StoredCheckpoint, database: String) -> String {
        JSONValue.object([
            "format": .string("cutover-checkpoint-1"), "database": .string(database),
            "checkpoint": .object([
                "seq": .int(cp.seq), "hash": .string(Hex.encode(cp.hash)), "at": .int(cp.atMillis), "key": .string(cp.key),
                "signature": .string(Hex.encode(cp.signature)),
            ]),
        ]).canonicalString + "\n"
    }

    /// Reads a kept checkpoint back (its number is 0: "the checkpoint you kept").
    /// - Throws: `KeyError` naming the file and what is wrong with it.
    public static func readKept(_ text: String, source: String) throws -> StoredCheckpoint {
        guard let v = try? JSONValue.parse(Data(text.utf8)), v["format"]?.stringValue == "cutover-checkpoint-1", let c = v["checkpoint"],
            let seq = c["seq"]?.intValue, let hash = c["hash"]?.stringValue.flatMap(Hex.decode), hash.count == 32,
            let at = c["at"]?.intValue, let key = c["key"]?.stringValue, let sig = c["signature"]?.stringValue.flatMap(Hex.decode)
        else { throw KeyError("\(source) is not a checkpoint written by `cutover audit checkpoint -o`") }
        return StoredCheckpoint(n: 0, seq: seq, hash: hash, atMillis: at, key: key, signature: sig)
    }

    /// Where `cutover keys trust` pins the auditor's trusted public key: in the auditor's own
    /// configuration, never next to the database (whoever can change the database could
    /// change a key kept beside it).
    public static func pinnedKeyPath(environment: [String: String]) -> String? {
        let base = environment["XDG_CONFIG_HOME"].flatMap { $0.isEmpty ? nil : $0 } ?? environment["HOME"].map { $0 + "/.config" }
        return base.map { $0 + "/cutover/trusted.pub.pem" }
    }

    /// Verifies the whole database, or one run's events and the chain links around them.
    /// Reads only.
    /// - Parameter kept: a checkpoint the auditor kept from an earlier look (`cutover audit
    ///   checkpoint -o`): the log must still hold the chain it signed, position for position.
    public static func verify(_ log: any EventLog, run: String? = nil, key: Ed25519Key?, fold: Bool = true, kept: StoredCheckpoint? = nil) throws -> (VerifyReport, [String: RunState]) {
        let started = Date()
        var checkpoints = try log.checkpoints()
        if let kept {
            guard run == nil else { throw KeyError("a kept checkpoint is held against the whole log: drop --run") }
            checkpoints.append(kept)
        }
        var audit: ChainAudit
        var from: Int64 = 1
        var through: Int64 = .max
        if let run {
            guard let span = try log.span(of: run) else { throw KeyError("no run \(run) in \(log.location)") }
            from = span.lowerBound
            through = span.upperBound + 1
            let link = from > 1 ? (try log.link(at: from - 1)?.hash ?? []) : ChainLink.genesis.hash
            let head = try log.head()?.seq ?? 0
            // In range: the run's stretch. Past the head anywhere: the log lost its tail.
            let relevant = checkpoints.filter { ($0.seq >= from && $0.seq <= through) || $0.seq > head }
            audit = ChainAudit(start: from, link: link, checkpoints: relevant, key: key, fold: { fold && $0 == run })
            if link.isEmpty {
                var r = audit.report
                r.findings.append(Finding(kind: .missing, seq: from - 1, message: "event \(from - 1), the link before run \(run), is missing"))
                return (r, [:])
            }
        } else {
            audit = ChainAudit(checkpoints: checkpoints, key: key, fold: { _ in fold }, parallel: fold)
        }
        do {
            try log.forEachRow(from: from, through: through) { row in audit.feed(row) }
        } catch {
            _ = audit.finish()  // lets the folding thread end
            throw error
        }
        var report = audit.finish()
        report.findings += ApprovalAudit.findings(audit.runStates) { seq in (try? log.link(at: seq)).flatMap { $0 }.map { ApprovalStatement.hex($0.hash) } }
        report.seconds = Date().timeIntervalSince(started)
        return (report, audit.runStates)
    }
}
