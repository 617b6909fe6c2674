import CutoverSQLite
import Foundation
import Testing
import TestSupport

/// Whoever can put text in the log (a name, a comment, a provider's answer) must not be able
/// to move the cursor or rewrite lines on the screen of whoever reads it.
@Suite struct TerminalInjectionTests {
    static let evil = "evil\u{1B}[2K\u{1B}[1A\roncall\u{202E}"

    func hasRawControl(_ text: String) -> Bool {
        text.unicodeScalars.contains { ($0.value < 0x20 && $0 != "\n" && $0 != "\t") || (0x7F...0x9F).contains($0.value) || $0.value == 0x202E }
    }

    @Test func namesAndCommentsWithControlCharactersAreRefusedAtInput() throws {
        let p = try Project()
        // A name in the environment is never the actor: the account is, so the escape sequence
        // reaches neither the log nor anyone's terminal.
        let evil = p.environment.merging(["CUTOVER_ACTOR": Self.evil, "USER": Self.evil, "LOGNAME": Self.evil]) { $1 }
        let start = try CutoverBinary.run(["start", "check", "--runbook", "svc", "--drill", "--json"], in: p.dir.url, environment: evil)
        #expect(start.status == 0, "\(start.stderr)")
        #expect(!start.stdout.contains("evil") && !hasRawControl(start.stdout + start.stderr))
        #expect(start.lines.allSatisfy { $0.contains(#""actor":"\#(Account.current)""#) || !$0.contains(#""actor""#) }, "\(start.stdout)")

        let approve = try p.cutover("approve", "run-x", "--comment", "ok\u{1B}]0;owned\u{07}")
        #expect(approve.status == 64)
        #expect(approve.stderr.contains("--comment holds a control character"))
    }

    @Test func logTextIsEscapedByEveryCommandThatPrintsIt() throws {
        let p = try Project()
        let r = try p.cutover("start", "check", "--runbook", "svc", "--drill")
        #expect(r.status == 0, "\(r.stderr)")
        let run = try #require(r.lines.first)
        // Text in the log that did not come through the command line (a tampered row, a
        // provider's answer): appended underneath cutover, actor and note both hostile.
        let db = p.dir.path(".cutover/cutover.sqlite")
        let body = #"{"message":"done\u001b[2K\r\u202e","step":"soak"}"#
        try SQLiteStoreDatabase.execute(
            "INSERT INTO events (seq, run_id, run_seq, type, at_ms, actor, body, hash) SELECT max(seq) + 1, '\(run)', "
                + "(SELECT max(run_seq) + 1 FROM events WHERE run_id = '\(run)'), 'StepNote', max(at_ms), "
                + "'mallory' || char(27) || '[1A' || char(13), '\(body)', zeroblob(32) FROM events",
            onFileAt: db)
        for args in [["history", run], ["status", run], ["list"], ["audit", "replay", run]] {
            let out = try CutoverBinary.run(args, in: p.dir.url, environment: p.environment)
            #expect(!hasRawControl(out.stdout) && !hasRawControl(out.stderr), "\(args): \(out.stdout.debugDescription)")
        }
        let history = try p.cutover("history", run)
        #expect(history.stdout.contains(#"done\e[2K\r\u{202e}"#), "\(history.stdout)")
    }
}
