import CutoverCore
import CutoverEngine
import CutoverNet
import CutoverProviders
import Foundation

/// `cutover preflight`: what a run of a workflow with a runbook would meet, checked before it
/// starts, changing nothing and writing nothing. Every secret the steps and their providers
/// ask for resolves here (where the run will be driven); every endpoint of every target
/// answers, TCP and TLS; each step that changes something reads, through its provider's read
/// calls, what it would change (`StepType.preflight`); and the readiness checks (health,
/// replication, models, capacity) run as the run would run them. The steps' own code does the
/// checking through a context that refuses the proof every change needs, so no check can write.
struct Preflight {
    struct Row: Sendable {
        enum Kind: String, Sendable { case secret, tcp, tls, read, check }
        var kind: Kind
        /// The steps that need it, first one first.
        var steps: [String]
        /// A secret reference, `scheme://host:port`, or `step (type)`.
        var subject: String
        var passed: Bool
        var detail: String
        var millis: Double?
        /// A readiness check after a step that changes things or waits for people: it would
        /// meet the world before that step, not the one the run gives it, so the run checks it.
        var skipped = false

        var json: JSONValue {
            var o: [String: JSONValue] = [
                "kind": .string(kind.rawValue), "steps": .array(steps.map { .string($0) }), "subject": .string(subject),
                "passed": .bool(passed), "detail": .string(detail),
            ]
            if skipped { o["skipped"] = .bool(true) }
            if let millis { o["millis"] = .double((millis * 1_000).rounded() / 1_000) }
            return .object(o)
        }
    }

    let registry: StepRegistry
    let providers: ProviderCatalog
    let http: HTTPClient
    let vault: SecretVault
    let connectTimeout: Duration = .seconds(5)

    /// Runs every check in the workflow's order, and returns the rows: secrets, then
    /// connections, then what each step reads, then the readiness checks.
    /// - Parameter reachOnly: only the secrets and the connections (a worker about to take a
    ///   run under way: whether this host reaches what the run needs, not what the world holds).
    func run(_ workflow: Workflow, _ runbook: Runbook, mode: RunMode, startedBy: String, reachOnly: Bool = false) async -> [Row] {
        let collector = Collector()
        var connected: Set<String> = []
        var outputs: [String: JSONValue] = [:]
        var failedChecks: Set<String> = []
        // The first step that changes something or waits for people: the readiness checks after
        // it would meet the world before that step, so they are left to the run. (Reads of the
        // steps that change things run everywhere: they say what the targets hold now.)
        var changedBy: (step: String, what: String)?
        let run: [String: JSONValue] = [
            "id": .string("preflight"), "mode": .string(mode.rawValue), "startedBy": .string(startedBy), "service": .string(runbook.service),
        ]
        for step in workflow.steps {
            guard let type = registry[step.type] else { continue }
            let ctx = PreflightContext(stepID: step.id, mode: mode, startedBy: startedBy, vault: vault, secrets: collector)
            let scope = Template.Scope(runbook: runbook.source, parameters: workflow.parameters, outputs: outputs, run: run)
            var with: [String: JSONValue] = [:]
            var unresolved: [String] = []
            for (key, value) in step.with {
                if let v = try? Template.resolve(value, in: scope) { with[key] = v } else { unresolved.append(key) }
            }
            // Secret-manager references read now, as the run reads them right before the step;
            // one that cannot be read fails the row of the field that asks for it.
            try? await vault.fetch(referencesIn: .object(with))
            // What the step and its providers would reach: secrets asked for, endpoints connected to.
            for field in type.parameters {
                guard let value = with[field.name] else { continue }
                switch field.type {
                case .secret:
                    guard let text = value.stringValue else { continue }
                    let url = SecretReference.isReference(text) ? try? ctx.secret(text) : text
                    if let url, url.contains("://") { await connect(url, step.id, &connected, collector) }
                case .url:
                    if let text = value.stringValue { await connect(text, step.id, &connected, collector) }
                case .target(let capability):
                    guard var fields = value.objectValue, let provider = fields.removeValue(forKey: "provider")?.stringValue else { continue }
                    guard let resource = try? providers.resource(ProviderTarget(provider: provider, fields: fields), as: capability, ctx) else { continue }
                    for text in resource.endpoints { await connect(text, step.id, &connected, collector) }
                default: continue
                }
            }
            if reachOnly { continue }
            let subject = "\(step.id) (\(step.type))"
            let kind = type.kind(with: step.with)
            let isCheck = Workflow.isReadinessCheck(step, kind: kind)
            if isCheck, let (after, what) = changedBy {
                collector.add(Row(kind: .check, steps: [step.id], subject: subject, passed: true, detail: "left to the run: it comes after \(after), which \(what) first", skipped: true))
                continue
            }
            if changedBy == nil, kind != .check || step.pivot || step.type == "approval" {
                changedBy = (step.id, kind == .check && !step.pivot ? "waits for people" : "changes things")
            }
            if !unresolved.isEmpty {
                // A reference to another step's output: known only once that step ran, here only
                // for checks preflight ran through `execute`.
                let needs = Workflow.outputsRead(by: .object(step.with.filter { unresolved.contains($0.key) }), among: workflow.steps.map(\.id))
                let fields = unresolved.sorted().joined(separator: ", ")
                if let failed = needs.first(where: failedChecks.contains) {
                    collector.add(Row(kind: isCheck ? .check : .read, steps: [step.id], subject: subject, passed: false, detail: "not run: \(fields) reads the output of \(failed), which failed"))
                } else if isCheck || kind != .check {
                    let from = needs.isEmpty ? "another step" : needs.joined(separator: ", ")
                    collector.add(Row(kind: isCheck ? .check : .read, steps: [step.id], subject: subject, passed: true, detail: "left to the run: \(fields) reads the output of \(from), known once the run has it", skipped: true))
                }
                continue
            }
            let parameters = JSONValue.object(with)
            let started = ContinuousClock.now
            do {
                if let found = try await attempts(step, { try await type.preflight(parameters, ctx) }) {
                    collector.add(Row(kind: isCheck ? .check : .read, steps: [step.id], subject: subject, passed: true, detail: found, millis: Self.millis(since: started)))
                } else if isCheck {
                    let output = try await attempts(step) { try await type.execute(parameters, ctx) }
                    outputs[step.id] = output
                    collector.add(Row(kind: .check, steps: [step.id], subject: subject, passed: true, detail: Self.summary(output), millis: Self.millis(since: started)))
                }
            } catch {
                failedChecks.insert(step.id)
                collector.add(Row(kind: isCheck ? .check : .read, steps: [step.id], subject: subject, passed: false, detail: describe(error, step: step.id), millis: Self.millis(since: started)))
            }
        }
        return collector.rows
            .map { r in
                var r = r
                r.detail = vault.redact(r.detail)
                return r
            }
            .sorted { Self.order($0.kind) < Self.order($1.kind) }
    }

    private static func order(_ kind: Row.Kind) -> Int {
        switch kind {
        case .secret: 0
        case .tcp, .tls: 1
        case .read: 2
        case .check: 3
        }
    }

    /// Connects once per endpoint: TCP, then TLS for `https`; each timed, failed ones too.
    private func connect(_ text: String, _ step: String, _ connected: inout Set<String>, _ collector: Collector) async {
        guard let endpoint = Endpoint(text) else {
            let shown = URLText.redacted(text)
            guard connected.insert(shown).inserted else { return collector.also(step, subject: shown) }
            collector.add(Row(kind: .tcp, steps: [step], subject: shown, passed: false, detail: "not checked: no host and port can be told from it (scheme://host:port)"))
            return
        }
        guard connected.insert(endpoint.display).inserted else { return collector.also(step, subject: endpoint.display) }
        // TCP first (curl's connect-only mode on a plain URL: names resolved as the run's
        // clients resolve them, nothing sent), then for https the handshake on its own, so that
        // a handshake that fails is told apart from a connection that does not open.
        let tcp = await http.handshake("http://\(endpoint.authority)", timeout: connectTimeout, direct: !endpoint.isHTTP)
        guard let connected = tcp.connect, tcp.error == nil else {
            collector.add(Row(kind: .tcp, steps: [step], subject: endpoint.display, passed: false, detail: tcp.error.map(plain) ?? "no connection", millis: Self.millis(tcp.elapsed)))
            return
        }
        collector.add(Row(kind: .tcp, steps: [step], subject: endpoint.display, passed: true, detail: "connected", millis: Self.millis(connected)))
        guard endpoint.scheme == "https" else { return }
        let h = await http.handshake(endpoint.url, timeout: connectTimeout, direct: false)
        if let error = h.error {
            // The handshake's own time: all curl took, less its connection.
            collector.add(Row(kind: .tls, steps: [step], subject: endpoint.display, passed: false, detail: plain(error), millis: max(0, Self.millis(h.elapsed) - Self.millis(h.connect ?? connected))))
        } else {
            collector.add(Row(kind: .tls, steps: [step], subject: endpoint.display, passed: true, detail: "handshake done, certificate verified", millis: h.tls.map(Self.millis)))
        }
    }

    /// A transport failure's own words (it names its target), without a step's prefix.
    private func plain(_ error: Error) -> String {
        switch error {
        case let e as HTTPError: vault.redact(e.description)
        case let e as SocketError: vault.redact(e.description)
        default: describe(error, step: "")
        }
    }

    /// Runs `body` under the step's timeout, again after a failure the step's retry policy
    /// would retry (a 503 the run would ride out does not refuse the start), without waiting
    /// longer than 5 s between attempts.
    private func attempts<T: Sendable>(_ step: WorkflowStep, _ body: @Sendable @escaping () async throws -> T) async throws -> T {
        var attempt = 1
        while true {
            do {
                return try await within(step.timeout, body)
            } catch let e as StepError where step.retry.allowsRetry(after: attempt, error: e) && e.code != StepError.interrupted.code {
                let wait = min(5_000, step.retry.backoffMillis(after: attempt, unit: 0.5))
                try await Task.sleep(for: .milliseconds(wait))
                attempt += 1
            }
        }
    }

    private func within<T: Sendable>(_ timeout: Duration?, _ body: @Sendable @escaping () async throws -> T) async throws -> T {
        guard let timeout else { return try await body() }
        return try await SystemClock().withDeadline(Date().adding(timeout), body)
    }

    private func describe(_ error: Error, step: String) -> String {
        let text: String
        switch error {
        case let e as StepError: text = e.message
        case is DeadlineExceeded: text = "step \(step) did not finish within its timeout"
        case let e as TemplateError: text = e.message
        case let e as any StepFailure: text = e.stepError(doing: "step \(step)").message
        default: text = "\(error)"
        }
        return vault.redact(text)
    }

    static func millis(since start: ContinuousClock.Instant) -> Double { millis(ContinuousClock.now - start) }

    static func millis(_ d: Duration) -> Double {
        let (s, atto) = d.components
        return Double(s) * 1_000 + Double(atto) / 1e15
    }

    /// A check's output on one line: its fields, short.
    static func summary(_ output: JSONValue) -> String {
        guard let object = output.objectValue else { return output.shortDescription }
        let parts = object.keys.sorted().compactMap { key -> String? in
            guard let v = object[key] else { return nil }
            switch v {
            case .object, .array: return nil
            default: return "\(key) \(v.shortDescription)"
            }
        }
        let line = parts.joined(separator: ", ")
        return line.count > 160 ? String(line.prefix(159)) + "…" : line
    }

    /// Where a target is served: scheme, host and port, no credentials, path or query.
    struct Endpoint {
        var scheme: String
        var host: String
        var port: Int

        init?(_ text: String) {
            guard let c = URLComponents(string: text), let scheme = c.scheme?.lowercased(), var host = c.host?.lowercased(), !host.isEmpty else { return nil }
            // An IPv6 literal comes with its brackets.
            if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
            let defaults = ["http": 80, "https": 443, "redis": 6379, "rediss": 6379, "postgres": 5432, "postgresql": 5432]
            guard !host.isEmpty, let port = c.port ?? defaults[scheme] else { return nil }
            self.scheme = scheme
            self.host = host
            self.port = port
        }

        var isHTTP: Bool { scheme == "http" || scheme == "https" }
        var authority: String { "\(host.contains(":") ? "[\(host)]" : host):\(port)" }
        var display: String { "\(scheme)://\(authority)" }
        /// What curl connects to.
        var url: String { display }
    }

    /// The rows as they come, and each secret reference once, with every step that asked.
    final class Collector: @unchecked Sendable {
        // @unchecked: touched under `lock` only.
        private let lock = NSLock()
        private var list: [Row] = []

        var rows: [Row] {
            lock.lock()
            defer { lock.unlock() }
            return list
        }

        func add(_ row: Row) {
            lock.lock()
            list.append(row)
            lock.unlock()
        }

        /// Notes that `step` needs `subject` too.
        func also(_ step: String, subject: String) {
            lock.lock()
            for i in list.indices where list[i].subject == subject && !list[i].steps.contains(step) { list[i].steps.append(step) }
            lock.unlock()
        }

        /// Records a secret reference asked for, once.
        func secret(_ reference: String, step: String, _ outcome: Result<Void, Error>, optional: Bool = false) {
            lock.lock()
            defer { lock.unlock() }
            if let i = list.firstIndex(where: { $0.kind == .secret && $0.subject == reference }) {
                if !list[i].steps.contains(step) { list[i].steps.append(step) }
                return
            }
            switch outcome {
            case .success: list.append(Row(kind: .secret, steps: [step], subject: reference, passed: true, detail: optional ? "not set (optional: used only when set)" : "resolves"))
            case .failure(let e): list.append(Row(kind: .secret, steps: [step], subject: reference, passed: false, detail: (e as? StepError)?.message ?? "\(e)"))
            }
        }
    }
}

/// A step's context in preflight: it answers reads and secrets, and refuses everything that
/// would change the world or the log. `proof()` throws, so no provider call that changes
/// anything can be made; `recordBefore` throws, since a step asks for it only right before a
/// change.
struct PreflightContext: StepContext {
    let runID = "preflight"
    let stepID: String
    let attempt = 1
    let mode: RunMode
    let startedBy: String
    let vault: SecretVault
    let secrets: Preflight.Collector

    init(stepID: String, mode: RunMode, startedBy: String, vault: SecretVault, secrets: Preflight.Collector) {
        self.stepID = stepID
        self.mode = mode
        self.startedBy = startedBy
        self.vault = vault
        self.secrets = secrets
    }

    var idempotencyKey: String { "preflight/\(stepID)" }

    func now() -> Date { Date() }

    func sleep(until deadline: Date) async throws { try await SystemClock().sleep(until: deadline) }

    func durableTimer(_ name: String, duration: Duration) async throws { throw refused("set a timer") }

    func awaitApprovals(required: Int, approvers: [Approver]) async throws -> [String] { throw refused("wait for approvals") }

    func currentApprovals() async -> [String] { [] }

    func secret(_ reference: String) throws -> String {
        try resolve(reference, optional: false)!
    }

    func secretIfSet(_ reference: String) throws -> String? {
        try resolve(reference, optional: true)
    }

    /// Resolves through the vault and records the reference's row; an optional one that names
    /// nothing is a passing row and nil.
    private func resolve(_ reference: String, optional: Bool) throws -> String? {
        do {
            let value = try vault.resolve(reference)
            secrets.secret(reference, step: stepID, .success(()))
            return value
        } catch let e as StepError where optional && e.code == "secret-missing" {
            secrets.secret(reference, step: stepID, .success(()), optional: true)
            return nil
        } catch {
            secrets.secret(reference, step: stepID, .failure(error))
            throw error
        }
    }

    func recordBefore(_ read: @Sendable () async throws -> JSONValue) async throws -> JSONValue { throw refused("record a before-state (it is about to change something)") }

    func recordedBefore() async -> JSONValue? { nil }

    func note(_ message: String) async throws {}

    func progress(_ message: String, key: String, data: JSONValue, inPlace: JSONValue?) async throws {}

    func recordedProgress() async -> [String: JSONValue] { [:] }

    func proof() async throws -> RunProof { throw refused("change something") }

    private func refused(_ what: String) -> StepError {
        StepError(code: "preflight-reads-only", message: "step \(stepID) asked to \(what); preflight only reads, so it was not done", retryable: false)
    }
}
