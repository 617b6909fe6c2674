import CutoverCore
import CutoverEngine
import Foundation
import Testing
import TestSupport

/// One declaration per parameter: validation, the typed read, defaults and a kind that
/// depends on the parameters all come from it.
@Suite struct StepSchemaTests {
    /// `sim.undoable`: compensable when given an `undo`, a check otherwise.
    struct Undoable: StepType {
        struct Output: Codable, Sendable { var did: String }
        static let name = "sim.undoable"
        static let kind = StepKind.check
        static func kind(with parameters: [String: JSONValue]) -> StepKind { parameters["undo"] == nil ? .check : .compensable }
        static let command = Param<String>.string("command", "what to run")
        static let undo = Param<String?>.string("undo", "what puts it back")
        static let tries = Param<Int>.integer("tries", 1...100, default: 3, "how often")
        static let within = Param<Duration>.duration("within", default: "5s", "how long")
        static let schema = StepSchema(command, undo, tries, within)
        func execute(_ p: StepParameters, _ ctx: any StepContext) async throws -> Output {
            Output(did: "\(try p[Self.command]) x\(try p[Self.tries]) within \(try p[Self.within].milliseconds)ms, undo \(try p[Self.undo] ?? "-")")
        }
    }

    @Test func fieldsComeFromTheDeclarations() {
        let fields = Undoable.schema.fields
        #expect(fields.map(\.name) == ["command", "undo", "tries", "within"])
        #expect(fields.map(\.required) == [true, false, false, false])
        #expect(fields[2].defaultValue == .int(3) && fields[3].defaultValue == .string("5s"))
        #expect(fields[2].summary == "how often")
    }

    @Test func theTypedReadAppliesDefaults() async throws {
        let p = try StepParameters(.object(["command": .string("restart")]), for: Undoable.self)
        let out = try await Undoable().execute(p, StepTestContext())
        #expect(out.did == "restart x3 within 5000ms, undo -")
    }

    @Test func everyBadFieldIsNamedAtOnce() {
        // What a `${...}` can resolve to at run time, past load-time checks.
        let error = #expect(throws: StepError.self) {
            try StepParameters(.object(["tries": .int(0), "within": .string("soon")]), for: Undoable.self)
        }
        #expect(error?.code == "bad-parameters")
        #expect(error?.message == #"command: missing; sim.undoable needs a string; tries: expected an integer from 1 to 100, got 0; within: expected a duration like "30s", "5m" or "250ms", got "soon""#)
    }

    @Test func parametersFromAnotherBuildAreNamedAsSuch() async throws {
        // A run started by a build whose step type took other parameters, resumed by this one.
        let error = await #expect(throws: StepError.self) {
            _ = try await AnyStepType(Undoable()).execute(.object(["command": .string("x"), "group": .string("g")]), StepTestContext())
        }
        #expect(error?.code == "parameters-of-another-build")
        #expect(error?.message.contains("sim.undoable in this build takes no group") == true, "\(error?.message ?? "")")
        #expect(error?.retryable == false)
    }

    @Test func aKindMayDependOnTheParameters() throws {
        var registry = standardRegistry()
        registry.register(AnyStepType(Undoable()))
        let type = try #require(registry["sim.undoable"])
        #expect(type.kind(with: ["command": .string("x")]) == .check)
        #expect(type.kind(with: ["command": .string("x"), "undo": .string("y")]) == .compensable)
        // Validation reads the kind of the step, not of the type: only a step that reads is refused as a pivot.
        func load(_ with: String) throws {
            _ = try Workflow.load(
                file: "w.json", data: Data(#"{"name": "w", "steps": [{"id": "a", "type": "sim.undoable", "pivot": true, "with": \#(with)}]}"#.utf8),
                registry: registry)
        }
        let refused = #expect(throws: ValidationFailure.self) { try load(#"{"command": "x"}"#) }
        #expect(refused?.issues.map(\.path) == ["steps[0].pivot"])
        try load(#"{"command": "x", "undo": "y"}"#)
    }

    @Test func theRunRecordsTheKindOfEachStep() throws {
        let h = try Harness()
        var registry = h.registry
        registry.register(AnyStepType(Undoable()))
        let wf = try Workflow.load(
            file: "w.json",
            data: Data(#"{"name": "w", "steps": [{"id": "a", "type": "sim.undoable", "with": {"command": "x"}}, {"id": "b", "type": "sim.undoable", "with": {"command": "x", "undo": "y"}}]}"#.utf8),
            registry: registry)
        let engine = Engine(store: h.log, registry: registry, clock: h.clock, ids: h.ids, configuration: EngineConfiguration(owner: "t:1", actor: "t"))
        let run = try engine.start(h.request(wf))
        let plan = try RunState.fold(run, try h.events(run)).plan
        #expect(plan?.steps.map(\.kind) == [.check, .compensable])
    }
}
