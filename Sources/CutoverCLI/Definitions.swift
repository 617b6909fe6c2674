import CutoverCore
import CutoverCrypto
import CutoverSteps
import Foundation

/// Finding and loading workflow and runbook files by path or by name.
enum Definitions {
    /// `name` as given if it is a file, else `folder/name.json`.
    /// - Throws: `CommandFailure` listing where it looked.
    static func locate(_ name: String, in folder: String, kind: String) throws -> String {
        var isDir: ObjCBool = false
        if FileManager.default.fileExists(atPath: name, isDirectory: &isDir), !isDir.boolValue { return name }
        let candidate = "\(folder)/\(name).json"
        if FileManager.default.fileExists(atPath: candidate) { return candidate }
        let known = ((try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? [])
            .filter { $0.hasSuffix(".json") }.map { String($0.dropLast(5)) }.sorted()
        let hint = Suggestion.hint(for: name, in: known)
        let list = known.isEmpty ? "" : " Known \(kind)s: \(known.joined(separator: ", "))."
        throw CommandFailure("no \(kind) \"\(name)\": neither \(name) nor \(candidate) exists\(hint).\(list)", code: ExitCode.usage)
    }

    static func read(_ path: String) throws -> Data {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw CommandFailure("cannot read \(path)", code: ExitCode.usage)
        }
        return data
    }

    /// The validated runbook and workflow, or every problem in both.
    /// - Throws: `ValidationFailure` with all issues of both files.
    static func load(workflow: String, runbook: String, mode: RunMode, registry: StepRegistry, chain: [String] = []) throws
        -> (Workflow, Runbook, workflowDigest: String, runbookDigest: String)
    {
        let runbookPath = try locate(runbook, in: "runbooks", kind: "runbook")
        let workflowPath = try locate(workflow, in: "workflows", kind: "workflow")
        let runbookData = try read(runbookPath)
        let workflowData = try read(workflowPath)
        let rb: Runbook
        do {
            rb = try Runbook.load(file: runbookPath, data: runbookData, mode: mode, providers: registry.providers)
        } catch let failure as ValidationFailure {
            // Report the workflow's own problems too, checked without the runbook.
            var issues = failure.issues
            do { _ = try Workflow.load(file: workflowPath, data: workflowData, registry: registry) } catch let w as ValidationFailure {
                issues += w.issues
            }
            throw ValidationFailure(issues)
        }
        let wf = try Workflow.load(file: workflowPath, data: workflowData, registry: registry, runbook: rb)
        try checkChildren(of: wf, file: workflowPath, service: rb.service, mode: mode, registry: registry, chain: chain.isEmpty ? [workflowPath] : chain)
        return (wf, rb, SHA256.hex(wf.source.canonicalString), SHA256.hex((try JSONValue.parse(runbookData)).canonicalString))
    }

    /// Checks every `workflow` step's child before anything is written: its files load and
    /// validate together, it runs for another service than its parent's (each run holds its
    /// own), a child with a pivot is run by a step marked as one, and no workflow runs itself.
    /// - Throws: `ValidationFailure` naming the step's path in `file`, or the child's own file.
    static func checkChildren(of wf: Workflow, file: String, service: String, mode: RunMode, registry: StepRegistry, chain: [String]) throws {
        var issues: [ValidationIssue] = []
        let paths = Dictionary(Workflow.stepSources(wf.source).compactMap { s in s.step["id"]?.stringValue.map { ($0, s.path) } }, uniquingKeysWith: { a, _ in a })
        for step in wf.steps where step.type == ChildWorkflow.name {
            let at = paths[step.id] ?? "steps"
            // A reference is resolved when the step runs; its child is checked then.
            guard let child = step.with["workflow"]?.stringValue, let runbook = step.with["runbook"]?.stringValue,
                !child.contains("${"), !runbook.contains("${")
            else { continue }
            let loaded: (Workflow, Runbook, workflowDigest: String, runbookDigest: String)
            do {
                let childPath = try locate(child, in: "workflows", kind: "workflow")
                if chain.contains(childPath) {
                    issues.append(ValidationIssue(file: file, path: "\(at).with.workflow", message: "runs \(childPath), which is already running above it (\(chain.joined(separator: " → "))): a workflow cannot run itself"))
                    continue
                }
                loaded = try load(workflow: childPath, runbook: runbook, mode: mode, registry: registry, chain: chain + [childPath])
            } catch let f as CommandFailure {
                issues.append(ValidationIssue(file: file, path: "\(at).with", message: f.message))
                continue
            } catch let f as ValidationFailure {
                issues += f.issues
                continue
            }
            let (childWorkflow, childRunbook, _, _) = loaded
            if childRunbook.service == service {
                issues.append(ValidationIssue(
                    file: file, path: "\(at).with.runbook",
                    message: "the child would run for service \(service), which this run holds: a child workflow runs for another service, each run holding its own"))
            }
            let pivots = childWorkflow.steps.filter(\.pivot).map(\.id)
            if !pivots.isEmpty, !step.pivot {
                issues.append(ValidationIssue(
                    file: file, path: "\(at).pivot",
                    message: "step \(step.id) runs \(childWorkflow.name), which has a pivot (\(pivots.joined(separator: ", "))): mark the step \"pivot\": true, so a live run never rolls it back on its own"))
            }
        }
        if !issues.isEmpty { throw ValidationFailure(issues) }
    }
}
