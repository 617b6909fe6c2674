import CutoverCore
import CutoverStore
import Foundation
import Testing
import TestSupport

/// The store folds notes from the step they name without decoding them; the result must be
/// the fold of the decoded events, and anything not plainly a note goes the ordinary way.
@Suite struct NoteFoldTests {
    static let plan = RunStarted(
        workflow: "w", workflowDigest: "-", runbook: "r", runbookDigest: "-", scope: "svc", mode: .live, startedBy: "me",
        steps: ["a", "b-2", "c_3"].map { PlannedStep(id: $0, type: "wait", kind: .check, pivot: false, retry: .default, timeoutMillis: nil) },
        workflowSnapshot: .object([:]), runbookSnapshot: .object([:]))

    static let messages = [
        "probe 1: 200 in 12ms", "", #"quote " inside"#, #"looks like a key: ","step":"c_3"}"#, "back\\slash", "tab\tline\nbreak",
        "ünïcödé 😀", String(repeating: "x", count: 5_000),
    ]

    @Test(arguments: StoreKind.all)
    func notesFoldToTheSameStateAsTheirDecodedEvents(_ kind: StoreKind) throws {
        let dir = TemporaryDirectory()
        let log = try kind.open(dir)
        var bodies: [EventBody] = [.runStarted(Self.plan)]
        for (i, step) in ["a", "b-2", "c_3"].enumerated() {
            bodies.append(.stepStarted(StepAttempt(step: step, attempt: 1)))
            for m in Self.messages { bodies.append(.stepNote(StepNote(step: step, message: "\(i) \(m)"))) }
            bodies.append(.stepSucceeded(StepSucceeded(step: step, attempt: 1, output: .object([:]))))
        }
        _ = try log.append(bodies.enumerated().map { EventDraft(at: t0.addingTimeInterval(Double($0.offset)), actor: "x", body: $0.element) }, to: "run-n", expectedNext: 1, options: AppendOptions(now: t0))
        let fast = try #require(try log.fold("run-n"))
        let slow = try RunState.fold("run-n", try log.events(of: "run-n", after: 0))
        #expect(fast == slow)
        #expect(fast.lastRunSeq == Int64(bodies.count))
        #expect(fast.lastEventMillis == slow.lastEventMillis)
    }

    @Test(arguments: [
        (#"{"message":"m","step":"a"}"#, "a"),
        (#"{"message":"m \"q\"","step":"b-2"}"#, "b-2"),
        (#"{"message":"m","step":"a\"b"}"#, nil),
        (#"{"message":"m","step":"a","x":1}"#, nil),
        (#"{"message":"unterminated,"step":"a"}"#, nil),
        (#"{"step":"a","message":"m"}"#, nil),
        (#"{"message":"m","step":""}"#, nil),
        (#"{"message":"m"}"#, nil),
    ] as [(String, String?)])
    func theStepIsReadOnlyFromAPlainNote(_ body: String, _ step: String?) {
        var reader = StepNoteBytes()
        let got = Array(body.utf8).withUnsafeBytes { reader.step(of: $0) }
        #expect(got == step, "\(body)")
    }

    @Test(arguments: StoreKind.all)
    func aNoteForAStepOutsideThePlanDoesNotFold(_ kind: StoreKind) throws {
        let dir = TemporaryDirectory()
        let log = try kind.open(dir)
        _ = try log.append(
            [.runStarted(Self.plan), .stepNote(StepNote(step: "zzz", message: "m"))].map { EventDraft(at: t0, actor: "x", body: $0) }, to: "run-n",
            expectedNext: 1, options: AppendOptions(now: t0))
        let error = #expect(throws: FoldError.self) { try log.fold("run-n") }
        #expect(error?.reason.contains("\"zzz\", which is not in the run's plan") == true)
        #expect(error?.seq == 2)
    }
}
