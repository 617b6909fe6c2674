import CutoverCore
import CutoverEngine
import CutoverSQLite
import Foundation
import Testing
import TestSupport

/// A database deleted or replaced under a running driver: the driver stops before its next
/// change to the world, with an error naming the file, instead of carrying on into a file
/// nobody can find again.
@Suite struct LogLocationTests {
    /// `sim.pull-the-rug`: does something to the database file while it runs.
    struct PullTheRug: StepType {
        struct Output: Codable, Sendable {}
        static let name = "sim.pull-the-rug"
        static let kind = StepKind.check
        static let schema = StepSchema()
        let act: @Sendable () throws -> Void
        func execute(_ p: StepParameters, _ ctx: any StepContext) async throws -> Output {
            try act()
            return Output()
        }
    }

    func drive(_ h: Harness, _ act: @escaping @Sendable () throws -> Void) async throws -> (String, Error?) {
        var registry = h.registry
        registry.register(AnyStepType(PullTheRug(act: act)))
        let wf = try Workflow.load(file: "w.json", data: Data(#"""
            {"name": "w", "steps": [{"id": "rug", "type": "sim.pull-the-rug"},
                                    {"id": "switch", "type": "sim.set", "with": {"key": "dns", "value": "dr"}}]}
            """#.utf8), registry: registry)
        let engine = Engine(store: h.log, registry: registry, clock: h.clock, ids: h.ids, configuration: EngineConfiguration(owner: "d:1", actor: "d"))
        let run = try engine.start(h.request(wf))
        do {
            _ = try await engine.drive(run)
            return (run, nil)
        } catch {
            return (run, error)
        }
    }

    @Test func aDeletedDatabaseStopsTheDriverBeforeTheNextChange() async throws {
        let h = try Harness()
        let path = h.log.location
        let (_, error) = try await drive(h) {
            for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: path + suffix) }
        }
        let e = try #require(error as? StoreError, "the driver carried on: \(String(describing: error))")
        #expect(e.code == .unavailable && !e.isRetryable)
        #expect(e.message.contains("\(path) is gone"), "\(e.message)")
        #expect(e.message.contains("The step in flight was step rug (attempt 1)"), "\(e.message)")
        #expect(h.world.snapshot["dns"] == "primary", "no change after the log vanished")
        #expect(h.world.effects.isEmpty)
    }

    @Test func aReplacedDatabaseStopsTheDriverToo() async throws {
        let h = try Harness()
        let path = h.log.location
        let other = h.dir.path("other.sqlite")
        _ = try SQLiteStore.open(path: other)
        let (_, error) = try await drive(h) {
            for suffix in ["-wal", "-shm"] { try? FileManager.default.removeItem(atPath: path + suffix) }
            _ = rename(other, path)
        }
        let e = try #require(error as? StoreError, "the driver carried on: \(String(describing: error))")
        #expect(e.message.contains("was replaced by another file"), "\(e.message)")
        #expect(h.world.snapshot["dns"] == "primary")
    }

    @Test func aLogLeftInPlaceIsConfirmed() async throws {
        let h = try Harness()
        try h.log.confirmLocation()
        let (run, error) = try await drive(h) {}
        #expect(error == nil)
        #expect(try h.events(run).last?.type == "RunSucceeded")
    }
}
