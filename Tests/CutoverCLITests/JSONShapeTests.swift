import Foundation
import Testing
import TestSupport

/// The JSON shapes `cutover help json` documents, read from that page as a user reads them.
struct DocumentedShapes {
    /// kind → (every field, the fields always present).
    let shapes: [String: (all: Set<String>, required: Set<String>)]

    init() throws {
        let page = try CutoverBinary.run(["help", "json"], in: repositoryRoot).stdout
        var shapes: [String: (all: Set<String>, required: Set<String>)] = [:]
        var kind: String?
        for line in page.split(separator: "\n", omittingEmptySubsequences: false).map(String.init) {
            if line.hasPrefix("\"kind\": \"") {
                kind = line.dropFirst(9).split(separator: "\"").first.map(String.init)
                if let kind { shapes[kind] = ([], []) }
            } else if let k = kind, line.hasPrefix("  "), let word = line.split(separator: " ").first {
                let name = word.hasSuffix("?") ? String(word.dropLast()) : String(word)
                shapes[k]!.all.insert(name)
                if !word.hasSuffix("?") { shapes[k]!.required.insert(name) }
            } else if line.isEmpty {
                kind = nil
            }
        }
        self.shapes = shapes
    }

    /// Each object has a documented kind, every field its shape always has, and no other.
    func check(_ objects: [[String: Any]], _ source: String) {
        #expect(!objects.isEmpty, "\(source) wrote no JSON")
        for o in objects {
            guard let kind = o["kind"] as? String, let shape = shapes[kind] else {
                Issue.record("\(source): an object without a documented kind: \(o)")
                continue
            }
            let keys = Set(o.keys)
            #expect(keys.isSubset(of: shape.all), "\(source): \(kind) has undocumented fields \(keys.subtracting(shape.all).sorted())")
            #expect(shape.required.isSubset(of: keys), "\(source): \(kind) lacks \(shape.required.subtracting(keys).sorted())")
            for (k, v) in o where k == "at" || k.hasSuffix("At") {
                #expect((v as? String).map { $0.hasSuffix("Z") && $0.contains(".") } == true, "\(source): \(k) is RFC 3339 UTC with milliseconds: \(v)")
            }
        }
    }
}

extension CutoverBinary.Result {
    /// Every line as a JSON object (a line that is not one is recorded as an issue).
    var objects: [[String: Any]] {
        lines.compactMap { line in
            let o = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
            if o == nil { Issue.record("not a JSON object: \(line)") }
            return o
        }
    }
}

@Suite struct JSONShapeTests {
    /// Every command's --json output, held to the shapes the reference documents.
    @Test func everyJSONOutputHasItsDocumentedShape() throws {
        let shapes = try DocumentedShapes()
        #expect(Set(shapes.shapes.keys) == ["event", "summary", "run", "report", "gap"])
        let p = try Project()
        let drill = try p.cutover("start", "check", "--runbook", "svc", "--drill", "--json")
        shapes.check(drill.objects, "start --json")
        let run = p.lastJSON(drill)["run"] as? String ?? ""
        let ready = try p.cutover("start", "check", "--runbook", "svc", "--readiness-only", "--json")
        shapes.check(ready.objects, "start --readiness-only --json")
        let gated = try p.cutover("start", "gated", "--runbook", "svc", "--detach", "--json")
        #expect(gated.status == 75)
        let waiting = p.lastJSON(gated)["run"] as? String ?? ""
        shapes.check(try p.cutover("status", waiting, "--json").objects, "status --json (waiting)")
        _ = try p.approve(waiting, as: "alice")
        shapes.check(try p.cutover("resume", waiting, "--json").objects, "resume --json")
        shapes.check(try p.cutover("status", run, "--json").objects, "status --json")
        shapes.check(try p.cutover("history", run, "--json").objects, "history --json")
        shapes.check(try p.cutover("watch", run, "--json").objects, "watch --json")
        shapes.check(try p.cutover("list", "--json").objects, "list --json")
        shapes.check(try p.cutover("report", "--json").objects, "report --json")
    }
}
