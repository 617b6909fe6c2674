import CutoverCore
import CutoverEngine
import CutoverStore
import Foundation

/// One database, one simulated world and clock: everything an engine test needs.
public final class Harness: @unchecked Sendable {
    // @unchecked: set up once, then only read; the store and world lock themselves.
    public let dir = TemporaryDirectory()
    public let log: ChainedStore
    public let storeKind: StoreKind
    public let clock = SimulatedClock()
    public let ids = SequentialIDs()
    public let world: SimulatedWorld
    public let registry: StepRegistry
    public let runbook: Runbook

    public init(world: [String: String] = ["dns": "primary", "capacity": "0", "writes": "replica", "health": "ok"], store: StoreKind = .sqlite) throws {
        storeKind = store
        log = try store.open(dir)
        self.world = SimulatedWorld(world)
        registry = simulatedRegistry(self.world)
        runbook = try Runbook.load(file: "runbooks/sim.json", data: Data(Harness.runbookJSON.utf8), providers: registry.providers)
    }

    public static let runbookJSON = """
        {"service": "sim-service", "primary": {"endpoint": "http://primary"}, "dr": {"endpoint": "http://dr", "capacity": "4"},
         "thresholds": {"rto": "15m", "rpo": "30s"}, "approvers": ["alice", "bob", "carol"]}
        """

    /// Child workflows a `workflow` step may name; the runbook a step names is made up for it:
    /// service NAME, its DR side's `key` NAME.
    public static let childWorkflows = [
        "child-scale": """
            {"name": "child-scale", "steps": [
              {"id": "scale", "type": "sim.set", "with": {"key": "${runbook.dr.key}", "value": "4"}},
              {"id": "check", "type": "sim.check", "with": {"key": "${runbook.dr.key}", "equals": "4"}}
            ]}
            """,
        "child-approve": """
            {"name": "child-approve", "steps": [
              {"id": "scale", "type": "sim.set", "with": {"key": "${runbook.dr.key}", "value": "4"}},
              {"id": "go", "type": "approval", "with": {"message": "carry on?"}},
              {"id": "check", "type": "sim.check", "with": {"key": "${runbook.dr.key}", "equals": "4"}}
            ]}
            """,
        "child-soak": """
            {"name": "child-soak", "steps": [
              {"id": "scale", "type": "sim.set", "with": {"key": "${runbook.dr.key}", "value": "4"}},
              {"id": "soak", "type": "wait", "with": {"duration": "2m"}},
              {"id": "check", "type": "sim.check", "with": {"key": "${runbook.dr.key}", "equals": "4"}}
            ]}
            """,
        "child-promote": """
            {"name": "child-promote", "steps": [
              {"id": "scale", "type": "sim.set", "with": {"key": "${runbook.dr.key}", "value": "4"}},
              {"id": "writes", "type": "sim.pivot", "with": {"key": "${runbook.dr.key}-writes", "value": "dr"}}
            ]}
            """,
    ]

    /// The start request of a child run, as the CLI makes it from files.
    public func childRequest(workflow: String, runbook: String, mode: RunMode) throws -> Engine.StartRequest {
        let rb = try Runbook.load(
            file: "runbooks/\(runbook).json",
            data: Data(#"{"service": "\#(runbook)", "primary": {"endpoint": "http://primary"}, "dr": {"endpoint": "http://dr", "key": "\#(runbook)"}}"#.utf8),
            mode: mode, providers: registry.providers)
        guard let json = Self.childWorkflows[workflow] else { throw StepError(code: "no-such-workflow", message: "no workflow \(workflow)", retryable: false) }
        let wf = try Workflow.load(file: "workflows/\(workflow).json", data: Data(json.utf8), registry: registry, runbook: rb)
        return Engine.StartRequest(workflow: wf, runbook: rb, mode: mode, startedBy: "", workflowDigest: "test", runbookDigest: "test")
    }

    public func workflow(_ json: String, file: String = "workflows/test.json") throws -> Workflow {
        try Workflow.load(file: file, data: Data(json.utf8), registry: registry, runbook: runbook)
    }

    /// An engine over `store` (the plain log unless a crashing one is given), as process `owner`.
    public func engine(
        store: (any EventStore)? = nil, owner: String = "test:1", detach: Bool = false,
        gone: @escaping @Sendable (String) -> Bool = { _ in true }
    ) -> Engine {
        var configuration = EngineConfiguration(
            owner: owner, actor: "cutover@\(owner)", signalPollInterval: .seconds(5), detachWhenWaiting: detach, isOwnerGone: gone)
        configuration.childDefinitions = { [self] in try childRequest(workflow: $0, runbook: $1, mode: $2) }
        return Engine(store: store ?? log, registry: registry, clock: clock, ids: ids, configuration: configuration)
    }

    public func request(_ workflow: Workflow, mode: RunMode = .live, by: String = "oncall") -> Engine.StartRequest {
        Engine.StartRequest(workflow: workflow, runbook: runbook, mode: mode, startedBy: by, workflowDigest: "test", runbookDigest: "test")
    }

    /// Appends a signal as a person in another process would: on PostgreSQL logged in as
    /// their own role when the sandbox has one by that name (the database records who is
    /// connected, whatever the draft says), else as the store's role.
    public func signal(_ run: String, _ body: EventBody, by: String) throws {
        let store = storeKind.provesRoles && (try? PostgresTestServer.password(by)) != nil ? try person(by) : log
        let last = try store.events(of: run, after: 0).last?.runSeq ?? 0
        _ = try store.append([EventDraft(at: clock.now(), actor: by, body: body)], to: run, expectedNext: last + 1, options: AppendOptions(now: clock.now()))
    }

    private let people = NSLock()
    nonisolated(unsafe) private var opened: [String: ChainedStore] = [:]

    /// The log as `role` opens it (one handle per person).
    public func person(_ role: String) throws -> ChainedStore {
        people.lock()
        defer { people.unlock() }
        if let store = opened[role] { return store }
        let store = try storeKind.open(dir, as: role)
        opened[role] = store
        return store
    }

    public func events(_ run: String) throws -> [Event] { try log.events(of: run, after: 0) }
}
