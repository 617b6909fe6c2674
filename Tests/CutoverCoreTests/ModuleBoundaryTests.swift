import Foundation
import Testing
import TestSupport

/// The lines the architecture draws, read from the sources: who may make a run proof, and
/// that step types never name a vendor. (`scripts/test` also builds with SwiftPM's explicit
/// dependency import check, so an undeclared import does not compile.)
@Suite struct ModuleBoundaryTests {
    func sources(under folder: String) throws -> [(path: String, text: String)] {
        let root = repositoryRoot.appendingPathComponent(folder)
        let files = FileManager.default.enumerator(at: root, includingPropertiesForKeys: nil)?.compactMap { $0 as? URL } ?? []
        return try files.filter { $0.pathExtension == "swift" }.map { ($0.path, try String(contentsOf: $0, encoding: .utf8)) }
    }

    @Test func onlyTheEngineMakesRunProofs() throws {
        let importers = try sources(under: "Sources").filter { $0.text.contains("@_spi(RunProof)") }.map(\.path)
        #expect(!importers.isEmpty)
        #expect(importers.allSatisfy { $0.contains("/Sources/CutoverEngine/") || $0.hasSuffix("/Sources/CutoverCore/RunProof.swift") }, "\(importers)")
    }

    @Test func stepTypesNameNoVendor() throws {
        for (path, text) in try sources(under: "Sources/CutoverSteps") {
            for vendor in ["CutoverAWS", "CutoverAlertmanager", "CutoverGoogle", "CutoverPostgres", "CutoverPowerDNS", "CutoverRedis", "CutoverSQLite"] {
                #expect(!text.contains("import \(vendor)"), "\(path) imports \(vendor)")
            }
        }
    }

    @Test func everyMutatingCapabilityTakesAProof() throws {
        let text = try String(contentsOf: repositoryRoot.appendingPathComponent("Sources/CutoverProviders/Capabilities.swift"), encoding: .utf8)
        let mutating = [
            "func resize(", "func replace(", "func delete(", "func create(", "func promote(", "func follow(", "func writeMarker(", "func silence(",
            "func expire(", "func start(", "func send(", "func complete(", "func abort(",
        ]
        let lines = text.split(separator: "\n").filter { line in mutating.contains { line.contains($0) } }
        for name in mutating { #expect(lines.contains { $0.contains(name) }, "\(name) is declared") }
        for line in lines { #expect(line.contains("_ proof: RunProof"), "\(line)") }
        // And nothing else in the protocols takes one: reads need no proof.
        #expect(text.components(separatedBy: "_ proof: RunProof").count - 1 == lines.count)
    }
}
