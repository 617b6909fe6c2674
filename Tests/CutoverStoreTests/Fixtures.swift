import CutoverCore
import Foundation
import TestSupport

func note(_ text: String, step: String = "s") -> EventBody { .stepNote(StepNote(step: step, message: text)) }

let t0 = Date(timeIntervalSince1970: 1_790_000_000)

func draft(_ body: EventBody, at: Date = t0, actor: String = "tester") -> EventDraft {
    EventDraft(at: at, actor: actor, body: body)
}

extension EventLog {
    /// Appends `count` notes to `run` one append each, from position `from`.
    func appendNotes(_ count: Int, to run: String, from: Int64 = 1) throws {
        for i in 0..<count { _ = try append([draft(note("n\(Int(from) + i)"))], to: run, expectedNext: from + Int64(i), options: AppendOptions(now: t0)) }
    }
}

final class Counter: @unchecked Sendable {
    // @unchecked: `n` is only touched under `lock`.
    private let lock = NSLock()
    private var n = 0
    func add() { lock.withLock { n += 1 } }
    var value: Int { lock.withLock { n } }
}
