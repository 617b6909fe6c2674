import CutoverCore
import Foundation
import Testing

@Suite struct TerminalTextTests {
    @Test func escapeSequencesAndCarriageReturnsAreWrittenOutVisibly() {
        let actor = "evil\u{1B}[2K\u{1B}[1A\roncall"
        let shown = TerminalText.escaped(actor)
        #expect(shown == #"evil\e[2K\e[1A\roncall"#)
        #expect(!shown.unicodeScalars.contains { $0.value < 0x20 || (0x7F...0x9F).contains($0.value) })
    }

    @Test func everyKindOfControlIsCaught() {
        // C0, DEL, a one-byte CSI (C1), bidirectional override and isolate, a newline.
        let text = "a\u{07}b\u{7F}c\u{9B}31md\u{202E}e\u{2066}f\ng"
        #expect(TerminalText.escaped(text) == #"a\x07b\x7fc\x9b31md\u{202e}e\u{2066}f\ng"#)
        #expect(TerminalText.escaped(text, keepNewlines: true).contains("f\ng"))
        #expect(TerminalText.hasControlCharacters(text))
        #expect(TerminalText.hasControlCharacters("tab\there"), "names refuse tabs too")
    }

    @Test func plainTextPassesUnchanged() {
        for text in ["alice", "Zoë Ångström", "recommendations.example.test. A 10.0.1.10 -> 10.1.1.10", "日本語", "emoji 🚀"] {
            #expect(TerminalText.escaped(text) == text)
            #expect(!TerminalText.hasControlCharacters(text))
        }
    }
}

@Suite struct TemplateScaleTests {
    /// One string with many references is resolved in one pass: 100,000 of them take about as
    /// long per reference as 10,000 (the old replace-each-in-turn took 106 s for 10,000).
    @Test func manyReferencesResolveInLinearTime() throws {
        let scope = Template.Scope(runbook: .object(["dr": .object(["address": .string("10.1.1.10")])]))
        func resolve(_ n: Int) throws -> (Duration, String) {
            let text = String(repeating: "${runbook.dr.address},", count: n)
            let clock = ContinuousClock()
            var out = ""
            let took = try clock.measure { out = try Template.resolve(.string(text), in: scope).stringValue ?? "" }
            return (took, out)
        }
        _ = try resolve(1_000)  // warm up
        let (small, _) = try resolve(10_000)
        let (large, out) = try resolve(100_000)
        #expect(out == String(repeating: "10.1.1.10,", count: 100_000))
        // Linear: ten times the references, about ten times the time; quadratic would be a hundred.
        func seconds(_ d: Duration) -> Double { Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18 }
        let ratio = seconds(large) / max(1e-6, seconds(small))
        #expect(ratio < 40, "100k references took \(large), 10k took \(small)")
    }

    @Test func aResolvedValueIsNeverScannedAgain() throws {
        // A value that looks like a reference stays text: no second substitution.
        let scope = Template.Scope(runbook: .object(["a": .string("${runbook.b}"), "b": .string("secret-ish")]))
        let out = try Template.resolve(.string("x ${runbook.a} y"), in: scope)
        #expect(out == .string("x ${runbook.b} y"))
    }
}
