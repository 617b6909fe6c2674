import Foundation
import Testing
import TestSupport

/// libcurl and libpq are opened the first time a transfer or a connection needs them, not at
/// every start: a run whose steps make no request loads neither, and a library that cannot be
/// loaded is named, with what to install, where it is needed.
@Suite struct LazyLibraryTests {
    /// The dynamic loader's own account of the files it opened (`LD_DEBUG=files`).
    func loaded(_ r: CutoverBinary.Result) -> (curl: Bool, pq: Bool) {
        (r.stderr.contains("file=libcurl.so.4"), r.stderr.contains("file=libpq.so.5"))
    }

    @Test func aRunOfWaitsLoadsNeitherLibraryAndAnHTTPStepLoadsLibcurl() throws {
        let p = try Project()
        _ = p.dir.write("workflows/waits.json", #"{"name": "waits", "steps": [{"id": "a", "type": "wait", "with": {"duration": "0ms"}}, {"id": "b", "type": "wait", "with": {"duration": "0ms"}}]}"#)
        let trace = p.environment.merging(["LD_DEBUG": "files"]) { $1 }
        let waits = try CutoverBinary.run(["start", "waits", "--runbook", "svc"], in: p.dir.url, environment: trace)
        #expect(waits.status == 0, "\(waits.stdout)")
        #expect(waits.stderr.contains("file=libsqlite3.so.0"), "the loader's trace is there to read")
        #expect(loaded(waits) == (false, false), "a run of waits opened libcurl or libpq")
        let status = try CutoverBinary.run(["status"], in: p.dir.url, environment: trace)
        #expect(status.status == 0 && loaded(status) == (false, false))

        let check = try CutoverBinary.run(["start", "check", "--runbook", "svc", "--drill"], in: p.dir.url, environment: trace)
        #expect(check.status == 0, "\(check.stdout)")
        #expect(loaded(check) == (true, false), "health.http and notify make their requests through libcurl")
    }

    /// A broken library where the loader looks first: the step that needed it fails with the
    /// reason, and the run of steps that need neither still runs.
    @Test func aLibcurlThatCannotBeLoadedIsNamedByTheStepThatNeededIt() throws {
        let p = try Project()
        _ = p.dir.write("libs/libcurl.so.4", "not a library\n")
        _ = p.dir.write("libs/libpq.so.5", "not a library either\n")
        _ = p.dir.write("workflows/waits.json", #"{"name": "waits", "steps": [{"id": "a", "type": "wait", "with": {"duration": "0ms"}}]}"#)
        let broken = p.environment.merging(["LD_LIBRARY_PATH": p.dir.path("libs")]) { $1 }
        let waits = try CutoverBinary.run(["start", "waits", "--runbook", "svc"], in: p.dir.url, environment: broken)
        #expect(waits.status == 0, "\(waits.stdout)\(waits.stderr)")

        _ = p.dir.write("workflows/probe.json", #"{"name": "probe", "steps": [{"id": "dr-health", "type": "health.http", "retry": {"attempts": 1}, "with": {"url": "${runbook.dr.endpoint}/health", "requests": 1}}]}"#)
        let probe = try CutoverBinary.run(["start", "probe", "--runbook", "svc", "--no-preflight"], in: p.dir.url, environment: broken)
        #expect(probe.status != 0)
        let said = probe.stdout + probe.stderr
        #expect(said.contains("libcurl.so.4 could not be loaded") && said.contains("install libcurl4"), "\(said)")

        let pg = try CutoverBinary.run(["list"], in: p.dir.url, environment: broken.merging(["CUTOVER_DB": "postgresql://cutover:hunter2@127.0.0.1:9/cutover"]) { $1 })
        #expect(pg.status == 1)
        #expect(pg.stderr.contains("libpq.so.5 could not be loaded") && pg.stderr.contains("install libpq5"), "\(pg.stderr)")
        #expect(!pg.stderr.contains("hunter2"))
    }
}
