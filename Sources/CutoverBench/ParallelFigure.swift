import CutoverCore
import CutoverEngine
import CutoverSQLite
import Foundation

extension Runner {
    /// `groups` parallel groups of `width` no-op steps each.
    func groupedWorkflow(groups: Int, width: Int) throws -> Workflow {
        let list = (0..<groups).map { g in
            let members = (0..<width).map { #"{"id": "g\#(g)s\#($0)", "type": "noop"}"# }.joined(separator: ",")
            return #"{"id": "g\#(g)", "parallel": [\#(members)]}"#
        }.joined(separator: ",")
        return try Workflow.load(file: "bench-groups.json", data: Data(#"{"name": "bench-groups", "steps": [\#(list)]}"#.utf8), registry: registry)
    }

    /// Issue 24's figure: a 100-step workflow of 10 parallel groups x 10 no-op steps against
    /// the same 100 steps in sequence, in turns on fresh databases of the same disk. Budget:
    /// faster, with no more durable commits per step.
    func parallelFigure() async throws -> Result {
        let groups = options.smoke ? 2 : 10, width = options.smoke ? 3 : 10
        let steps = groups * width
        let grouped = try groupedWorkflow(groups: groups, width: width)
        let sequential = try workflow(steps: steps)
        var parallelMs: [Double] = [], sequentialMs: [Double] = [], ratios: [Double] = []
        var parallelCommits: [Double] = [], sequentialCommits: [Double] = []
        // Each turn runs the sequential and the grouped workflow back to back, several times,
        // so that the disk's minute-to-minute drift weighs on both alike.
        let turns = options.smoke ? 2 : options.reps * 4 + 1
        for turn in 0..<turns {
            var pair: [Double] = []
            for (name, w) in [("seq", sequential), ("par", grouped)] {
                let store = try SQLiteStore.open(path: path("\(name)-\(turn).sqlite"))
                let e = engine(store)
                let id = try e.start(Engine.StartRequest(workflow: w, runbook: try runbook("svc-\(name)-\(turn)"), mode: .live, startedBy: "bench", workflowDigest: "-", runbookDigest: "-"))
                let commitsBefore = store.durableCommits
                let start = clock.now
                let state = try await e.drive(id)
                let took = (clock.now - start).seconds * 1_000 / Double(steps)
                guard state.status == .succeeded else { throw BenchError("a \(name) bench run ended \(state.status.rawValue)") }
                let perStep = Double(store.durableCommits - commitsBefore) / Double(steps)
                if turn > 0, name == "seq" {
                    sequentialMs.append(took)
                    sequentialCommits.append(perStep)
                } else if turn > 0 {
                    parallelMs.append(took)
                    parallelCommits.append(perStep)
                }
                pair.append(took)
            }
            if turn > 0 { ratios.append(pair[1] / pair[0]) }
        }
        let ratio = Stat(ratios).median
        let par = Stat(parallelCommits), seq = Stat(sequentialCommits)
        return Result(
            figure: "\(groups) parallel groups x \(width) no-op steps", value: Stat(parallelMs), unit: "ms/step", baseline: Stat(sequentialMs),
            baselineName: "the same \(steps) steps in sequence", ratio: ratio, budget: "ratio < 1, commits/step <= sequential",
            met: ratio < 1 && par.max <= seq.min,
            note: String(format: "durable commits per step: %.2f [%.2f-%.2f] in groups, %.2f in sequence", par.median, par.min, par.max, seq.median))
    }
}
