@testable import CutoverStore
import CutoverCore
import Foundation
import Testing
import TestSupport

/// Appends from many threads at once share transactions; each still lands exactly once, in
/// its run's order, and one that fails (a conflict) takes none of the others with it.
@Suite struct GroupCommitTests {
    @Test func concurrentAppendsShareCommitsAndKeepEveryRunInOrder() throws {
        let dir = TemporaryDirectory()
        let log = try SQLiteEventLog(path: dir.path("c.sqlite"))
        let writers = 8
        let perWriter = 40
        let conflicts = Counter()
        DispatchQueue.concurrentPerform(iterations: writers + 1) { w in
            if w == writers {
                // A writer that is always behind: every append of its conflicts.
                for _ in 0..<perWriter {
                    do {
                        _ = try log.append([draft(note("stale"))], to: "run-0", expectedNext: 1, options: AppendOptions(now: t0))
                    } catch EventStoreError.conflict {
                        conflicts.add()
                    } catch {}
                }
                return
            }
            for i in 0..<perWriter {
                // run-0's first append races the stale writer, which may win it once.
                if w == 0, i == 0 {
                    if (try? log.append([draft(note("w0 0"))], to: "run-0", expectedNext: 1, options: AppendOptions(now: t0))) == nil {
                        _ = try! log.append([draft(note("w0 0"))], to: "run-0", expectedNext: 2, options: AppendOptions(now: t0))
                    }
                    continue
                }
                let next = Int64(try! log.events(of: "run-\(w)", after: 0).count) + 1
                _ = try! log.append([draft(note("w\(w) \(i)")), draft(note("w\(w) \(i)b"))], to: "run-\(w)", expectedNext: next, options: AppendOptions(now: t0))
            }
        }
        for w in 1..<writers {
            let events = try log.events(of: "run-\(w)", after: 0)
            #expect(events.count == 2 * perWriter)
            #expect(events.map(\.runSeq) == Array(1...Int64(2 * perWriter)))
            #expect(events.compactMap { if case .stepNote(let n) = $0.body { n.message } else { nil } }.first == "w\(w) 0")
        }
        let run0 = try log.events(of: "run-0", after: 0)
        #expect(run0.filter { if case .stepNote(let n) = $0.body { n.message.hasPrefix("w0") } else { false } }.count == 2 * perWriter - 1)
        #expect(conflicts.value >= perWriter - 1)
        #expect(try log.verifyChain().intact)
        let appends = (writers - 1) * perWriter + perWriter + perWriter
        #expect(log.appendCommits < appends, "some transactions carried more than one append (\(log.appendCommits) commits)")
    }
}

final class Counter: @unchecked Sendable {
    // @unchecked: `n` is only touched under `lock`.
    private let lock = NSLock()
    private var n = 0
    func add() {
        lock.lock()
        n += 1
        lock.unlock()
    }
    var value: Int {
        lock.lock()
        defer { lock.unlock() }
        return n
    }
}
