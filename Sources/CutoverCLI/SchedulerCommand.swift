import CutoverAudit
import CutoverCore
import CutoverCrypto
import CutoverEngine
import CutoverNet
import CutoverSchedule
import CutoverStore
import Dispatch
import Foundation

/// `cutover scheduler [--once] [--poll DURATION] [--grace DURATION]`: starts due drills, in the
/// foreground (systemd, a container) or one pass at a time (cron, systemd timers).
enum SchedulerCommand {
    static func run(_ args: Arguments, _ ctx: Context) async throws -> Int32 {
        guard args.positionals.isEmpty else { throw UsageError("unexpected argument \"\(args.positionals[0])\"") }
        let poll = try duration(args.value("--poll"), "--poll")
        let grace = try duration(args.value("--grace"), "--grace")
        let store = try ctx.openStore(creating: true)
        let stop = StopRequest()
        let console = ctx.console
        let scheduler = make(store, stop: stop, poll: poll, grace: grace, ctx)
        if args.has("--once") {
            do { try await scheduler.takeLease() } catch let held as StoreError where held.code == .leaseHeld {
                let owner = held.holder ?? "another process"
                console.out("another scheduler holds the lease (\(owner)) and does this work; nothing done")
                return ExitCode.ok
            }
        }
        let once = args.has("--once")
        let shipper = once ? nil : try BucketShipper.configured(store, ctx)
        let finished: Bool = try await withThrowingTaskGroup(of: Bool.self) { group in
            group.addTask {
                try await scheduler.run(once: once)
                return true
            }
            if let shipper {
                // Running on, the scheduler ships the log every few seconds too, as workers do.
                group.addTask {
                    await LogCommands.shipEvery(.seconds(5), shipper, ctx.engine(store, detach: true, observer: nil), stop: stop) { console.out("\(Progress.clock(Date()))  \($0)") }
                    return true
                }
            }
            group.addTask { await Driving.stopOnSignals(stop, console, stopping: "stopping: the steps in flight finish, then the scheduler exits (signal again to stop at once)") }
            defer { group.cancelAll() }
            return try await group.next()!
        }
        if !finished {
            console.err("stopped at once; runs left mid-step are settled when they are resumed")
            return ExitCode.interrupted
        }
        console.out("\(Progress.clock(Date()))  scheduler stopped")
        return ExitCode.ok
    }

    /// The scheduler of this process over `store`, with the command line's world (files,
    /// reports, webhooks); `cutover worker --schedules` runs one too.
    static func make(_ store: any EventStore, stop: StopRequest, poll: Duration, grace: Duration, _ ctx: Context, prefix: String = "") -> Scheduler {
        let console = ctx.console
        var configuration = SchedulerConfiguration(
            owner: ProcessIdentity.owner(), actor: ctx.actor(of: store), pollInterval: poll, grace: grace,
            isOwnerGone: { ProcessIdentity.isGone($0) })
        configuration.secretSources = Composition.secretSources(environment: ctx.environment)
        configuration.childDefinitions = ctx.childDefinitions
        configuration.safety = Composition.safety(log: store)
        configuration.shipping = BucketShipper.orBroken(store, ctx)
        var environment = SchedulerEnvironment(
            request: { try SchedulerHost.request($0, firing: $1, ctx) },
            writeReport: { SchedulerHost.writeReport($0, store: store, ctx) },
            notify: { await SchedulerHost.notify($0, ctx) },
            log: { console.out("\(Progress.clock(Date()))  \(prefix)\($0)") })
        environment.shippingLag = { await LogCommands.lag(store, ctx).map(\.text) }
        return Scheduler(
            store: store, registry: ctx.registry, clock: SystemClock(), ids: RandomIDs(), configuration: configuration,
            environment: environment, stop: stop)
    }

    static func duration(_ text: String, _ flag: String) throws -> Duration {
        guard let d = DurationText.parse(text), d > .zero else { throw UsageError("\(flag): expected a duration like 10s or 5m, got \"\(text)\"") }
        return d
    }
}

/// What the scheduler needs from the command line's world: files, reports, webhooks.
enum SchedulerHost {
    /// The run request for a firing: the files read again, drill settings applied, cut down to
    /// the readiness checks for readiness-only schedules.
    static func request(_ d: ScheduleDefinition, firing: ScheduledFiring, _ ctx: Context) throws -> Engine.StartRequest {
        let registry = ctx.registry
        var (wf, rb, wfDigest, rbDigest) = try Definitions.load(workflow: d.workflow, runbook: d.runbook, mode: d.mode, registry: registry)
        if d.mode == .readiness {
            wf = try wf.readinessOnly(kindOf: { registry[$0.type]?.kind(with: $0.with) }, file: d.workflow)
            wfDigest = SHA256.hex(wf.source.canonicalString)
        }
        return Engine.StartRequest(
            workflow: wf, runbook: rb, mode: d.mode, startedBy: "scheduler (schedule \(d.name))", workflowDigest: wfDigest,
            runbookDigest: rbDigest, schedule: firing)
    }

    /// The run's HTML report next to the database, in `reports/RUN.html`.
    static func writeReport(_ state: RunState, store: any EventStore, _ ctx: Context) -> String? {
        do {
            let events = try store.events(of: state.runID, after: 0)
            let verification = try Auditor.verify(store, run: state.runID, key: ctx.signingKey()).0
            let html = HTMLReport.render(state: state, timeline: Timeline(runID: state.runID, events: events), report: DrillReport(state), changes: state.changes(ctx.registry), verification: verification)
            let dir = URL(fileURLWithPath: ctx.localFolder).appendingPathComponent("reports")
            try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
            let file = dir.appendingPathComponent("\(state.runID).html")
            try FileOutput.write(html, to: file.path, mode: 0o600)
            return file.standardizedFileURL.path
        } catch {
            ctx.console.err("warning: no HTML report for \(state.runID): \(error)")
            return nil
        }
    }

    /// Posts the result to the runbook's `notify.webhook` (a URL or a secret reference) as
    /// Slack-style JSON, or a PagerDuty Events v2 event when `notify.format` is `pagerduty`.
    static func notify(_ notice: DrillNotice, _ ctx: Context) async -> DrillNotified {
        let format = notice.format
        func result(_ delivered: Bool, _ detail: String) -> DrillNotified {
            DrillNotified(run: notice.run, format: format, delivered: delivered, detail: detail)
        }
        guard let webhook = notice.notify?["webhook"]?.stringValue else {
            return result(false, "the runbook has no notify.webhook; nobody was told")
        }
        let vault = SecretVault(environment: ctx.environment, sources: Composition.secretSources(environment: ctx.environment))
        // The notice's secret-manager references, read now as a step's are.
        try? await vault.fetch(referencesIn: notice.notify ?? .null)
        let url: String
        do { url = SecretReference.isReference(webhook) ? try vault.resolve(webhook) : webhook } catch { return result(false, "\(error)") }
        // A webhook URL often carries its token in the path: only a reference or the host is shown.
        let target = SecretReference.isReference(webhook) ? "webhook \(webhook)" : "webhook \(hostOnly(url))"
        let body: JSONValue
        switch format {
        case "slack":
            body = notice.slackPayload()
        case "pagerduty":
            guard let keyRef = notice.notify?["routingKey"]?.stringValue, SecretReference.isReference(keyRef) else {
                return result(false, "notify.format pagerduty needs notify.routingKey as a secret reference like env:PD_ROUTING_KEY")
            }
            do { body = notice.pagerDutyPayload(routingKey: try vault.resolve(keyRef)) } catch { return result(false, "\(error)") }
        default:
            return result(false, "notify.format \"\(format)\" is not one of slack, pagerduty")
        }
        let request = HTTPRequest(
            method: "POST", url: url, headers: [("Content-Type", "application/json")], body: body.canonicalBytes,
            totalTimeout: .seconds(10), maxResponseBytes: 64 << 10, displayTarget: target)
        do {
            let response = try await HTTPClient().send(request)
            return result((200..<300).contains(response.status), "\(target) answered HTTP \(response.status)")
        } catch {
            return result(false, vault.redact("\(target): \(error)"))
        }
    }

    /// `scheme://host[:port]` of a URL, without user, path or query.
    static func hostOnly(_ url: String) -> String {
        guard let c = URLComponents(string: url), let scheme = c.scheme, let host = c.host else { return "(unparsable URL)" }
        return "\(scheme)://\(host)\(c.port.map { ":\($0)" } ?? "")"
    }
}
