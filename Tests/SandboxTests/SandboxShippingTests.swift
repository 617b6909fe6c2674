import CutoverCore
import CutoverEngine
import CutoverProviders
import CutoverShipping
import CutoverSQLite
import Foundation
import Testing
import TestSupport

/// The log shipped to both clouds' buckets (moto's S3, fake-gcs-server's Cloud Storage),
/// restored elsewhere, and every kind of tampering with what was shipped named.
extension SandboxTests {
    var shipEnvironment: [String: String] { ["STORAGE_EMULATOR_HOST": "127.0.0.1:14443"] }

    func shipPrefix() -> String { "ship-\(UUID().uuidString.prefix(8).lowercased())" }

    /// A failover started with its log shipped to `urls`, waiting for its approval; the
    /// environment that ships it.
    func startShipping(to urls: [String]) throws -> (run: String, environment: [String: String]) {
        let shipping = shipEnvironment.merging(["CUTOVER_SHIP_TO": urls.joined(separator: ",")]) { $1 }
        let start = try sandbox.cutover(["start", "failover", "--runbook", sandbox.runbook, "--detach"], db: db, environment: shipping)
        #expect(start.status == 75, "\(start.stderr)")
        return (try #require(start.lines.first), shipping)
    }

    func ship(_ urls: [String], db: String) throws -> CutoverBinary.Result {
        try sandbox.cutover(["log", "ship"] + urls.flatMap { ["--to", $0] }, db: db, environment: shipEnvironment)
    }

    func restore(_ url: String, into db: String) throws -> CutoverBinary.Result {
        try sandbox.cutover(["log", "restore", "--from", url], db: db, environment: shipEnvironment)
    }

    /// The sandbox's S3 bucket as cutover's own provider sees it, to tamper with from outside.
    var primaryBucket: any ObjectStore {
        get throws {
            try providers.objectStore(
                ProviderTarget(provider: "s3", fields: ["bucket": .string("recsys-models-primary"), "region": .string("us-east-1"), "endpoint": .string("http://127.0.0.1:15001")]),
                StepTestContext(environment: env))
        }
    }

    @Test func aRunShippedToBothCloudsIsRestoredFromTheOtherAndCarriedOnWithNothingRepeated() throws {
        let start = try sandbox.cutover(["start", "failover", "--runbook", sandbox.runbook, "--detach"], db: db)
        #expect(start.status == 75, "\(start.stderr)")
        let run = try #require(start.lines.first)
        let p = shipPrefix()
        let (s3, gs) = ("s3://recsys-models-primary/\(p)", "gs://recsys-models-gcp-dr/\(p)")
        let shipped = try ship([s3, gs], db: db)
        #expect(shipped.status == 0, "\(shipped.stdout)\(shipped.stderr)")
        #expect(shipped.stdout.contains("\(gs): shipped"), "\(shipped.stdout)")
        #expect(try ship([s3, gs], db: db).stdout.contains("up to date"))
        // An auditor verifies straight from the bucket, with no database.
        let audited = try sandbox.cutover(["audit", "verify", "--from", s3], db: dir.path("none.sqlite"), environment: shipEnvironment)
        #expect(audited.status == 3 && audited.stdout.contains("✓ intact") && audited.stdout.contains(s3), "\(audited.stdout)\(audited.stderr)")
        let head = try SQLiteStore.open(path: db).head()
        // The machine is lost with its database; a new one restores from the other cloud.
        try FileManager.default.removeItem(atPath: db)
        let fresh = dir.path("elsewhere/cutover.sqlite")
        try FileManager.default.createDirectory(atPath: dir.path("elsewhere"), withIntermediateDirectories: true)
        let restored = try restore(gs, into: fresh)
        #expect(restored.status == 0, "\(restored.stderr)")
        #expect(try SQLiteStore.open(path: fresh).head() == head, "the same head hash")
        // The run carries on from the restored log: approved there, resumed, finished.
        #expect(try sandbox.approve(run, db: fresh).status == 0)
        let resumed = try sandbox.cutover(["resume", run], db: fresh)
        #expect(resumed.status == 0, "\(resumed.stdout)\(resumed.stderr)")
        let log = try SQLiteStore.open(path: fresh)
        #expect(try log.verifyChain().intact)
        let starts = try log.events(of: run, after: 0).filter { $0.type == "StepStarted" }.compactMap(\.body.stepID)
        #expect(starts.count == Set(starts).count, "no step started twice: \(starts)")
    }

    @Test func aSegmentEditedDeletedOrRenamedInTheBucketIsNamedAndNothingIsRestored() async throws {
        let start = try sandbox.cutover(["start", "failover", "--runbook", sandbox.runbook, "--detach"], db: db)
        let run = try #require(start.lines.first)
        let prefixes = [shipPrefix(), shipPrefix(), shipPrefix()]
        let urls = prefixes.map { "s3://recsys-models-primary/\($0)" }
        #expect(try ship(urls, db: db).status == 0)
        // More events, a second segment in each.
        #expect(try sandbox.cutover(["pause", run, "--reason", "lunch"], db: db).status == 0)
        #expect(try ship(urls, db: db).status == 0)
        let bucket = try primaryBucket
        let proof = StepTestContext(environment: env)
        func segments(_ prefix: String) async throws -> [StoredObject] { try await bucket.list(prefix: "\(prefix)/segments/") }
        // Edited: one byte of an actor in the second segment.
        let edited = try await segments(prefixes[0])
        #expect(edited.count == 2)
        var bytes = try #require(try await bucket.read(edited[1].key, limit: 1 << 20))
        let text = String(decoding: bytes, as: UTF8.self).replacingOccurrences(of: "\"actor\":\"root\"", with: "\"actor\":\"rooT\"")
        bytes = Array(text.utf8)
        #expect(try await bucket.replace(edited[1].key, bytes: bytes, current: try await bucket.head(edited[1].key), try await proof.proof()))
        // Deleted: the first segment.
        let deleted = try await segments(prefixes[1])
        #expect(try await bucket.delete(deleted[0].key, current: deleted[0], try await proof.proof()))
        // Renamed: the second segment's bytes under the first one's name.
        let renamed = try await segments(prefixes[2])
        let second = try #require(try await bucket.read(renamed[1].key, limit: 1 << 20))
        #expect(try await bucket.replace(renamed[0].key, bytes: second, current: renamed[0], try await proof.proof()))
        let expectations = [
            (urls[0], "\(edited[1].key.split(separator: "/").last!)", "does not hash to the chain: the segment was edited"),
            (urls[1], "\(prefixes[1])/segments/", "are in no segment"),
            (urls[2], "\(renamed[0].key.split(separator: "/").last!)", "which its name does not say"),
        ]
        for (i, (url, object, problem)) in expectations.enumerated() {
            let target = dir.path("tampered-\(i).sqlite")
            let r = try restore(url, into: target)
            #expect(r.status == 1, "\(url): \(r.stdout)")
            #expect(r.stderr.contains(problem) && r.stderr.contains(object), "\(url): \(r.stderr)")
            #expect(try SQLiteStore.open(path: target).head() == nil, "nothing restored from \(url)")
            let audited = try sandbox.cutover(["audit", "verify", "--from", url], db: dir.path("none.sqlite"), environment: shipEnvironment)
            #expect(audited.status == 1 && audited.stderr.contains(problem), "\(url): \(audited.stdout)\(audited.stderr)")
        }
    }

    @Test func aLogThatDivergesFromOrFallsShortOfWhatWasShippedIsNamed() throws {
        let start = try sandbox.cutover(["start", "failover", "--runbook", sandbox.runbook, "--detach"], db: db)
        let run = try #require(start.lines.first)
        let p = shipPrefix()
        let url = "gs://recsys-models-gcp-dr/\(p)"
        let firstOnly = "gs://recsys-models-gcp-dr/\(shipPrefix())"
        #expect(try ship([url, firstOnly], db: db).status == 0)
        // A copy restored elsewhere, and the old machine: each adds its own event.
        let copy = dir.path("copy.sqlite")
        #expect(try restore(url, into: copy).status == 0)
        #expect(try sandbox.cutover(["pause", run, "--reason", "old machine"], db: db).status == 0)
        #expect(try sandbox.cutover(["abort", run, "--reason", "new machine", "--detach"], db: copy).status != 64)
        // The copy ships first; the old machine's log is no longer the one in the bucket.
        #expect(try ship([url], db: copy).status == 0)
        let old = try ship([url], db: db)
        #expect(old.status == 1)
        #expect(old.stderr.contains("is not the one shipped to \(url)") || old.stderr.contains("shorter than what was shipped"), "\(old.stderr)")
        // A log cut short after it was shipped: the bucket holds more than it.
        let short = dir.path("short.sqlite")
        #expect(try restore(firstOnly, into: short).status == 0)
        #expect(try ship([url], db: short).stderr.contains("shorter than what was shipped (cut off?)"))
    }
}

extension SandboxTests {
    @Test func aMachineLostAfterThePivotIsReplacedFromTheOtherCloudsBucketAndNothingIsDoneTwice() throws {
        let p = shipPrefix()
        let (s3, gs) = ("s3://recsys-models-primary/\(p)", "gs://recsys-models-gcp-dr/\(p)")
        let (run, shipping) = try startShipping(to: [s3, gs])
        #expect(try sandbox.approve(run, db: db).status == 0)
        // The failover goes on in its own process, shipping before every change; it is killed
        // once the monitor watches DR (DNS switched, writes enabled: past the pivot).
        var env = sandbox.environment.merging(shipping) { $1 }
        env["CUTOVER_DB"] = db
        let process = CutoverBinary.start(["resume", run], in: repositoryRoot, environment: env)
        try process.run()
        try waitFor(run) { $0["type"] as? String == "StepStarted" && $0["step"] as? String == "monitor" }
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        let before = try SQLiteStore.open(path: db).events(of: run, after: 0)
        let pivot = try #require(before.firstIndex { $0.type == "StepSucceeded" && $0.body.stepID == "switch-dns" }, "\(before.map(\.type))")
        #expect(pivot > 0)
        for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: db + suffix) }
        // A new machine in the other cloud: restored from Cloud Storage, carried on.
        let fresh = dir.path("dr-machine.sqlite")
        let restored = try restore(gs, into: fresh)
        #expect(restored.status == 0, "\(restored.stderr)")
        let kept = try SQLiteStore.open(path: fresh).events(of: run, after: 0)
        #expect(kept.contains { $0.type == "StepSucceeded" && $0.body.stepID == "switch-dns" }, "every change before the crash was shipped before it was made")
        let resumed = try sandbox.cutover(["resume", run], db: fresh, environment: shipping)
        #expect(resumed.status == 0, "\(resumed.stdout)\(resumed.stderr)")
        let log = try SQLiteStore.open(path: fresh)
        #expect(try log.verifyChain().intact)
        let events = try log.events(of: run, after: 0)
        var done: [String: Int] = [:]
        for e in events where e.type == "StepSucceeded" { done[e.body.stepID ?? "", default: 0] += 1 }
        #expect(done.values.allSatisfy { $0 == 1 }, "no step done twice: \(done)")
        #expect(try sandbox.state()["dns"] as? [String] == [Self.dr])
        // The new machine's log continues the one in the bucket: the rest of it ships on.
        let more = try ship([gs, s3], db: fresh)
        #expect(more.status == 0 && more.stdout.contains("\(gs): shipped"), "\(more.stdout)\(more.stderr)")
    }
}

extension SandboxTests {
    @Test func aBucketThatRefusesWritesStopsTheRunBeforeItsNextChangeWithAClearMessage() throws {
        let s3 = "s3://recsys-models-primary/\(shipPrefix())"
        let (run, shipping) = try startShipping(to: [s3])
        let dnsBefore = try sandbox.state()["dns"] as? [String]
        // S3 refuses every write from now on.
        try sandbox.control("http://127.0.0.1:15001/_proxy/control", #"{"failNext": 1000, "status": 503, "service": "s3", "action": "PutObject", "code": "SlowDown", "message": "Please reduce your request rate."}"#)
        defer { try? sandbox.control("http://127.0.0.1:15001/_proxy/control", #"{"reset": true}"#) }
        #expect(try sandbox.approve(run, db: db).status == 0)
        let held = try sandbox.cutover(["resume", run, "--detach"], db: db, environment: shipping)
        #expect(held.status == 75, "\(held.stdout)\(held.stderr)")
        let st = try status(run)
        #expect(st["state"] as? String == "paused")
        let paused = try history(run).last { $0["type"] as? String == "RunPaused" }
        let reason = "\((paused?["body"] as? [String: Any])?["reason"] ?? "")"
        #expect(reason.contains("the log could not be shipped before step") && reason.contains("recsys-models-primary") && reason.contains("SlowDown"), "\(reason)")
        #expect(reason.contains("cutover resume \(run)"), "\(reason)")
        #expect(try sandbox.state()["dns"] as? [String] == dnsBefore, "nothing changed while the log could not leave")
        // status says how far behind the bucket is: what a lost machine would lose now.
        let behind = try sandbox.cutover(["status", run], db: db, environment: shipping)
        #expect(behind.stdout.contains("log shipped to \(s3): through event") && behind.stdout.contains("behind"), "\(behind.stdout)")
        // The bucket takes writes again; the person resumes and the failover carries on.
        try sandbox.control("http://127.0.0.1:15001/_proxy/control", #"{"reset": true}"#)
        let resumed = try sandbox.cutover(["resume", run], db: db, environment: shipping)
        #expect(resumed.status == 0, "\(resumed.stdout)\(resumed.stderr)")
        #expect(try sandbox.state()["dns"] as? [String] == [Self.dr])
    }
}

extension SandboxTests {
    @Test func anOldMachineThawedAfterARestoreElsewhereCannotShipOrAct() throws {
        let gs = "gs://recsys-models-gcp-dr/\(shipPrefix())"
        let (run, shipping) = try startShipping(to: [gs])
        #expect(try ship([gs], db: db).status == 0)
        // Machine A's driver waits for the approval, and A freezes there.
        var env = sandbox.environment.merging(shipping) { $1 }
        env["CUTOVER_DB"] = db
        let frozen = CutoverBinary.start(["resume", run], in: repositoryRoot, environment: env)
        try frozen.run()
        defer { if frozen.isRunning { kill(frozen.processIdentifier, SIGCONT); frozen.terminate() } }
        try waitFor(run) { $0["type"] as? String == "DriverAttached" && ($0["body"] as? [String: Any])?["resumed"] as? Bool == true }
        kill(frozen.processIdentifier, SIGSTOP)
        // Machine B restores from the bucket and carries the failover through.
        let b = dir.path("machine-b.sqlite")
        #expect(try restore(gs, into: b).status == 0)
        #expect(try sandbox.approve(run, db: b).status == 0)
        let done = try sandbox.cutover(["resume", run], db: b, environment: shipping)
        #expect(done.status == 0, "\(done.stdout)\(done.stderr)")
        let changesByB = try sandbox.awsCalls { action, _ in action == "ChangeResourceRecordSets" || action == "SetDesiredCapacity" }
        // A's own log gets its approval too, and A thaws: before its first change it must ship,
        // and the bucket holds B's continuation of the log, not A's.
        #expect(try sandbox.approve(run, db: db).status == 0)
        kill(frozen.processIdentifier, SIGCONT)
        try waitFor(run) { $0["type"] as? String == "RunPaused" }
        let paused = try history(run).last { $0["type"] as? String == "RunPaused" }
        let reason = "\((paused?["body"] as? [String: Any])?["reason"] ?? "")"
        #expect(reason.contains("could not be shipped") && (reason.contains("is not the one shipped") || reason.contains("shorter than what was shipped") || reason.contains("already exists")), "\(reason)")
        #expect(try sandbox.awsCalls { action, _ in action == "ChangeResourceRecordSets" || action == "SetDesiredCapacity" } == changesByB, "A changed nothing")
        #expect(try sandbox.state()["dns"] as? [String] == [Self.dr], "B's failover stands")
        // Nor can A's log be shipped by hand.
        let again = try ship([gs], db: db)
        #expect(again.status == 1, "\(again.stdout)")
    }
}

extension SandboxTests {
    /// The sandbox's bucket under S3 Object Lock (compliance mode, a day's retention).
    var lockedBucket: any ObjectStore {
        get throws {
            try providers.objectStore(
                ProviderTarget(provider: "s3", fields: ["bucket": .string("recsys-logs-locked"), "region": .string("us-east-1"), "endpoint": .string("http://127.0.0.1:15001")]),
                StepTestContext(environment: env))
        }
    }

    @Test func checkpointsShippedUnderObjectLockCatchALogCutShortAfterwards() async throws {
        #expect(try sandbox.cutover(["keys", "init"], db: db).status == 0)
        let pub = dir.path("keys/cutover.ed25519.pub.pem")
        let start = try sandbox.cutover(["start", "failover", "--runbook", sandbox.runbook, "--detach"], db: db)
        #expect(start.status == 75, "\(start.stderr)")
        let prefix = shipPrefix()
        let url = "s3://recsys-logs-locked/\(prefix)"
        #expect(try ship([url], db: db).status == 0)
        let head = try #require(try SQLiteStore.open(path: db).head())
        let held = try sandbox.cutover(["audit", "verify", "--key", pub, "--against", url], db: db, environment: shipEnvironment)
        #expect(held.status == 0, "\(held.stdout)\(held.stderr)")
        #expect(held.stdout.contains("every checkpoint shipped to \(url) (1, up to event \(head.seq)) lies on this log's chain, signed by the trusted key"), "\(held.stdout)")
        // The insider deletes the checkpoint from the bucket: under Object Lock that only hides
        // it behind a delete marker, and its version cannot be removed.
        let bucket = try lockedBucket
        let object = try #require(try await bucket.list(prefix: "\(prefix)/checkpoints/").first)
        let proof = try await StepTestContext(environment: env).proof()
        #expect(try await bucket.delete(object.key, current: object, proof))
        #expect(try await bucket.list(prefix: "\(prefix)/checkpoints/").isEmpty)
        let versions = try #require(bucket.versions)
        let kept = try await versions.versions(prefix: "\(prefix)/checkpoints/").filter { !$0.deleted }
        #expect(kept.count == 1)
        // And cuts the log here short: the last events and their checkpoint, triggers dropped.
        let cut = head.seq - 2
        let sql = """
            import sqlite3, sys
            c = sqlite3.connect(sys.argv[1])
            c.executescript("DROP TRIGGER events_no_delete; DROP TRIGGER checkpoints_no_delete;"
                            "DELETE FROM events WHERE seq > \(cut); DELETE FROM checkpoints WHERE seq > \(cut);")
            c.commit()
            """
        #expect(try sandbox.run(["/usr/bin/python3", "-c", sql, db]).status == 0)
        let local = try sandbox.cutover(["audit", "verify", "--key", pub], db: db)
        #expect(local.stdout.contains("✓ intact"), "cut at a clean point, the log alone still verifies: \(local.stdout)\(local.stderr)")
        let caught = try sandbox.cutover(["audit", "verify", "--key", pub, "--against", url], db: db, environment: shipEnvironment)
        #expect(caught.status == 1)
        #expect(caught.stderr.contains("events were cut off this log after they were shipped"), "\(caught.stdout)\(caught.stderr)")
        // Removing the bucket's last segment does not pass either: the delete marker is seen.
        let segment = try #require(try await bucket.list(prefix: "\(prefix)/segments/").last)
        #expect(try await bucket.delete(segment.key, current: segment, proof))
        let restored = try restore(url, into: dir.path("from-locked.sqlite"))
        #expect(restored.status == 1 && restored.stderr.contains("was deleted after it was shipped"), "\(restored.stderr)")
    }
}

extension SandboxTests {
    @Test func aThousandRunsShippedAndRestoredFromEitherCloudGiveTheSameHeadHash() async throws {
        let h = try Harness(world: ["health": "ok", "dns": "primary"])
        let e = h.engine()
        let wf = try h.workflow(#"{"name": "w", "steps": [{"id": "look", "type": "sim.check", "with": {"key": "health", "equals": "ok"}}, {"id": "soak", "type": "wait", "with": {"duration": "1s"}}]}"#)
        for _ in 0..<1_000 {
            let run = try e.start(h.request(wf))
            #expect(try await e.drive(run).status == .succeeded)
        }
        let prefix = shipPrefix()
        let targets = [
            ProviderTarget(provider: "s3", fields: ["bucket": .string("recsys-models-primary"), "region": .string("us-east-1"), "endpoint": .string("http://127.0.0.1:15001")]),
            ProviderTarget(provider: "gcs", fields: ["bucket": .string("recsys-models-gcp-dr"), "endpoint": .string("http://127.0.0.1:14443"), "credentials": .string("none")]),
        ]
        let head = try #require(try h.log.head())
        for (i, target) in targets.enumerated() {
            let store = try providers.objectStore(target, StepTestContext(environment: env))
            let d = ShipDestination(url: store.url(prefix), store: store, prefix: prefix)
            // Segments of a thousand events: several, each continuing the one before.
            let shipped = try await LogShipping.ship(h.log, to: d, proof: try e.shippingProof(), perSegment: 1_000)
            #expect(shipped.segments.count == Int((head.seq + 999) / 1_000) && shipped.through == head.seq)
            let into = try SQLiteStore.open(path: dir.path("thousand-\(i).sqlite"))
            let restored = try await LogShipping.restore(from: d, into: into)
            #expect(restored.events == head.seq)
            #expect(try into.head() == head, "\(d.url): the same head hash")
            #expect(try into.runIDs().count == 1_000)
            #expect(try into.verifyChain().intact)
        }
    }
}

extension SandboxTests {
    @Test func aScheduledDrillRecordsHowFarBehindTheShippedLogWasAtItsEnd() throws {
        let gs = "gs://recsys-models-gcp-dr/\(shipPrefix())"
        let shipping = shipEnvironment.merging(["CUTOVER_SHIP_TO": gs]) { $1 }
        try addDueSchedule("quarterly", mode: .drill, runbook: repositoryRoot.appendingPathComponent("runbooks/sandbox.json").path, approvedBy: ["demo-approver"])
        let once = try sandbox.cutover(["scheduler", "--once", "--grace", "5m"], db: db, environment: shipping)
        #expect(once.status == 0, "\(once.stdout)\(once.stderr)")
        let drill = try #require(try SQLiteStore.open(path: db).schedule("quarterly")?.drills.first)
        let lag = try #require(drill.finished?.logShipping, "the drill's end records the shipped log's lag")
        #expect(lag.count == 1 && lag[0].hasPrefix("log shipped to \(gs): through event"), "\(lag)")
        // Shipped before every change: what is behind came after the drill's last change.
        let log = try SQLiteStore.open(path: db)
        let events = try log.events(of: drill.run, after: 0)
        let lastChange = try #require(events.last { $0.type == "CompensationStarted" || ($0.type == "StepStarted" && $0.body.stepID != nil) })
        let through = Int64(lag[0].split(separator: " ").first { Int64($0.trimmingCharacters(in: .punctuationCharacters)) != nil }.flatMap { Int64($0.trimmingCharacters(in: .punctuationCharacters)) } ?? 0)
        #expect(through >= lastChange.seq, "shipped through \(through), the last change started at \(lastChange.seq)")
    }
}

extension SandboxTests {
    @Test func aBucketCanBeNamedByARunbookStyleTargetFile() throws {
        let start = try sandbox.cutover(["start", "failover", "--runbook", sandbox.runbook, "--detach"], db: db)
        #expect(start.status == 75)
        let prefix = shipPrefix()
        let file = dir.path("log-target.json")
        try Data(#"{"provider": "gcs", "bucket": "recsys-models-gcp-dr", "endpoint": "http://127.0.0.1:14443", "credentials": "none", "prefix": "\#(prefix)"}"#.utf8).write(to: URL(fileURLWithPath: file))
        let shipped = try sandbox.cutover(["log", "ship", "--to", file], db: db)
        #expect(shipped.status == 0 && shipped.stdout.contains("gs://recsys-models-gcp-dr/\(prefix): shipped"), "\(shipped.stdout)\(shipped.stderr)")
        let copy = dir.path("from-file.sqlite")
        #expect(try sandbox.cutover(["log", "restore", "--from", file], db: copy).status == 0)
        #expect(try SQLiteStore.open(path: copy).head() == SQLiteStore.open(path: db).head())
        let bad = dir.path("bad-target.json")
        try Data(#"{"provider": "route53", "bucket": "x"}"#.utf8).write(to: URL(fileURLWithPath: bad))
        let refused = try sandbox.cutover(["log", "ship", "--to", bad], db: db)
        #expect(refused.status != 0 && refused.stderr.contains("\(bad): provider: expected \"s3\" or \"gcs\""), "\(refused.stderr)")
    }
}
