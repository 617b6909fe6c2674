import CutoverAudit
import CutoverCore
import CutoverCrypto
import CutoverStore
import Foundation
import Testing
import TestSupport

@Suite struct BundleTests {
    @Test func aBundleVerifiesAloneAndFoldsItsRun() async throws {
        let log = try await AuditedLog.make()
        let text = try log.export(run: 1)
        let (r, header, state) = AuditBundle.verify(text, source: "b.jsonl", trusted: log.key)
        #expect(r.intact, "\(r.findings)")
        #expect(header?.run == log.runs[1])
        #expect(state?.status == .rolledBack)
        #expect(r.checkpoints >= 1, "the bundle carries the checkpoint that seals its run")
    }

    @Test func aReplacedPublicKeyIsFoundWithTheTrustedKey() async throws {
        let log = try await AuditedLog.make()
        let mallory = try Ed25519Key.generate()
        var lines = try log.export(run: 0).split(separator: "\n").map(String.init)
        // Re-sign every checkpoint with mallory's key and put mallory's public key in the header.
        var header = try JSONValue.parse(Data(lines[0].utf8)).objectValue!
        header["publicKey"] = .string(try mallory.publicPEM())
        header["key"] = .string(mallory.fingerprint)
        lines[0] = JSONValue.object(header).canonicalString
        for i in lines.indices where lines[i].hasPrefix("{\"checkpoint\"") {
            var cp = try JSONValue.parse(Data(lines[i].utf8))["checkpoint"]!.objectValue!
            let message = StoredCheckpoint.message(seq: cp["seq"]!.intValue!, hash: Hex.decode(cp["hash"]!.stringValue!)!, atMillis: cp["atMillis"]!.intValue!, key: mallory.fingerprint)
            cp["key"] = .string(mallory.fingerprint)
            cp["signature"] = .string(Hex.encode(try mallory.sign(message)))
            lines[i] = JSONValue.object(["checkpoint": .object(cp)]).canonicalString
        }
        let forged = lines.joined(separator: "\n") + "\n"
        let (trusted, _, _) = AuditBundle.verify(forged, source: "b.jsonl", trusted: log.key)
        #expect(trusted.findings.first?.kind == .badSignature, "\(trusted.findings)")
        // Without the trusted key the forgery is self-consistent: the report names the key it
        // used, and it is not the auditor's.
        let (alone, _, _) = AuditBundle.verify(forged, source: "b.jsonl", trusted: nil)
        #expect(alone.key == mallory.fingerprint && alone.key != log.key.fingerprint)
    }

    @Test func theHeaderLinkIsReadAsWrittenToTheLetter() async throws {
        // Hex in another case decodes to the same bytes: the line must still be as cutover
        // wrote it (a random byte change found this one).
        let log = try await AuditedLog.make()
        var lines = try log.export(run: 2).split(separator: "\n").map(String.init)
        var header = try JSONValue.parse(Data(lines[0].utf8)).objectValue!
        header["link"] = .string(header["link"]!.stringValue!.uppercased())
        lines[0] = JSONValue.object(header).canonicalString
        let (r, _, _) = AuditBundle.verify(lines.joined(separator: "\n") + "\n", source: "b.jsonl", trusted: nil)
        #expect(r.findings.first?.kind == .malformed, "\(r.findings)")
    }

    @Test func everyRandomSingleByteChangeIsFound() async throws {
        let log = try await AuditedLog.make()
        let original = Array(try log.export(run: 2).utf8)
        var rng = SystemRandomNumberGenerator()
        var missed: [String] = []
        let rounds = 400
        for _ in 0..<rounds {
            var bytes = original
            let i = Int.random(in: 0..<bytes.count, using: &rng)
            var b: UInt8
            repeat { b = UInt8.random(in: 0x20...0x7e, using: &rng) } while b == bytes[i]
            bytes[i] = b
            let (r, _, _) = AuditBundle.verify(String(decoding: bytes, as: UTF8.self), source: "b.jsonl", trusted: nil)
            if r.intact { missed.append("byte \(i): \(Character(Unicode.Scalar(original[i]))) -> \(Character(Unicode.Scalar(b)))") }
        }
        #expect(missed.isEmpty, "\(missed.count) of \(rounds) changes went unnoticed: \(missed.prefix(5))")
    }

    @Test func everyRandomCharacterChangeInTheDatabaseIsFound() async throws {
        var missed: [String] = []
        for round in 0..<12 {
            let log = try await AuditedLog.make()
            let count = Int64(try log.query("SELECT COUNT(*) FROM events"))!
            let seq = Int64.random(in: 1...count)
            let column = ["body", "actor", "type", "run_id"].randomElement()!
            let value = try log.query("SELECT \(column) FROM events WHERE seq = \(seq)")
            var chars = Array(value)
            let i = Int.random(in: 0..<chars.count)
            chars[i] = chars[i] == "x" ? "y" : "x"
            let changed = String(chars).replacingOccurrences(of: "'", with: "''")
            try log.tamper("UPDATE events SET \(column) = '\(changed)' WHERE seq = \(seq);")
            let r = try log.verify()
            if r.intact { missed.append("round \(round): \(column) of \(seq)") }
        }
        #expect(missed.isEmpty, "\(missed)")
    }
}
