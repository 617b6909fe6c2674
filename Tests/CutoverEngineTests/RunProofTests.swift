import CutoverCore
import CutoverEngine
import Foundation
import Testing
import TestSupport

/// The engine makes a step's proof that it holds the run from the lease, right before the step
/// changes the world; a driver whose lease another process took gets none, and changes nothing.
@Suite struct RunProofTests {
    /// `sim.contested`: before changing the world, lets `contend` run (another process taking
    /// the run over), then asks for its proof like every mutating provider call does.
    struct Contested: StepType {
        struct Output: Codable, Sendable {}
        static let name = "sim.contested"
        static let kind = StepKind.compensable
        static let schema = StepSchema()
        let world: SimulatedWorld
        let contend: @Sendable (String) throws -> Void
        func execute(_ p: StepParameters, _ ctx: any StepContext) async throws -> Output {
            try contend(ctx.runID)
            let proof = try await ctx.proof()
            try proof.check(doing: "setting dns")
            world.set("dns", "dr", by: ctx.stepID, .execute)
            return Output()
        }
    }

    func run(_ h: Harness, contend: @escaping @Sendable (String) throws -> Void) async throws -> (String, Result<RunState, Error>) {
        var registry = h.registry
        registry.register(AnyStepType(Contested(world: h.world, contend: contend)))
        let wf = try Workflow.load(
            file: "w.json", data: Data(#"{"name": "w", "steps": [{"id": "switch", "type": "sim.contested"}]}"#.utf8), registry: registry)
        let engine = Engine(
            store: h.log, registry: registry, clock: h.clock, ids: h.ids,
            configuration: EngineConfiguration(owner: "driver:1", actor: "cutover@driver", leaseTTL: .seconds(30)))
        let run = try engine.start(h.request(wf))
        do { return (run, .success(try await engine.drive(run))) } catch { return (run, .failure(error)) }
    }

    @Test func aHeldRunGetsAProofThatNamesItsLease() async throws {
        let h = try Harness()
        let (_, result) = try await run(h) { _ in }
        #expect(try result.get().status == .succeeded)
        #expect(h.world.snapshot["dns"] == "dr")
    }

    @Test func aDriverWhoseLeaseWasTakenGetsNoProofAndChangesNothing() async throws {
        let h = try Harness()
        let clock = h.clock
        let log = h.log
        let (run, result) = try await run(h) { run in
            // The driver froze past its lease; another process took the run over.
            try log.acquireLease(run: run, owner: "other:2", now: clock.now().addingTimeInterval(60), ttl: .seconds(30), isGone: { _ in false })
        }
        guard case .failure(let error) = result else { Issue.record("the driver carried on: \(result)"); return }
        #expect((error as? StoreError)?.code == .leaseLost, "\(error)")
        #expect(h.world.snapshot["dns"] == "primary", "nothing changed")
        #expect(h.world.effects.isEmpty)
        #expect(try h.events(run).contains { if case .stepSucceeded = $0.body { return true } else { return false } } == false)
    }

    @Test func aProofGoesStaleWithItsLease() throws {
        // Made from a lease that ends in 50ms of the engine's clock: good now, refused after.
        let clock = SimulatedClock()
        let proof = try #require(makeProof(clock: clock, lasting: 0.05))
        try proof.check(doing: "switching")
        clock.advance(by: 0.1)
        let error = #expect(throws: StepError.self) { try proof.check(doing: "switching dns") }
        #expect(error?.code == "proof-expired" && error?.retryable == true)
        #expect(error?.message.contains("not switching dns") == true, "\(error?.message ?? "")")
    }

    func makeProof(clock: SimulatedClock, lasting seconds: Double) -> RunProof? {
        StepTestContext.proof(runID: "r", clock: clock, lasting: seconds)
    }
}
