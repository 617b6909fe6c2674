import CutoverCore
import CutoverEngine
import CutoverSQLite
import Foundation
import Testing
import TestSupport

/// Holds a driver where it asks for its proof, as a freeze (SIGSTOP, a stalled VM) would.
actor Freeze {
    let step: String
    let nth: Int
    private var seen = 0
    private var frozen = false
    private var thawed = false
    private var waitingForFreeze: [CheckedContinuation<Void, Never>] = []
    private var waitingForThaw: CheckedContinuation<Void, Never>?

    init(step: String, nth: Int) {
        self.step = step
        self.nth = nth
    }

    func hold(_ run: String, _ step: String) async {
        guard step == self.step else { return }
        seen += 1
        guard seen == nth, !thawed else { return }
        frozen = true
        for w in waitingForFreeze { w.resume() }
        waitingForFreeze = []
        await withCheckedContinuation { waitingForThaw = $0 }
    }

    func untilFrozen() async {
        if frozen { return }
        await withCheckedContinuation { waitingForFreeze.append($0) }
    }

    func thaw() {
        thawed = true
        waitingForThaw?.resume()
        waitingForThaw = nil
    }
}

/// A driver frozen right before its proof, for longer than its lease and margin, while another
/// driver takes the run over: after the thaw the world is exactly as the log says. For every
/// mutating built-in step type, in its execution (the drill the other driver finishes rolls
/// the change back; a late change would undo that) and in its compensation (the other driver
/// finishes the rollback, then runs a live failover; a late restore would undo that).
extension SandboxTests {
    struct FreezeCase: Sendable, CustomStringConvertible {
        var step: String
        var steps: String
        /// Which of the step's proofs to freeze at: 1 its execution, 2 its compensation.
        var nth: Int
        /// A live run (the other driver finishes it, then rolls it back as a person would ask)
        /// instead of a drill.
        var live = false
        var description: String { "\(step) \(nth == 1 ? "execute" : "compensate")\(live ? " live" : "")" }
    }

    /// The DR group on the Compute Engine fake; the primary's on Auto Scaling (moto).
    static let scale = #"{"id": "scale", "type": "instances.scale", "with": {"group": "${runbook.dr.gpuGroup}", "capacity": 3, "waitFor": "30s", "pollInterval": "200ms"}}"#
    static let scaleAWS = #"{"id": "scale-aws", "type": "instances.scale", "with": {"group": "${runbook.primary.gpuGroup}", "capacity": 6, "waitFor": "30s", "pollInterval": "200ms"}}"#
    /// The public zone on Cloud DNS (the Google fake over PowerDNS), and PowerDNS's own API.
    static let clouddns = #"{"id": "clouddns", "type": "dns.switch", "with": {"zone": "${runbook.dns.authoritative}", "name": "${runbook.dns.name}", "records": ["${runbook.dr.address}"], "nameserver": "${runbook.dns.nameserver}"}}"#
    static let pdns = #"{"id": "pdns", "type": "dns.switch", "with": {"zone": {"provider": "powerdns", "api": "http://127.0.0.1:18081", "apiKey": "env:PDNS_API_KEY", "zone": "example.test."}, "name": "${runbook.dns.name}", "records": ["${runbook.dr.address}"], "nameserver": "${runbook.dns.nameserver}"}}"#
    static let route53 = #"{"id": "r53", "type": "dns.switch", "with": {"zone": "${runbook.dns.cloud}", "name": "${runbook.dns.name}", "records": ["${runbook.dr.address}"]}}"#
    static let promote = #"{"id": "promote", "type": "writes.enable", "with": {"replica": "${runbook.dr.redis}", "primary": "${runbook.primary.redis}", "resyncWithin": "30s"}}"#
    static let follow = #"{"id": "follow", "type": "replication.follow", "with": {"node": "${runbook.primary.redis}", "of": "${runbook.dr.redis}", "syncWithin": "30s"}}"#
    static let check = #"{"id": "lag", "type": "replication.check", "with": {"primary": "${runbook.primary.redis}", "replica": "${runbook.dr.redis}", "rpo": "5s"}}"#

    static let freezeCases: [FreezeCase] = [
        FreezeCase(step: "scale", steps: scale, nth: 1), FreezeCase(step: "scale", steps: scale, nth: 2),
        FreezeCase(step: "scale-aws", steps: scaleAWS, nth: 1), FreezeCase(step: "scale-aws", steps: scaleAWS, nth: 2),
        FreezeCase(step: "pdns", steps: pdns, nth: 1), FreezeCase(step: "pdns", steps: pdns, nth: 2),
        FreezeCase(step: "clouddns", steps: clouddns, nth: 1), FreezeCase(step: "clouddns", steps: clouddns, nth: 2),
        FreezeCase(step: "r53", steps: route53, nth: 1), FreezeCase(step: "r53", steps: route53, nth: 2),
        FreezeCase(step: "promote", steps: promote, nth: 1), FreezeCase(step: "promote", steps: promote, nth: 2),
        // The primary follows DR once DR is promoted (a failback's first move).
        FreezeCase(step: "follow", steps: promote + ", " + follow, nth: 1), FreezeCase(step: "follow", steps: promote + ", " + follow, nth: 2),
        FreezeCase(step: "lag", steps: check, nth: 1),
        FreezeCase(step: "scale", steps: scale, nth: 1, live: true), FreezeCase(step: "clouddns", steps: clouddns, nth: 1, live: true),
        FreezeCase(step: "r53", steps: route53, nth: 1, live: true), FreezeCase(step: "promote", steps: promote, nth: 1, live: true),
        FreezeCase(step: "follow", steps: promote + ", " + follow, nth: 1, live: true),
    ]

    @Test(arguments: freezeCases)
    func aFrozenDriverChangesNothingAfterItsRunWasTakenOver(_ c: FreezeCase) async throws {
        for (k, v) in sandbox.environment where k.hasPrefix("AWS_") || k.hasPrefix("PDNS_") || k.hasPrefix("GOOGLE_") { setenv(k, v, 1) }
        let registry = standardRegistry()
        let runbook = try Runbook.load(
            file: "runbooks/sandbox.json", data: try Data(contentsOf: repositoryRoot.appendingPathComponent("runbooks/sandbox.json")),
            mode: .drill, providers: registry.providers)
        let workflow = try Workflow.load(
            file: "workflows/freeze.json", data: Data(#"{"name": "freeze", "steps": [\#(c.steps)]}"#.utf8), registry: registry, runbook: runbook)
        func request(_ mode: RunMode) -> Engine.StartRequest {
            Engine.StartRequest(workflow: workflow, runbook: runbook, mode: mode, startedBy: "oncall", workflowDigest: "freeze", runbookDigest: "sandbox")
        }
        let freeze = Freeze(step: c.step, nth: c.nth)
        // Two processes on one database: each its own handle and its own lease.
        let frozen = Engine(
            store: try SQLiteStore.open(path: db), registry: registry, clock: SystemClock(), ids: RandomIDs(),
            configuration: EngineConfiguration(
                owner: "frozen:1", actor: "cutover@frozen", leaseTTL: .milliseconds(1_500), leaseMargin: .milliseconds(300),
                signalPollInterval: .milliseconds(200), beforeProof: { await freeze.hold($0, $1) }))
        let other = Engine(
            store: try SQLiteStore.open(path: db), registry: registry, clock: SystemClock(), ids: RandomIDs(),
            configuration: EngineConfiguration(owner: "other:2", actor: "cutover@other", signalPollInterval: .milliseconds(200)))

        let run = try frozen.start(request(c.live ? .live : .drill))
        let first = Task { try await frozen.drive(run) }
        await freeze.untilFrozen()
        // Longer than the lease and its margin: the other driver may take the run over.
        try await Task.sleep(for: .milliseconds(2_200))
        var taken = try await other.drive(run)
        if c.live {
            #expect(taken.status == .succeeded, "\(c): the other driver finished the live run: \(taken.status)")
            // Then a person asks for it to be undone (`cutover rollback`): a late change by the
            // frozen driver would undo the undo.
            let log = try SQLiteStore.open(path: db)
            let next = (try log.events(of: run, after: 0).last?.runSeq ?? 0) + 1
            _ = try log.append(
                [EventDraft(at: Date(), actor: "oncall", body: .rollbackRequested(Signal(reason: "undo the failover")))], to: run, expectedNext: next,
                options: AppendOptions(now: Date(), lockScope: runbook.service))
            taken = try await other.drive(run)
        }
        #expect(taken.status == .rolledBack, "\(c): the other driver finished the run, rolled back: \(taken.status)")
        if c.nth == 2 {
            // The world moves on: a live failover after the drill.
            let live = try other.start(request(.live))
            #expect(try await other.drive(live).status == .succeeded)
        }
        let asTheLogSays = try sandbox.restorable()
        let heartbeat = try sandbox.run(["redis-cli", "-p", "16379", "GET", "cutover:heartbeat"]).output

        await freeze.thaw()
        let result = await first.result
        guard case .failure(let error) = result else {
            Issue.record("\(c): the frozen driver carried on after the thaw: \(result)")
            return
        }
        #expect([.leaseLost, .leaseHeld].contains((error as? StoreError)?.code), "\(c): \(error)")
        try await Task.sleep(for: .milliseconds(300))
        #expect(try sandbox.restorable() == asTheLogSays, "\(c): the world changed after the thaw")
        #expect(try sandbox.run(["redis-cli", "-p", "16379", "GET", "cutover:heartbeat"]).output == heartbeat, "\(c): a late heartbeat write")
        #expect(try chainIntact())
    }
}
