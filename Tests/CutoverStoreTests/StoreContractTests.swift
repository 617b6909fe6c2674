import CutoverCore
import CutoverCrypto
import CutoverStore
import Foundation
import Testing
import TestSupport

/// The store contract: what every store must do, run against each kind this build has
/// (`StoreKind.all`). A new store is done when it passes this suite and the crash matrix.
@Suite struct StoreContractTests {
    @Test(arguments: StoreKind.all)
    func appendsGetGlobalAndPerRunPositionsAndAChain(_ kind: StoreKind) throws {
        let dir = TemporaryDirectory()
        let log = try kind.open(dir)
        let a1 = try log.append([draft(note("a1")), draft(note("a2"))], to: "run-a", expectedNext: 1, options: AppendOptions(now: t0))
        let b1 = try log.append([draft(note("b1"))], to: "run-b", expectedNext: 1, options: AppendOptions(now: t0))
        let a3 = try log.append([draft(note("a3"))], to: "run-a", expectedNext: 3, options: AppendOptions(now: t0))
        #expect((a1 + b1 + a3).map(\.seq) == [1, 2, 3, 4])
        #expect((a1 + a3).map(\.runSeq) == [1, 2, 3])
        #expect(b1[0].runSeq == 1)
        #expect(try log.events(of: "run-a", after: 1).map(\.runSeq) == [2, 3])
        #expect(try log.events(of: "run-a", after: 0) == a1 + a3, "read back exactly as appended")
        #expect(try log.runIDs() == ["run-a", "run-b"])
        #expect(try log.span(of: "run-a") == 1...4)
        #expect(try log.span(of: "nobody") == nil)
        #expect(try log.head() == ChainLink(seq: 4, hash: a3[0].hash))
        #expect(try log.link(at: 2) == ChainLink(seq: 2, hash: a1[1].hash))
        #expect(try log.link(at: 9) == nil)
        // Each hash covers the previous one: recompute the second from its description alone.
        // The actor is who the database proves is connected, where it proves one.
        let actor = log.sessionActor ?? "tester"
        #expect(a1.allSatisfy { $0.actor == actor })
        let canonical = #"{"actor":"\#(actor)","at":\#(a1[1].atMillis),"body":{"message":"a2","step":"s"},"run":"run-a","runSeq":2,"seq":2,"type":"StepNote"}"#
        #expect(a1[1].hash == SHA256.hash(a1[0].hash + Array(canonical.utf8)))
        #expect(a1[0].hash == SHA256.hash([UInt8](repeating: 0, count: 32) + CanonicalEvent.bytes(
            seq: 1, runID: "run-a", runSeq: 1, atMillis: a1[0].atMillis, actor: actor, type: "StepNote", bodyJSON: a1[0].bodyJSON)))
        let report = try log.verifyChain()
        #expect(report.intact)
        #expect(report.events == 4)
    }

    @Test(arguments: StoreKind.all)
    func aWriterThatIsBehindGetsAConflictAndWritesNothing(_ kind: StoreKind) throws {
        let dir = TemporaryDirectory()
        let log = try kind.open(dir)
        _ = try log.append([draft(note("first"))], to: "r", expectedNext: 1, options: AppendOptions(now: t0))
        let behind = #expect(throws: StoreError.conflict(run: "r", expected: 1, actual: 2)) {
            try log.append([draft(note("stale")), draft(note("stale 2"))], to: "r", expectedNext: 1, options: AppendOptions(now: t0))
        }
        #expect(behind?.isRetryable == true, "a conflict is resolved by reloading and trying again")
        #expect(throws: StoreError.conflict(run: "r", expected: 5, actual: 2)) {
            try log.append([draft(note("ahead"))], to: "r", expectedNext: 5, options: AppendOptions(now: t0))
        }
        #expect(try log.events(of: "r", after: 0).count == 1)
        #expect(try log.head()?.seq == 1, "no global position was used up")
    }

    @Test(arguments: StoreKind.all)
    func eventsAndCheckpointsCannotBeChangedOrDeleted(_ kind: StoreKind) throws {
        let dir = TemporaryDirectory()
        let log = try kind.open(dir)
        let e = try log.append([draft(note("fact"))], to: "r", expectedNext: 1, options: AppendOptions(now: t0))
        _ = try log.appendCheckpoint(CheckpointDraft(seq: 1, hash: e[0].hash, atMillis: 1, key: "k", signature: [1, 2]))
        for statement in [
            "UPDATE events SET actor = 'mallory' WHERE seq = 1", "DELETE FROM events WHERE seq = 1",
            "UPDATE checkpoints SET seq = 0", "DELETE FROM checkpoints",
        ] {
            let error = #expect(throws: StoreError.self, "\(statement)") { try kind.execute(statement, in: dir) }
            #expect(error?.code == .refused, "\(statement): \(String(describing: error))")
            #expect(error?.message.contains("append-only") == true)
            #expect(error?.cause != nil, "the database's own error is kept")
        }
        #expect(try log.events(of: "r", after: 0).first?.actor == log.sessionActor ?? "tester")
        #expect(try log.checkpoints().count == 1)
        #expect(try log.verifyChain().intact)
    }

    @Test(arguments: StoreKind.all)
    func tamperingUnderneathIsFoundAtItsPosition(_ kind: StoreKind) throws {
        let dir = TemporaryDirectory()
        let log = try kind.open(dir)
        try log.appendNotes(5, to: "r")
        try kind.execute(kind.liftAppendOnly, in: dir)
        try kind.execute("UPDATE events SET body = replace(body, 'n3', 'n9') WHERE seq = 3", in: dir)
        let edited = try log.verifyChain()
        #expect(edited.firstProblem?.seq == 3)
        #expect(edited.firstProblem?.message.contains("hash mismatch at event 3") == true)
        try kind.execute("DELETE FROM events WHERE seq = 2", in: dir)
        let gap = try log.verifyChain()
        #expect(gap.firstProblem?.seq == 3)
        #expect(gap.firstProblem?.message.contains("events 2...2 are missing") == true)
    }

    @Test(arguments: StoreKind.all)
    func leasesFenceAppendsAndExpire(_ kind: StoreKind) throws {
        let dir = TemporaryDirectory()
        let log = try kind.open(dir)
        let alive: (String) -> Bool = { _ in false }
        try log.acquireLease(run: "r", owner: "a", now: t0, ttl: .seconds(30), isGone: alive)
        #expect(try log.leaseHolder(run: "r") == Lease(owner: "a", expiresMillis: Int64(t0.timeIntervalSince1970 * 1_000) + 30_000))
        #expect(throws: StoreError.leaseHeld(run: "r", owner: "a")) {
            try log.acquireLease(run: "r", owner: "b", now: t0.addingTimeInterval(10), ttl: .seconds(30), isGone: alive)
        }
        // An append by the holder renews the lease in the same transaction.
        _ = try log.append([draft(note("by a"))], to: "r", expectedNext: 1, options: AppendOptions(leaseOwner: "a", now: t0.addingTimeInterval(20)))
        #expect(try log.leaseHolder(run: "r")?.expires == t0.addingTimeInterval(50))
        #expect(throws: StoreError.leaseHeld(run: "r", owner: "a")) {
            try log.acquireLease(run: "r", owner: "b", now: t0.addingTimeInterval(40), ttl: .seconds(30), isGone: alive)
        }
        // b takes over once a's lease has expired (or at once if a's process is gone).
        try log.acquireLease(run: "r", owner: "b", now: t0.addingTimeInterval(51), ttl: .seconds(30), isGone: alive)
        let lost = #expect(throws: StoreError.leaseLost(run: "r", owner: "b")) {
            try log.append([draft(note("late a"))], to: "r", expectedNext: 2, options: AppendOptions(leaseOwner: "a", now: t0))
        }
        #expect(lost?.isRetryable == false, "a driver that lost its lease stops")
        #expect(try log.events(of: "r", after: 0).count == 1, "the fenced append wrote nothing")
        try log.acquireLease(run: "r", owner: "c", now: t0.addingTimeInterval(52), ttl: .seconds(30), isGone: { $0 == "b" })
        #expect(try log.leaseHolder(run: "r")?.owner == "c")
        try log.releaseLease(run: "r", owner: "b")
        #expect(try log.leaseHolder(run: "r")?.owner == "c", "only the holder gives a lease up")
        try log.releaseLease(run: "r", owner: "c")
        #expect(try log.leaseHolder(run: "r") == nil)
        #expect(throws: StoreError.leaseLost(run: "r", owner: nil)) {
            try log.append([draft(note("nobody"))], to: "r", expectedNext: 2, options: AppendOptions(leaseOwner: "c", now: t0))
        }
    }

    @Test(arguments: StoreKind.all)
    func oneRunHoldsAServiceUntilItLetsGo(_ kind: StoreKind) throws {
        let dir = TemporaryDirectory()
        let log = try kind.open(dir)
        _ = try log.append([draft(note("start"))], to: "r1", expectedNext: 1, options: AppendOptions(now: t0, lockScope: "svc"))
        #expect(throws: StoreError.scopeLocked(scope: "svc", heldBy: "r1")) {
            try log.append([draft(note("start"))], to: "r2", expectedNext: 1, options: AppendOptions(now: t0, lockScope: "svc"))
        }
        #expect(try log.events(of: "r2", after: 0).isEmpty, "a refused start writes nothing")
        _ = try log.append([draft(note("again"))], to: "r1", expectedNext: 2, options: AppendOptions(now: t0, lockScope: "svc"))
        _ = try log.append([draft(note("end"))], to: "r1", expectedNext: 3, options: AppendOptions(now: t0, unlockScope: "svc"))
        #expect(try log.lockHolder(scope: "svc") == nil)
        _ = try log.append([draft(note("start"))], to: "r2", expectedNext: 1, options: AppendOptions(now: t0, lockScope: "svc"))
        #expect(try log.lockHolder(scope: "svc") == "r2")
        _ = try log.append([draft(note("not mine"))], to: "r1", expectedNext: 4, options: AppendOptions(now: t0, unlockScope: "svc"))
        #expect(try log.lockHolder(scope: "svc") == "r2", "a run gives back only a scope it holds")
    }

    @Test(arguments: StoreKind.all)
    func concurrentAppendsShareCommitsAndKeepEveryRunInOrder(_ kind: StoreKind) throws {
        let dir = TemporaryDirectory()
        let log = try kind.open(dir)
        let writers = 8
        let perWriter = 40
        let conflicts = Counter()
        DispatchQueue.concurrentPerform(iterations: writers + 1) { w in
            if w == writers {
                // A writer that is always behind: every append of its conflicts.
                for _ in 0..<perWriter {
                    do {
                        _ = try log.append([draft(note("stale"))], to: "run-0", expectedNext: 1, options: AppendOptions(now: t0))
                    } catch let e as StoreError where e.code == .conflict {
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
        #expect(log.durableCommits < appends, "some transactions carried more than one append (\(log.durableCommits) commits)")
    }

    @Test(arguments: StoreKind.all)
    func twoHandlesAppendingAtOnceKeepOneChain(_ kind: StoreKind) throws {
        let dir = TemporaryDirectory()
        let logs = [try kind.open(dir), try kind.open(dir)]
        DispatchQueue.concurrentPerform(iterations: 2) { i in
            for n in 1...40 {
                _ = try! logs[i].append([draft(note("\(i)-\(n)"))], to: "run-\(i)", expectedNext: Int64(n), options: AppendOptions(now: t0))
            }
        }
        let report = try logs[0].verifyChain()
        #expect(report.intact)
        #expect(report.events == 80)
        #expect(try logs[1].events(of: "run-0", after: 0).count == 40, "each handle sees the other's events")
    }

    @Test(arguments: StoreKind.all)
    func checkpointsAreKeptInOrderAndNumbered(_ kind: StoreKind) throws {
        let dir = TemporaryDirectory()
        let log = try kind.open(dir)
        #expect(try log.checkpoints().isEmpty)
        #expect(try log.head() == nil)
        try log.appendNotes(3, to: "r")
        let drafts = [
            CheckpointDraft(seq: 2, hash: try #require(try log.link(at: 2)).hash, atMillis: 10, key: "ed25519:aa", signature: [9]),
            CheckpointDraft(seq: 3, hash: try #require(try log.head()).hash, atMillis: 20, key: "ed25519:bb", signature: Array(repeating: 7, count: 64)),
        ]
        let stored = try drafts.map { try log.appendCheckpoint($0) }
        #expect(stored.map(\.n) == [1, 2])
        #expect(try log.checkpoints() == stored)
        #expect(try kind.open(dir).checkpoints() == stored, "another handle reads the same")
    }

    @Test(arguments: StoreKind.all)
    func streamsAreListedByTheirFirstEvent(_ kind: StoreKind) throws {
        let dir = TemporaryDirectory()
        let log = try kind.open(dir)
        try log.appendNotes(1, to: "run-b")
        try log.appendNotes(1, to: ScheduleStream.id("weekly"))
        try log.appendNotes(1, to: "run-a")
        try log.appendNotes(1, to: "run-b", from: 2)
        #expect(try log.streamIDs() == ["run-b", "schedule:weekly", "run-a"])
        #expect(try log.runIDs() == ["run-b", "run-a"])
        #expect(try log.scheduleNames() == ["weekly"])
        var seen: [Int64] = []
        try log.forEachRow(from: 2, through: 3) { seen.append($0.seq) }
        #expect(seen == [2, 3])
        try log.forEachRow(of: "run-b", after: 1, hashes: true) { seen.append($0.runSeq) }
        #expect(seen == [2, 3, 2])
        var hashes: [Int] = []
        try log.forEachRow(of: "run-b", after: 0, hashes: true) { hashes.append($0.hash.count) }
        try log.forEachRow(of: "run-b", after: 0, hashes: false) { hashes.append($0.hash.count) }
        #expect(hashes == [32, 32, 0, 0])
    }

    @Test(arguments: StoreKind.all)
    func anEventThatCannotBeWrittenAsJSONIsRefusedWhole(_ kind: StoreKind) throws {
        let dir = TemporaryDirectory()
        let log = try kind.open(dir)
        let bad = EventBody.stepSucceeded(StepSucceeded(step: "s", attempt: 1, output: .double(.nan)))
        let error = #expect(throws: StoreError.self) {
            try log.append([draft(note("fine")), draft(bad)], to: "r", expectedNext: 1, options: AppendOptions(now: t0))
        }
        #expect(error?.code == .encoding)
        #expect(try log.events(of: "r", after: 0).isEmpty, "nothing of the append is written")
    }
}
