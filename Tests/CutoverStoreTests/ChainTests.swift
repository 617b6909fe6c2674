import CutoverCore
import CutoverCrypto
import CutoverStore
import Foundation
import Testing
import TestSupport

/// The one canonical writer and the one verifier, on their own.
@Suite struct ChainTests {
    @Test func theHashedBytesCoverEveryFieldInAFixedOrder() {
        let bytes = CanonicalEvent.bytes(seq: 7, runID: "r\"1", runSeq: 3, atMillis: 99, actor: "alice", type: "StepStarted", bodyJSON: #"{"step":"s"}"#)
        #expect(String(decoding: bytes, as: UTF8.self) == #"{"actor":"alice","at":99,"body":{"step":"s"},"run":"r\"1","runSeq":3,"seq":7,"type":"StepStarted"}"#)
        let negative = CanonicalEvent.bytes(seq: 0, runID: "r", runSeq: Int64.max, atMillis: Int64.min, actor: "", type: "T", bodyJSON: "{}")
        #expect(String(decoding: negative, as: UTF8.self) == #"{"actor":"","at":-9223372036854775808,"body":{},"run":"r","runSeq":9223372036854775807,"seq":0,"type":"T"}"#)
    }

    /// Strings are escaped exactly as the canonical JSON of a value escapes them, byte for byte.
    @Test(arguments: [
        "plain", "", "quote \" and back\\slash", "line\nfeed\rreturn\ttab", "\u{0}\u{1}\u{1f}\u{7f}", "ünïcödé 😀 ☃", "evil\u{1b}[2K\u{1b}[1A\roncall",
    ])
    func textFieldsAreEscapedAsCanonicalJSON(_ text: String) {
        let quoted = JSONValue.string(text).canonicalString
        let bytes = CanonicalEvent.bytes(seq: 1, runID: text, runSeq: 1, atMillis: 1, actor: text, type: text, bodyJSON: "{}")
        #expect(String(decoding: bytes, as: UTF8.self) == #"{"actor":\#(quoted),"at":1,"body":{},"run":\#(quoted),"runSeq":1,"seq":1,"type":\#(quoted)}"#)
    }

    @Test func theVerifierFollowsAChainAndNamesWhereItBreaks() {
        var hasher = ChainHasher()
        var link = ChainLink.genesis.hash
        var rows: [StoredEvent] = []
        for seq in Int64(1)...4 {
            let body = #"{"message":"m\#(seq)","step":"s"}"#
            link = hasher.hash(seq: seq, runID: "r", runSeq: seq, atMillis: 5, actor: "a", type: "StepNote", body: body, after: link)
            rows.append(StoredEvent(seq: seq, runID: "r", runSeq: seq, type: "StepNote", atMillis: 5, actor: "a", bodyJSON: body, hash: link))
        }
        var verifier = ChainVerifier()
        for row in rows { #expect(row.withRow { verifier.check($0) } == .follows) }
        #expect(verifier.link == rows[3].hash)
        #expect(verifier.events == 4)

        var fromTwo = ChainVerifier(after: ChainLink(seq: 1, hash: rows[0].hash))
        #expect(rows[2].withRow { fromTwo.check($0) } == .outOfPlace(expected: 2))
        #expect(rows[1].withRow { fromTwo.check($0) } == .follows)
        let edited = StoredEvent(seq: 3, runID: "r", runSeq: 3, type: "StepNote", atMillis: 6, actor: "a", bodyJSON: rows[2].bodyJSON, hash: rows[2].hash)
        #expect(edited.withRow { fromTwo.check($0) } == .mismatch)
        #expect(fromTwo.expectedSeq == 3, "a row that does not follow is not passed")
    }
}
