import CutoverAudit
import CutoverCore
import CutoverCrypto
import CutoverShipping
import CutoverSQLite
import CutoverStore
import Foundation

/// `cutover keys init`, `cutover audit verify|checkpoint|replay|export`, `cutover report`.
enum AuditCommands {
    /// `cutover keys init [--dir DIR]`.
    static func keysInit(_ args: Arguments, _ ctx: Context) throws -> Int32 {
        _ = try args.positionals()
        let defaults = ctx.keyPaths
        var paths = defaults
        if let dir = args["--dir"] {
            paths = ((dir as NSString).appendingPathComponent("cutover.ed25519.pem"), (dir as NSString).appendingPathComponent("cutover.ed25519.pub.pem"))
        }
        do {
            let fingerprint = try Auditor.initKeys(privatePath: paths.privateKey, publicPath: paths.publicKey)
            ctx.console.out("signing key \(fingerprint)")
            ctx.console.out("  private: \(paths.privateKey) (0600; runs are signed with it; keep it on the machines that drive runs)")
            ctx.console.out("  public:  \(paths.publicKey) (give it to auditors: cutover audit verify --key \(paths.publicKey))")
            if paths.privateKey != defaults.privateKey {
                ctx.console.out("  set CUTOVER_SIGNING_KEY=\(paths.privateKey) so that runs are signed with it")
            }
            return ExitCode.ok
        } catch let e as KeyError {
            throw CommandFailure(e.description)
        }
    }

    /// `cutover keys trust PUBLIC.pem`: pins the key `audit verify` checks signatures with when
    /// no `--key` is given, in the auditor's own configuration.
    static func trust(_ args: Arguments, _ ctx: Context) throws -> Int32 {
        let source = try args.positionals("PUBLIC.pem")[0]
        let key: Ed25519Key
        do { key = try Ed25519Key.read(file: source) } catch let e as KeyError { throw CommandFailure(e.description, code: ExitCode.usage) }
        guard let path = Auditor.pinnedKeyPath(environment: ctx.environment) else { throw CommandFailure("neither XDG_CONFIG_HOME nor HOME is set: nowhere to pin the key") }
        let dir = (path as NSString).deletingLastPathComponent
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        if FileOutput.isWritableByOthers(dir) { throw CommandFailure("\(dir) can be written by others: a key pinned there could be replaced") }
        try FileOutput.write(try key.publicPEM(), to: path, mode: 0o644)
        ctx.console.out("trusting \(key.fingerprint) (\(source)): `cutover audit verify` checks signatures with it when no --key is given")
        ctx.console.out("  pinned at \(path)")
        return ExitCode.ok
    }

    /// `--key`, else the key pinned with `cutover keys trust`, else none.
    static func trustedKey(_ args: Arguments, _ ctx: Context) throws -> (key: Ed25519Key, from: String)? {
        var path = args["--key"]
        if path == nil, let pinned = Auditor.pinnedKeyPath(environment: ctx.environment), FileManager.default.fileExists(atPath: pinned) { path = pinned }
        guard let path else { return nil }
        do { return (try Ed25519Key.read(file: path), path) } catch let e as KeyError { throw CommandFailure(e.description, code: ExitCode.usage) }
    }

    static func verify(_ args: Arguments, _ ctx: Context) async throws -> Int32 {
        _ = try args.positionals()
        let trusted = try trustedKey(args, ctx)
        let key = trusted?.key
        var kept: StoredCheckpoint?
        if let file = args["--checkpoint"] {
            guard let text = try? String(contentsOfFile: file, encoding: .utf8) else { throw CommandFailure("\(file): cannot be read", code: ExitCode.usage) }
            do { kept = try Auditor.readKept(text, source: file) } catch let e as KeyError { throw CommandFailure(e.description, code: ExitCode.usage) }
        }
        let report: VerifyReport
        var source: String
        var keyFromBundle = false
        // What the checkpoints shipped to a bucket say of this log (`--against`).
        var shippedNote: String?
        // The log's last link, for comparing two logs (a copy and its source).
        var head: ChainLink?
        if let bundle = args["--bundle"] {
            guard let text = try? String(contentsOfFile: bundle, encoding: .utf8) else { throw CommandFailure("\(bundle): cannot be read") }
            if kept != nil { throw UsageError("--checkpoint holds a database to a kept checkpoint; a bundle carries its own") }
            if args["--from"] != nil || args["--against"] != nil { throw UsageError("--bundle verifies a bundle alone; --from and --against read a bucket (give one or the other)") }
            let (r, header, _) = AuditBundle.verify(text, source: bundle, trusted: key)
            report = r
            source = "bundle \(bundle)" + (header.map { " (run \($0.run), events \($0.from)...\($0.through))" } ?? "")
            keyFromBundle = key == nil && header?.keyFromBundle != nil
        } else {
            // From a bucket: the segments are rebuilt into a scratch log of this process's own
            // (every one checked on the way), which is then verified as a database would be.
            var scratch: TemporaryFolder?
            let log: any EventStore
            if let url = args["--from"] {
                let folder = try TemporaryFolder()
                scratch = folder
                let rebuilt = try SQLiteStore.open(path: folder.path("log.sqlite"))
                do {
                    _ = try await LogShipping.restore(from: try LogCommands.destination(url, ctx), into: rebuilt)
                } catch let e as ShippingError {
                    throw CommandFailure("✗ broken: \(e.message)")
                }
                log = rebuilt
                source = url
            } else {
                log = try ctx.openStoreReadingOnly()
                source = ctx.dbPath
            }
            defer { _ = scratch }
            do {
                report = try Auditor.verify(log, run: args["--run"], key: key, fold: !args.has("--chain-only"), kept: kept).0
            } catch let e as KeyError {
                throw CommandFailure(e.description)
            }
            source += args["--run"].map { " run \($0)" } ?? ""
            if args["--run"] == nil, report.intact { head = try log.head() }
            if let against = args["--against"], report.intact {
                shippedNote = try await holdToShipped(log, against, key: key, ctx)
            }
        }
        if args.has("--json") {
            var o: [String: JSONValue] = [
                "intact": .bool(report.intact), "source": .string(source), "events": .int(report.events), "bytes": .int(report.bytes),
                "checkpoints": .int(Int64(report.checkpoints)), "signaturesChecked": .bool(report.signaturesChecked), "keyTrusted": .bool(trusted != nil),
                "runsFolded": .int(Int64(report.runsFolded)), "schedulesFolded": .int(Int64(report.schedulesFolded)), "eventsAfterLastCheckpoint": .int(report.eventsAfterLastCheckpoint),
                "seconds": .double(report.seconds),
            ]
            if let k = report.key { o["key"] = .string(k) }
            if let head { o["head"] = .object(["seq": .int(head.seq), "hash": .string(Hex.encode(head.hash))]) }
            if let f = report.findings.first {
                var p: [String: JSONValue] = ["kind": .string(f.kind.rawValue), "message": .string(f.message)]
                if let seq = f.seq { p["seq"] = .int(seq) }
                o["problem"] = .object(p)
            }
            ctx.console.json(JSONValue.object(o))
        } else {
            let c = ctx.console
            if let f = report.findings.first {
                c.out(c.paint("✗ broken", .red) + " at " + f.description)
                let good = max(0, report.events - 1)
                c.out("  \(source): " + (good == 0 ? "no event checked out" : "the first \(good) event(s) checked out") + "; nothing from this position on can be trusted")
            } else {
                c.out(c.paint("✓ intact", .green) + ": \(report.events) events (\(report.firstSeq ?? 0)...\(report.lastSeq ?? 0)) recomputed, \(report.runsFolded) run(s)\(report.schedulesFolded > 0 ? " and \(report.schedulesFolded) schedule(s)" : "") fold to legal states, \(report.checkpoints) checkpoint(s) match the chain")
                if let trusted {
                    c.out("  signatures checked with the trusted key \(report.key ?? "") (\(trusted.from)); every finished run is covered by a checkpoint it signed")
                } else if keyFromBundle {
                    c.out(c.paint("  signatures NOT checked against a key you trust", .yellow) + ": they match the key inside the bundle (\(report.key ?? "")), which whoever made the bundle chose. Pass --key, or pin one with `cutover keys trust`")
                } else {
                    c.out(c.paint("  signatures NOT checked", .yellow) + ": no trusted key (--key PUBLIC.pem, or `cutover keys trust PUBLIC.pem` once). Whoever can write this database could have rewritten it and re-signed it")
                }
                if let kept { c.out("  the log extends the checkpoint you kept (event \(kept.seq))") }
                if let shippedNote { c.out("  \(shippedNote)") }
                if report.eventsAfterLastCheckpoint > 0 {
                    c.out("  \(report.eventsAfterLastCheckpoint) event(s) after the last checkpoint are chained but not yet signed")
                }
                c.out("  \(source) · \(String(format: "%.3f", report.seconds))s")
            }
        }
        guard report.intact else { return ExitCode.failure }
        return trusted == nil ? ExitCode.unverified : ExitCode.ok
    }

    /// Every checkpoint shipped to `url` (every version the bucket keeps) must lie on this log's
    /// chain, signed by the trusted key when one is given: a log here shorter than one of them
    /// was cut off after it was shipped, one with another event at its position was rewritten.
    /// - Throws: `CommandFailure` (exit 1) naming the checkpoint object and what is wrong.
    static func holdToShipped(_ log: any EventStore, _ url: String, key: Ed25519Key?, _ ctx: Context) async throws -> String {
        let shipped: [(name: String, checkpoint: StoredCheckpoint)]
        do {
            shipped = try await LogShipping.shippedCheckpoints(try LogCommands.destination(url, ctx))
        } catch let e as ShippingError {
            throw CommandFailure("✗ broken: \(e.message)")
        }
        let head = try log.head()?.seq ?? 0
        // The segments too: the log here must extend what was shipped.
        if let last = try await LogShipping.shippedHead(try LogCommands.destination(url, ctx)) {
            guard last.last <= head else {
                throw CommandFailure("✗ broken: the log here ends at event \(head), but the segments shipped to \(url) reach event \(last.last): events were cut off this log after they were shipped")
            }
            guard try log.link(at: last.last)?.hash == last.hash else {
                throw CommandFailure("✗ broken: event \(last.last) here is not the one shipped to \(url): this log was rewritten at or before it")
            }
        }
        guard !shipped.isEmpty else { return "the log here extends what was shipped to \(url); no checkpoint has been shipped there yet" }
        for (name, cp) in shipped {
            if let key {
                guard cp.key == key.fingerprint, key.verify(cp.signature, of: cp.message) else {
                    throw CommandFailure("✗ broken: \(name) is not signed by the trusted key \(key.fingerprint): it cannot vouch for anything")
                }
            }
            guard cp.seq <= head else {
                throw CommandFailure("✗ broken: the log here ends at event \(head), but \(name) covers event \(cp.seq): events were cut off this log after they were shipped")
            }
            guard try log.link(at: cp.seq)?.hash == cp.hash else {
                throw CommandFailure("✗ broken: event \(cp.seq) here is not the one \(name) signed: this log was rewritten at or before it")
            }
        }
        let last = shipped.map(\.checkpoint.seq).max() ?? 0
        return "every checkpoint shipped to \(url) (\(shipped.count), up to event \(last)) lies on this log's chain\(key == nil ? " (their signatures not checked: no trusted key)" : ", signed by the trusted key")"
    }

    /// `cutover audit checkpoint [-o FILE]`: signs the log's head now (where a signing key is),
    /// and with `-o` writes the latest signed checkpoint to FILE, for an auditor to keep away
    /// from the database and hold it to later (`audit verify --checkpoint FILE`).
    static func checkpoint(_ args: Arguments, _ ctx: Context) throws -> Int32 {
        _ = try args.positionals()
        let log = try ctx.openStore(creating: false)
        var latest: StoredCheckpoint?
        if let key = ctx.signingKey() {
            guard let cp = try Auditor.checkpoint(log, key: key) else { throw CommandFailure("the log is empty: nothing to sign") }
            ctx.console.out("checkpoint #\(cp.n): event \(cp.seq), chain hash \(Hex.encode(cp.hash).prefix(16))…, signed by \(cp.key)")
            latest = cp
        } else if args["-o"] == nil {
            throw CommandFailure("no signing key: run `cutover keys init` (or set CUTOVER_SIGNING_KEY)")
        } else {
            latest = try log.checkpoints().max { $0.seq < $1.seq }
        }
        if let out = args["-o"] {
            guard let cp = latest else { throw CommandFailure("no signed checkpoint in \(ctx.dbPath) to keep") }
            do { try FileOutput.write(Auditor.keptText(cp, database: ctx.dbPath), to: out, mode: 0o600) } catch { throw CommandFailure("\(error)") }
            ctx.console.out("kept checkpoint #\(cp.n) (event \(cp.seq), signed by \(cp.key)) in \(out): later, `cutover audit verify --checkpoint \(out)` fails if the log no longer extends it")
        }
        return ExitCode.ok
    }

    /// `--at` as a global position, epoch milliseconds or an ISO 8601 time.
    /// `--at`: an event position (a number), or a time.
    static func cutoff(_ text: String?) throws -> (seq: Int64?, millis: Int64?) {
        guard let text else { return (nil, nil) }
        if let n = Int64(text) { return n > 100_000_000_000 ? (nil, n) : (n, nil) }
        if let millis = TimeText.parse(text) { return (nil, millis) }
        throw UsageError("--at: expected an event position (a number) or a time like 2026-11-25T18:46:57Z, got \"\(TerminalText.escaped(text))\"")
    }

    /// `--since`: a date or time, `today` or `yesterday` (from midnight UTC), or a duration
    /// ago (`7d`, `12h`).
    static func since(_ text: String, now: Date = Date()) throws -> Int64 {
        let nowMillis = Int64(now.timeIntervalSince1970 * 1_000)
        let midnight = nowMillis - nowMillis % 86_400_000
        switch text {
        case "today": return midnight
        case "yesterday": return midnight - 86_400_000
        default: break
        }
        if let millis = TimeText.parse(text) { return millis }
        if let ago = DurationText.parse(text) { return nowMillis - ago.milliseconds }
        throw UsageError("--since: expected a date (2026-10-01), a time (2026-10-01T09:00:00Z), today, yesterday or a duration ago (90d), got \"\(TerminalText.escaped(text))\"")
    }

    static func replay(_ args: Arguments, _ ctx: Context) throws -> Int32 {
        let run = try args.positionals("RUN")[0]
        let (seq, millis) = try cutoff(args["--at"])
        let log = try ctx.openStore(creating: false)
        let all = try log.events(of: run, after: 0)
        guard !all.isEmpty else { throw CommandFailure("no run \(run) in \(ctx.dbPath)") }
        let events = all.filter { e in (seq.map { e.seq <= $0 } ?? true) && (millis.map { e.atMillis <= $0 } ?? true) }
        guard !events.isEmpty else { throw CommandFailure("run \(run) had not started by \(args["--at"] ?? "")") }
        let state = try RunState.fold(run, events)
        if args.has("--json") {
            ctx.console.json(JSONValue.object(["state": Summary.json(state), "events": .int(Int64(events.count)), "of": .int(Int64(all.count))]))
            return ExitCode.ok
        }
        let c = ctx.console
        let t = Timeline(runID: run, events: events)
        c.out(c.paint("\(run)", .bold) + " as it was at event \(events.last!.seq) (\(Summary.iso(events.last!.atMillis))), \(events.count) of \(all.count) events: " + c.paint(state.status.rawValue, .bold))
        c.out("")
        let rel = { (ms: Int64) in "+" + DurationText.format(.milliseconds(ms - t.startMillis)) }
        for step in t.steps {
            let bars = t.bars.filter { $0.step == step }
            guard !bars.isEmpty else {
                c.out("  \(step): " + c.paint("not started", .dim))
                continue
            }
            c.out("  \(step)")
            for b in bars {
                let what = b.kind == .compensation ? "compensation \(b.attempt)" : "attempt \(b.attempt)"
                let took = DurationText.format(.milliseconds(b.endMillis - b.startMillis))
                c.out("    \(rel(b.startMillis).padding(toLength: 9, withPad: " ", startingAt: 0)) \(what): \(b.outcome.rawValue) in \(took)\(b.waitingForApproval ? " (waiting for approval)" : "")" + (b.note.map { " — \($0)" } ?? ""))
            }
        }
        if !t.marks.isEmpty {
            c.out("")
            c.out("  who and when:")
            for m in t.marks { c.out("    \(rel(m.atMillis).padding(toLength: 9, withPad: " ", startingAt: 0)) \(m.actor): \(m.text)") }
        }
        if let report = DrillReport(state), report.rtoMillis != nil || report.rpoMillis != nil {
            c.out("")
            for line in report.lines { c.out("  " + line) }
        }
        return ExitCode.ok
    }

    static func export(_ args: Arguments, _ ctx: Context) throws -> Int32 {
        let run = try args.positionals("RUN")[0]
        let format = args.value("--format")
        let log = try ctx.openStore(creating: false)
        guard try log.span(of: run) != nil else { throw CommandFailure("no run \(run) in \(ctx.dbPath)") }
        let publicKey = ctx.signingKey()
        let text: String
        if format == "jsonl" {
            text = try AuditBundle.export(log, run: run, publicKey: publicKey)
        } else {
            let events = try log.events(of: run, after: 0)
            let state = try RunState.fold(run, events)
            let verification = try Auditor.verify(log, run: run, key: publicKey).0
            text = HTMLReport.render(state: state, timeline: Timeline(runID: run, events: events), report: DrillReport(state), changes: state.changes(ctx.registry), verification: verification)
        }
        if let out = args["-o"] {
            // 0600: an export holds the run's whole history, like the database it came from.
            do { try FileOutput.write(text, to: out, mode: 0o600) } catch { throw CommandFailure("\(error)") }
            ctx.console.err("wrote \(out) (\(text.utf8.count) bytes)")
        } else {
            ctx.console.outRaw(text)
        }
        return ExitCode.ok
    }

    static func report(_ args: Arguments, _ ctx: Context) throws -> Int32 {
        _ = try args.positionals()
        let since = try args["--since"].map { try Self.since($0) } ?? 0
        let log = try ctx.openStore(creating: false)
        var reports: [DrillReport] = []
        var scheduledBy: [String: String] = [:]
        for run in try log.runIDs() {
            let state = try RunState.fold(run, try log.events(of: run, after: 0))
            let changesSomething = state.plan?.steps.contains(where: { $0.type == "writes.enable" || $0.type == "dns.switch" }) == true
            guard let r = DrillReport(state), r.startedAtMillis >= since, changesSomething || state.plan?.mode == .readiness else { continue }
            reports.append(r)
            if let s = state.plan?.schedule { scheduledBy[run] = s.name }
        }
        let gaps = try ScheduleGap.all(log, since: since)
        if args.has("--json") {
            for r in reports {
                var o = r.json.objectValue ?? [:]
                if let s = scheduledBy[r.run] { o["schedule"] = .string(s) }
                ctx.console.json(JSONValue.object(o))
            }
            for g in gaps { ctx.console.json(g.json) }
            return ExitCode.ok
        }
        guard !reports.isEmpty || !gaps.isEmpty else {
            ctx.console.out("no failovers, drills or scheduled firings since \(Summary.iso(since))")
            return ExitCode.ok
        }
        let fmt = { (v: Int64?) in v.map { DurationText.format(.milliseconds($0)) } ?? "—" }
        let verdict = { (p: Bool?) in p.map { $0 ? "pass" : ctx.console.paint("FAIL", .red) } ?? "" }
        var rows: [(Int64, [String])] = reports.map { r in
            (r.startedAtMillis, [String(Summary.iso(r.startedAtMillis).prefix(10)), r.run, r.workflow, r.mode + (scheduledBy[r.run].map { " (\($0))" } ?? ""),
             ctx.console.paint(r.verdict.text, RunView.tone(r.verdict.tone)),
             r.mode == "readiness" ? "—" : fmt(r.rtoMillis.map { $0 - r.approvalMillis }), r.mode == "readiness" ? "" : fmt(r.rtoTargetMillis),
             r.mode == "readiness" ? "" : verdict(r.rtoPass),
             fmt(r.rpoMillis), fmt(r.rpoTargetMillis), verdict(r.rpoPass)])
        }
        let c = ctx.console
        for g in gaps {
            rows.append((g.dueAtMillis, [String(Summary.iso(g.dueAtMillis).prefix(10)), "—", g.workflow, "\(g.mode) (\(g.schedule))", c.paint(g.kind, .red), "", "", "", "", "", ""]))
        }
        rows.sort { $0.0 < $1.0 }
        for line in Table.render(["DATE", "RUN", "WORKFLOW", "MODE", "STATE", "RTO", "TARGET", "RTO OK", "RPO", "TARGET", "RPO OK"], rows.map(\.1)) {
            c.out(line)
        }
        for g in gaps { c.out(c.paint("\(g.kind) \(Summary.iso(g.dueAtMillis)) (\(g.schedule)): \(g.reason)", .yellow)) }
        return ExitCode.ok
    }
}

/// A scheduled firing that did not become a run: skipped (with the reason) or missed (no
/// scheduler was running), so a hole in the quarterly record shows in `report`.
struct ScheduleGap {
    var schedule: String
    var workflow: String
    var mode: String
    var dueAtMillis: Int64
    var kind: String
    var reason: String

    static func all(_ log: any EventLog, since: Int64) throws -> [ScheduleGap] {
        var out: [ScheduleGap] = []
        for name in try log.scheduleNames() {
            guard let s = try log.schedule(name), let d = s.definition else { continue }
            let workflow = URL(fileURLWithPath: d.workflow).deletingPathExtension().lastPathComponent
            for skip in s.skips where skip.dueAtMillis >= since {
                out.append(ScheduleGap(schedule: name, workflow: workflow, mode: d.mode.rawValue, dueAtMillis: skip.dueAtMillis, kind: "skipped", reason: skip.reason))
            }
            for (noted, missed) in s.misses {
                let unlisted = missed.total - missed.dueAtMillis.count
                for (i, due) in missed.dueAtMillis.enumerated() where due >= since {
                    var reason = "no scheduler was running (noticed \(Summary.iso(noted))); policy \(missed.policy.rawValue)"
                    if i == 0, unlisted > 0 { reason += "; \(unlisted) earlier firing(s) missed too" }
                    out.append(ScheduleGap(schedule: name, workflow: workflow, mode: d.mode.rawValue, dueAtMillis: due, kind: "missed", reason: reason))
                }
            }
        }
        return out.sorted { $0.dueAtMillis < $1.dueAtMillis }
    }

    var json: JSONValue {
        .object([
            "kind": .string("gap"), "schedule": .string(schedule), "workflow": .string(workflow), "mode": .string(mode),
            "dueAt": .string(Summary.iso(dueAtMillis)), "dueAtMillis": .int(dueAtMillis),
            "state": .string(kind), "reason": .string(reason),
        ])
    }
}

/// A folder of this process's own, removed with everything in it when it is let go.
final class TemporaryFolder {
    let url: URL

    init() throws {
        url = FileManager.default.temporaryDirectory.appendingPathComponent("cutover-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: false, attributes: [.posixPermissions: 0o700])
    }

    func path(_ name: String) -> String { url.appendingPathComponent(name).path }

    deinit { try? FileManager.default.removeItem(at: url) }
}
