import CutoverCore
import CutoverCrypto
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
    static func load(workflow: String, runbook: String, mode: RunMode, registry: StepRegistry) throws
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
        return (wf, rb, SHA256.hex(wf.source.canonicalString), SHA256.hex((try JSONValue.parse(runbookData)).canonicalString))
    }
}
