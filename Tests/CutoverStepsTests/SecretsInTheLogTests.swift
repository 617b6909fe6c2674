import CutoverCore
import CutoverEngine
import CutoverStore
import Foundation
import Testing
import TestSupport

/// Secrets are references in the log; their values never reach an event, even in an error.
@Suite struct SecretsInTheLogTests {
    @Test func resolvedSecretsAreRedactedFromRecordedErrors() async throws {
        let f = try FixtureServer()
        let token = "xoxb-\(UUID().uuidString)"
        setenv("CUTOVER_TEST_HOOK", "\(f.base)/missing/\(token)", 1)
        let h = try Harness()
        let wf = try h.workflow("""
            {"name": "w", "steps": [{"id": "tell", "type": "notify", "with": {"url": "env:CUTOVER_TEST_HOOK", "message": "hello"}, "retry": {"attempts": 1}}]}
            """)
        let e = h.engine()
        let run = try e.start(h.request(wf))
        let state = try await e.drive(run)
        #expect(state.status == .failed)
        let everything = try h.events(run).map { $0.bodyJSON + $0.actor }.joined()
        #expect(everything.contains("env:CUTOVER_TEST_HOOK"))
        #expect(!everything.contains(token))
        #expect(!everything.contains("/missing/"))
    }

    @Test func aLiteralSecretIsRefusedBeforeAnythingIsWritten() throws {
        let h = try Harness()
        #expect(throws: ValidationFailure.self) {
            try h.workflow("""
                {"name": "w", "steps": [{"id": "page", "type": "notify", "with": {"url": "http://x.test/hook", "message": "m", "format": "pagerduty", "routingKey": "R0UTINGKEY"}}]}
                """)
        }
        #expect(try h.log.runIDs().isEmpty)
    }
}
