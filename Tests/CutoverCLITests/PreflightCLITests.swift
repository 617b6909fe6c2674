import Foundation
import Testing
import TestSupport

/// `cutover preflight` against the fixture endpoints: what a TLS endpoint that cannot be
/// trusted looks like, and what a provider's answer cannot do to the table or the JSON.
@Suite struct PreflightCLITests {
    /// An endpoint that completes TCP and offers a self-signed certificate: the handshake is
    /// refused by verification, and the table says the connection worked and TLS did not.
    @Test func anUntrustedCertificateFailsTheTLSRowNotTheTCPOne() throws {
        let p = try Project()
        let cert = p.dir.path("cert.pem"), key = p.dir.path("key.pem")
        let made = try Sandbox.script(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=127.0.0.1", "-days", "1", "-keyout", key, "-out", cert])
        #expect(made.status == 0, "\(made.output)")
        let server = Process()
        server.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
        server.arguments = ["-c", """
            import signal, socket, ssl, sys
            signal.pthread_sigmask(signal.SIG_SETMASK, [])  # the test runner blocks signals; let terminate work
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.load_cert_chain(sys.argv[1], sys.argv[2])
            s = socket.socket()
            s.bind(("127.0.0.1", 0))
            s.listen(8)
            print(s.getsockname()[1], flush=True)
            while True:
                c, _ = s.accept()
                try:
                    ctx.wrap_socket(c, server_side=True).close()
                except Exception:
                    c.close()
            """, cert, key]
        let out = Pipe()
        server.standardOutput = out
        try server.run()
        defer {
            kill(server.processIdentifier, SIGKILL)
            server.waitUntilExit()
        }
        let port = String(decoding: out.fileHandleForReading.availableData, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(Int(port) != nil, "the TLS server said its port: \(port)")
        p.dir.write("runbooks/tls.json", #"{"service": "tls", "primary": {"endpoint": "http://127.0.0.1:1"}, "dr": {"endpoint": "https://127.0.0.1:\#(port)"}}"#)
        p.dir.write("workflows/tls.json", #"{"name": "tls", "steps": [{"id": "dr-health", "type": "health.http", "with": {"url": "${runbook.dr.endpoint}/health"}}]}"#)
        let r = try p.cutover("preflight", "tls", "--runbook", "tls")
        #expect(r.status == 1)
        let subject = "https://127.0.0.1:\(port)"
        #expect(r.lines.contains { $0.hasPrefix("  ok   tcp    \(subject)") && $0.contains(" ms ") }, "\(r.stdout)")
        #expect(r.lines.contains { $0.hasPrefix("  FAIL tls    \(subject)") && $0.contains(" ms ") && $0.lowercased().contains("certificate") }, "\(r.stdout)")
    }

    /// A service's answer with an escape sequence and a line break that would forge a passing
    /// row: escaped in the table, and a JSON escape (valid JSON) in --json.
    @Test func anAnswerCannotForgeARowOrBreakTheJSON() throws {
        let p = try Project()
        let forged = "bad\u{1B}[2K\u{9B}31m\n  ok   check forged"
        try p.fixture.control("dr", status: forged)
        p.dir.write("workflows/status.json", #"{"name": "status", "steps": [{"id": "dr-health", "type": "health.http", "with": {"url": "${runbook.dr.endpoint}/health", "requests": 1, "jsonField": "status", "jsonEquals": "ok"}, "retry": {"attempts": 1}}]}"#)
        let r = try p.cutover("preflight", "status", "--runbook", "svc")
        #expect(r.status == 1)
        #expect(!r.stdout.contains("\u{1B}") && !r.stdout.contains("\u{9B}"), "no raw escape reaches the terminal")
        #expect(!r.lines.contains { $0.hasPrefix("  ok   check forged") }, "\(r.stdout)")
        #expect(r.lines.contains { $0.hasPrefix("  FAIL check  dr-health (health.http)") && $0.contains("\\e[2K") }, "\(r.stdout)")

        let j = try p.cutover("preflight", "status", "--runbook", "svc", "--json")
        #expect(!j.stdout.contains("\u{1B}") && !j.stdout.contains("\u{9B}"))
        let report = try JSONSerialization.jsonObject(with: Data(j.stdout.utf8)) as? [String: Any]
        let details = (report?["checks"] as? [[String: Any]] ?? []).compactMap { $0["detail"] as? String }
        #expect(details.contains { $0.contains(forged) || $0.contains("bad\u{1B}[2K\u{9B}31m") }, "the JSON carries the answer as it was: \(details)")
    }
}
