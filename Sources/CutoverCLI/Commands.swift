import CutoverCore

/// Every command of `cutover`, in the order the overview and the reference list them. The one
/// place a command's name, operands and options are written.
enum Commands {
    static let all: [CommandSpec] = [
        // Runs
        CommandSpec(
            path: ["start"], operands: "WORKFLOW",
            options: [.runbook, .drill,
                      .flag("--readiness-only", "run the workflow's readiness checks alone (health, replication lag, models, capacity) as a recorded run; changes nothing but the lag heartbeat"),
                      .flag("--no-preflight", "start without the preflight (when the primary is down its checks fail: read them, then use this)"),
                      .detach, .json],
            section: .runs, summary: "Preflight, then start a failover, failback or drill and follow it live.",
            details: """
                Validates both files and runs `cutover preflight` (nothing is written if either
                fails; the checks that failed are listed), records the run, prints its id, then
                follows it step by step. A drill fails over, then rolls everything back on purpose
                once every step passed. Only one run per service is active at a time.
                SIGINT/SIGTERM stop the run where it is; `cutover resume RUN` carries on.
                Exit 0 succeeded (or a drill rolled back as planned), 1 failed, rolled back, needs
                attention or refused by preflight, 64 invalid input, 75 waiting for approval with
                --detach.
                """,
            recordsActor: true, operandCompletion: .workflow,
            exclusive: [Exclusive(names: ["--drill", "--readiness-only"], why: "a drill changes things and undoes them, a readiness run only checks")],
            run: { try await StartCommand.run($0, $1) }),
        CommandSpec(
            path: ["resume"], operands: "RUN", options: [.detach, .json], section: .runs,
            summary: "Carry a run on after a crash, a pause or a decision.",
            details: """
                Carries a run on: after the process driving it died (a step left in flight is
                checked against the world before it runs again; timers wait only what is left),
                after a pause, after approvals, or after a person decided how a run needing
                attention goes on. If another live process drives the run, it carries on instead.
                """,
            recordsActor: true, run: { try await SignalCommands.resume($0, $1) }),
        CommandSpec(
            path: ["watch"], operands: "RUN", options: [.json], section: .runs,
            summary: "Follow a run live from another terminal, to its end.",
            details: """
                Shows the run so far, then each event as it is appended, and the summary when the
                run ends; it reads the log only. It says when nobody drives the run (a driver that
                detached at an approval, or one that stopped) and watches on. --json writes JSON
                Lines: one event object per line, then the summary object (`cutover help json`).
                Exit as `start` would for the run's end; 0 when interrupted (the run goes on).
                """,
            run: { try await WatchCommand.run($0, $1) }),
        CommandSpec(
            path: ["status"], operands: "[RUN]", options: [.json], section: .runs,
            summary: "Where a run stands (the latest run without RUN).",
            details: """
                The run's state, each step's state, attempts and duration, what is left to undo,
                and what a person must decide if anything.
                """,
            run: { try await InspectCommands.status($0, $1) }),
        CommandSpec(
            path: ["list"], operands: "", options: [.json], section: .runs,
            summary: "Every run in the database, oldest first.", details: "--json prints one object per line.",
            run: { try InspectCommands.list($0, $1) }),
        CommandSpec(
            path: ["history"], operands: "RUN", options: [.json], section: .runs,
            summary: "A run's events in order, with their hashes.",
            details: "--json prints one object per line with seq, runSeq, type, step, at, actor, hash and body.",
            run: { try InspectCommands.history($0, $1) }),
        // People
        CommandSpec(
            path: ["approve"], operands: "RUN",
            options: [
                .value("--key", "FILE", "sign with this OpenSSH Ed25519 private key (unencrypted; a key with a passphrase goes through ssh-agent)", completes: .file),
                .value("--signature", "FILE", "an armored signature made with `ssh-keygen -Y sign -n cutover-approval` of what --statement prints", completes: .file),
                .flag("--statement", "print what an approval of this run signs, and record nothing"),
                .value("--comment", "TEXT", "recorded with the approval"),
                .value("--as", "NAME", "not accepted: who approves is proven, never typed"),
            ],
            section: .people, summary: "Approve the step a run waits on.",
            details: """
                Approvals come from distinct people on the runbook's list; the starter of a live
                run cannot approve it. Who approves is proven, never typed: on SQLite the
                operating-system account running the command, on PostgreSQL the database role
                it logs in as. When the runbook lists approvers with OpenSSH keys, an approval
                must carry a signature by one of them over the run, the step and the hash of
                the request (namespace cutover-approval): with --key FILE, through ssh-agent
                (SSH_AUTH_SOCK) when it holds a listed key, or made elsewhere with
                `ssh-keygen -Y sign -f KEY -n cutover-approval` of what --statement prints and
                passed with --signature FILE. A signed approval is in the name of the key's
                approver (on PostgreSQL it must be the role's own key), so on one shared
                account a second person approves with their own key.
                """,
            recordsActor: true, run: { try ApproveCommand.run($0, $1) }),
        CommandSpec(
            path: ["pause"], operands: "RUN", options: [.reason], section: .people,
            summary: "Pause a run at the next step boundary or during a wait.",
            details: "Timers keep running while paused. `cutover resume RUN` carries on.",
            recordsActor: true, run: { try SignalCommands.pause($0, $1) }),
        CommandSpec(
            path: ["halt"], operands: "", options: [.value("--reason", "TEXT", "why, for everyone whose run it stops", required: true)], section: .people,
            summary: "Stop every active run at its next step boundary and refuse new starts.",
            details: """
                The safety lever: every driver and worker reads the halt at step boundaries, in waits and
                right before each change, and pauses its run there (timers keep running); new starts
                and scheduled drills are refused (exit 69, as for a service another run holds) until
                `cutover unhalt`. Who halted, when and why are in the log, and in `status` and `list`.
                """,
            recordsActor: true, run: { try HaltCommands.halt($0, $1) }),
        CommandSpec(
            path: ["unhalt"], operands: "", options: [.reason], section: .people,
            summary: "Lift the halt: runs it paused carry on, starts are allowed again.",
            details: "A run a person paused stays paused. Recorded in the log with who and why.",
            recordsActor: true, run: { try HaltCommands.unhalt($0, $1) }),
        CommandSpec(
            path: ["override"], operands: "RUN STEP RULE",
            options: [.value("--reason", "TEXT", "why going on is safe although the rule does not hold", required: true), .detach, .json], section: .people,
            summary: "Let a step go on although a safety rule does not hold (an approver's decision).",
            details: """
                Recorded as SafetyOverridden by you. It counts as an approval does: by one of the
                runbook's approvers (anyone when it lists none), never by the person who started a
                live run. The rule is still looked at before the step and what it finds is logged
                with the override; a run the rule stopped carries on here.
                """,
            recordsActor: true, run: { try await SignalCommands.override($0, $1) }),
        CommandSpec(
            path: ["abort"], operands: "RUN", options: [.reason, .detach, .json], section: .people,
            summary: "Stop a run and compensate what it changed, latest first.",
            details: """
                A live run past its pivot is not rolled back on its own: it stops for a person to
                decide (`cutover rollback RUN` or `cutover resume RUN`).
                """,
            recordsActor: true, run: { try await SignalCommands.abort($0, $1) }),
        CommandSpec(
            path: ["rollback"], operands: "RUN", options: [.reason, .detach, .json], section: .people,
            summary: "Compensate a finished run (or one needing attention), pivot included.",
            details: """
                Compensates every completed step of a succeeded run, or of one that needs
                attention, latest first, the pivot included (which discards writes made on DR
                since). The service must not have another active run.
                """,
            recordsActor: true, run: { try await SignalCommands.rollback($0, $1) }),
        // Audit
        CommandSpec(
            path: ["keys", "init"], operands: "", options: [.value("--dir", "DIR", "where to write the pair", absent: "keys/ next to the database")],
            section: .audit, summary: "Make the Ed25519 key pair that signs checkpoints.",
            details: """
                The private key (0600) signs a checkpoint at every stop of every run and on
                `cutover audit checkpoint`; the public key (PEM, 0644) is for auditors. A folder
                others can write is refused. Never overwrites. Runs find the private key there,
                or at CUTOVER_SIGNING_KEY.
                """,
            recordsActor: true, run: { try AuditCommands.keysInit($0, $1) }),
        CommandSpec(
            path: ["keys", "trust"], operands: "PUBLIC.pem", options: [], section: .audit,
            summary: "Pin the public key `audit verify` checks signatures with.",
            details: "The key is pinned in $XDG_CONFIG_HOME/cutover (or ~/.config/cutover): `audit verify` uses it when no --key is given.",
            usesDatabase: false, operandCompletion: .file, run: { try AuditCommands.trust($0, $1) }),
        CommandSpec(
            path: ["audit", "verify"], operands: "",
            options: [.value("--run", "RUN", "one run's events and the links around them"), .value("--key", "PUBLIC.pem", "the trusted public key", completes: .file),
                      .value("--bundle", "FILE", "check an exported jsonl bundle alone", completes: .file),
                      .value("--checkpoint", "KEPT", "the log must still extend this checkpoint, kept earlier", completes: .file),
                      .value("--from", "URL", "verify the log shipped to a bucket (s3:// or gs://), without a database"),
                      .value("--against", "URL", "hold this log to every checkpoint shipped to a bucket (every version it keeps): a log cut off or rewritten since is named"),
                      .flag("--chain-only", "recompute the chain only (the fast path)"), .json],
            section: .audit, summary: "Recompute the chain, check signatures and folds (reads only).",
            details: """
                Recomputes the hash chain, checks each checkpoint's signature with the trusted
                public key and that the chain reaches it, and folds every run to see it is a legal
                sequence of states. Opens the database read-only. With a trusted key every
                finished run must be covered by a checkpoint that key signed. Exit 0 when intact
                and checked against a trusted key; 3 when intact but no trusted key was given, so
                no signature could be checked; 1 naming the first bad position and what is wrong
                there (edited, missing, inserted, reordered, truncated, bad signature, unsigned,
                illegal state).
                """,
            run: { try await AuditCommands.verify($0, $1) }),
        CommandSpec(
            path: ["audit", "checkpoint"], operands: "", options: [.value("-o", "KEPT", "also write the latest signed checkpoint there", completes: .file)],
            section: .audit, summary: "Sign the head of the log now.",
            details: "-o KEPT writes the latest signed checkpoint to KEPT, to keep away from the database.",
            run: { try AuditCommands.checkpoint($0, $1) }),
        CommandSpec(
            path: ["audit", "replay"], operands: "RUN", options: [.value("--at", "SEQ|TIME", "an event position, or a time"), .json],
            section: .audit, summary: "A run as it was then: attempts, approvals, signals.", details: "",
            run: { try AuditCommands.replay($0, $1) }),
        CommandSpec(
            path: ["audit", "export"], operands: "RUN",
            options: [.value("--format", "FORMAT", "a bundle to verify elsewhere, or one HTML page", choices: ["jsonl", "html"], default: "jsonl"),
                      .value("-o", "FILE", "where to write it", completes: .file, absent: "standard output")],
            section: .audit, summary: "A self-contained bundle, or one HTML page with the timeline and the report.",
            details: "The bundle holds the events, the chain link before them, the checkpoints and the public key.",
            run: { try AuditCommands.export($0, $1) }),
        CommandSpec(
            path: ["report"], operands: "", options: [.value("--since", "DATE", "ISO 8601"), .json], section: .audit,
            summary: "Failovers and drills with their RTO and RPO against the targets.",
            details: """
                Every failover and drill since DATE with its measured RTO and RPO against the
                runbook's targets, oldest first, so a trend across quarters shows. Scheduled
                firings that were skipped or missed are listed too: a gap in the record is visible.
                """,
            run: { try AuditCommands.report($0, $1) }),
        CommandSpec(
            path: ["db", "init"], operands: "", options: [.value("--grant", "ROLE,...", "PostgreSQL roles that run cutover, granted what they need")],
            section: .database, summary: "Make the event log's tables where --db says (a PostgreSQL database, once).",
            details: """
                A PostgreSQL log (--db postgresql://USER@HOST/DATABASE) is made once, by a role that
                may create tables in that database, never by a run: its tables, the triggers that
                refuse UPDATE, DELETE and TRUNCATE of events and checkpoints (even to their owner),
                and its schema version, which every cutover checks when it opens the log (a log made
                by a newer cutover is refused). --grant gives the roles cutover runs as INSERT and
                SELECT on the history and the coordination tables in full, nothing more. Run again,
                it changes nothing but the grants. A SQLite log is made by the first run.
                """,
            run: { try DatabaseCommands.initialize($0, $1) }),
        CommandSpec(
            path: ["db", "migrate"], operands: "", options: [],
            section: .database, summary: "Bring a PostgreSQL log made by an older cutover to this one's schema.",
            details: """
                Every cutover checks the schema version of a PostgreSQL log when it opens it: a log
                made by a newer cutover is refused (upgrade cutover), and one made by an older
                cutover too, until it is migrated here, by the role that made it, once every
                cutover using the log is upgraded. The missing migrations run in order in one
                transaction, under the writers' lock, and the new version is recorded beside the
                old (the version table is append-only too); no event is touched. Run again, it
                changes nothing.
                """,
            run: { try DatabaseCommands.migrate($0, $1) }),
        CommandSpec(
            path: ["log", "ship"], operands: "",
            options: [.value("--to", "URL", "a bucket and prefix: s3://BUCKET/PREFIX or gs://BUCKET/PREFIX; give it once per bucket", required: true)],
            section: .database, summary: "Ship the log's new events to buckets as write-once segments.",
            details: """
                Each segment holds the events since the last one shipped there, named by its first
                position only and written create-only (S3 If-None-Match, Cloud Storage
                ifGenerationMatch=0), then read back. What a bucket holds must be this log's own
                beginning: a log here shorter than it (cut off) or different from it (rewritten) is
                named and nothing is shipped. Another copy of the log that continues it first (a
                restored copy, an old machine come back) makes this one's write fail: stop it.
                Endpoints and credentials as each cloud's tools take them: AWS_ENDPOINT_URL,
                AWS_REGION, AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY; STORAGE_EMULATOR_HOST and
                GOOGLE_APPLICATION_CREDENTIALS.
                """,
            recordsActor: false, run: { try await LogCommands.ship($0, $1) }),
        CommandSpec(
            path: ["log", "restore"], operands: "",
            options: [.value("--from", "URL", "the bucket and prefix the log was shipped to (s3:// or gs://)", required: true)],
            section: .database, summary: "Rebuild the log from shipped segments, every one checked first.",
            details: """
                Into an empty log (`--db`, or a PostgreSQL log made by `db init`): every segment is
                read and checked before anything is written (it starts where the one before ended,
                continues its hash, and every event hashes to the chain), so a missing, altered,
                swapped or overlapping segment is named and nothing is restored. Then the events go
                in exactly as shipped, the checkpoints that lie on the chain, and the services of the
                runs still active; `cutover resume RUN` carries a run on from there.
                """,
            recordsActor: false, run: { try await LogCommands.restore($0, $1) }),
        CommandSpec(
            path: ["db", "copy"], operands: "",
            options: [.value("--from", "LOG", "the log to copy: a SQLite file or a PostgreSQL URI", completes: .file, required: true),
                      .value("--to", "LOG", "an empty log to copy it into (a PostgreSQL log made by `db init`)", required: true)],
            section: .database, summary: "Copy a log event for event into an empty one, the chain checked on both sides.",
            details: """
                How a team moves its SQLite log onto PostgreSQL: the source's chain is verified, its
                events are copied exactly as stored (positions, times, actors, bodies, hashes) in
                batches, each event checked to follow the one before, then its checkpoints and the
                service locks of runs still active; the copy must verify to the source's head.
                Nothing is copied into a log that holds events. Stop every cutover using the source
                first.
                """,
            usesDatabase: false, run: { try DatabaseCommands.copy($0, $1) }),
        // Schedules
        CommandSpec(
            path: ["schedule", "add"], operands: "NAME",
            options: [.value("--workflow", "WORKFLOW", "the workflow: a path, or a name in workflows/", completes: .workflow, required: true),
                      .runbook, .value("--cron", "EXPR", "five cron fields, or @daily, @weekly, @quarterly...", required: true),
                      .value("--tz", "ZONE", "a zoneinfo name", default: "UTC"),
                      .flag("--drill", "scheduled drills fail over and roll back"),
                      .flag("--readiness-only", "scheduled readiness checks change nothing"),
                      .value("--catch-up", "POLICY", "what happens to firings missed while no scheduler ran", choices: ["skip", "run-once"], default: "skip"),
                      .value("--approved-by", "NAME,...", "people of the runbook's approvers who approve the schedule's drills in advance")],
            section: .schedules, summary: "A drill or readiness check the scheduler starts on its own.",
            details: """
                Schedules are events in the log, audited like runs (`cutover history
                schedule:NAME`). EXPR is five cron fields (minute hour day-of-month month
                day-of-week) with ranges 1-5, lists 1,15, steps */10 and names MON, JAN; or
                @hourly @daily @weekly @monthly @quarterly @yearly. When both day fields are
                restricted, a day matching either one fires (as in Vixie cron). Daylight saving: a
                time that happens twice fires once, the first time; a time the clocks skip fires
                once, at the moment they jump. Exactly one of --drill and --readiness-only.
                skip records missed firings; run-once records them and starts one run in their
                place. Workflows with approval steps need --approved-by.
                """,
            recordsActor: true,
            exclusive: [Exclusive(
                names: ["--drill", "--readiness-only"], required: true,
                why: "scheduled runs are drills (--drill) or readiness checks (--readiness-only); a live failover is started by a person with `cutover start`")],
            run: { try ScheduleCommands.add(try ScheduleCommands.name($0.positionals), $0, $1) }),
        CommandSpec(
            path: ["schedule", "list"], operands: "", options: [.json], section: .schedules,
            summary: "Every schedule, with its next firing and last drill.", details: "",
            run: { try ScheduleCommands.list($0.positionals, $0, $1) }),
        CommandSpec(
            path: ["schedule", "next"], operands: "NAME", options: [.value("--count", "N", "how many firings", default: "5"), .json],
            section: .schedules, summary: "When a schedule fires next, in its time zone.", details: "",
            run: { try ScheduleCommands.next(try ScheduleCommands.name($0.positionals), $0, $1) }),
        CommandSpec(
            path: ["schedule", "pause"], operands: "NAME", options: [.reason], section: .schedules,
            summary: "Stop a schedule's firings until it is resumed.", details: "",
            recordsActor: true, run: { try ScheduleCommands.signal(try ScheduleCommands.name($0.positionals), .schedulePaused(Signal(reason: $0["--reason"])), $0, $1) }),
        CommandSpec(
            path: ["schedule", "resume"], operands: "NAME", options: [.reason], section: .schedules,
            summary: "Let a paused schedule fire again.", details: "",
            recordsActor: true, run: { try ScheduleCommands.signal(try ScheduleCommands.name($0.positionals), .scheduleResumed(Signal(reason: $0["--reason"])), $0, $1) }),
        CommandSpec(
            path: ["schedule", "remove"], operands: "NAME", options: [.reason], section: .schedules,
            summary: "Remove a schedule (its history stays in the log).", details: "",
            recordsActor: true, run: { try ScheduleCommands.signal(try ScheduleCommands.name($0.positionals), .scheduleRemoved(Signal(reason: $0["--reason"])), $0, $1) }),
        CommandSpec(
            path: ["scheduler"], operands: "",
            options: [.flag("--once", "one pass: start what is due, drive it, exit (for cron or a systemd timer)"),
                      .value("--poll", "DURATION", "how often to look for due firings", default: "10s"),
                      .value("--grace", "DURATION", "a firing seen later than this counts as missed", default: "10m")],
            section: .schedules, summary: "Start due drills; one scheduler per database acts, the others wait.",
            details: """
                Starts due drills as ordinary runs and drives them; each start, skip and miss is an
                event. One scheduler acts per database: it holds a lease, a second one waits and
                takes over when the first stops or dies. SIGTERM or SIGINT: the steps in flight
                finish, then it exits (0); a second signal stops at once. Unfinished drills are
                resumed by the next scheduler. With --once keep --grace above the timer's period.
                """,
            recordsActor: true, run: { try await SchedulerCommand.run($0, $1) }),
        CommandSpec(
            path: ["worker"], operands: "",
            options: [.flag("--schedules", "run the scheduler in this process too (one process per host is enough)"),
                      .value("--poll", "DURATION", "how often to look at the log when nothing wakes the worker", default: "2s"),
                      .value("--lease", "DURATION", "how long a run's lease lasts unless renewed (the time to take over from a dead worker)", default: "30s"),
                      .value("--max-runs", "N", "runs driven at once, at most", default: "16"),
                      .flag("--no-preflight", "take runs without checking first that this host reaches their targets and secrets")],
            section: .runs, summary: "Drive every run that needs a driver, on this host, until stopped.",
            details: """
                Carries on every run that needs a driver: started with --detach and left, approved
                since, asked to resume, or left by a driver (a process, a laptop, another worker)
                whose lease expired; never one that waits for a person or has ended. Workers on
                several hosts share a log: a run's lease lets exactly one drive it, and one whose
                worker died or was cut off is taken over once its lease expires, the step it left
                in flight settled by observing the world. Before it takes a run, a worker checks
                from here every secret the run's steps read and every target they reach (TCP and
                TLS), and leaves the run to another worker when one fails. On PostgreSQL it is
                woken by the log's notifications, with polling as the fallback; on SQLite it polls.
                SIGTERM or SIGINT: the steps in flight finish, every lease is given back, then it
                exits (0); a second signal stops at once.
                """,
            recordsActor: true, run: { try await WorkerCommand.run($0, $1) }),
        // Definitions
        CommandSpec(
            path: ["validate"], operands: "FILE...", options: [], section: .definitions,
            summary: "Check workflow and runbook files, each workflow with each runbook; nothing is written.",
            details: """
                Every problem in every file is reported as `file: json.path: what was expected,
                what was found`. Files in runbooks/ (or with a "service" and no "steps") are
                runbooks; the rest are workflows. Each workflow is checked with each runbook given,
                as a run loads the pair. Exit 0 when all are valid, 64 when not.
                """,
            usesDatabase: false, operandCompletion: .file, run: { try ValidateCommand.run($0, $1) }),
        CommandSpec(
            path: ["plan"], operands: "WORKFLOW", options: [.runbook, .drill, .json], section: .definitions,
            summary: "The resolved steps and what each would undo; touches nothing.",
            details: """
                Shows the steps a run would take with their parameters resolved against the
                runbook (secrets stay references, outputs of earlier steps stay ${...}), their
                retry and timeout, and what each would undo.
                """,
            usesDatabase: false, operandCompletion: .workflow, run: { try PlanCommand.run($0, $1) }),
        CommandSpec(
            path: ["preflight"], operands: "WORKFLOW", options: [.runbook, .drill, .json], section: .definitions,
            summary: "Secrets, endpoints, reads and readiness checks of the real targets, timed; nothing is changed or written.",
            details: """
                What a run would meet, checked now from this machine: every secret the steps and
                their providers ask for resolves here; every endpoint of every target answers (TCP,
                then the TLS handshake with the certificate verified for https); each step that
                changes something reads what it would change through its provider's read calls;
                the readiness checks run as the run runs them. Nothing is changed (the steps run
                without the proof every change needs) and nothing is written. Readiness checks
                after the first change or approval are left to the run. Exit 0 when every check
                passed, 1 when one failed, 64 invalid definitions.
                """,
            usesDatabase: false, operandCompletion: .workflow, run: { try await PreflightCommand.run($0, $1) }),
        // Reference
        CommandSpec(
            path: ["help"], operands: "[COMMAND | step-types | workflow | runbook | references | json | reference | man]", options: [], section: .reference,
            summary: "This overview, a command's help, or the reference of the file formats.",
            details: """
                `help step-types` lists the step types; `help workflow` and `help runbook` the
                fields of each file; `help references` the ${...} references; `help json` the
                JSON the commands write; `help reference`
                all of it as Markdown (docs/REFERENCE.md); `help man` the man page (roff).
                """,
            usesDatabase: false, operandCompletion: .helpTopic, run: { try HelpCommand.run($0, $1) }),
        CommandSpec(
            path: ["explain"], operands: "TYPE", options: [], section: .reference,
            summary: "A step type: its parameters, providers, what it changes and how it is undone, an example.",
            details: "", usesDatabase: false, operandCompletion: .stepType, run: { try HelpCommand.explain($0, $1) }),
        CommandSpec(
            path: ["schema"], operands: "workflow|runbook", options: [], section: .reference,
            summary: "A JSON Schema (draft 2020-12) for workflow or runbook files, for an editor to complete and check them.",
            details: """
                Written from the step types, the providers and the loaders. It checks one file: what
                needs the pair (a reference into the runbook, approvals against approvers, a window
                against a timeout) is `cutover validate`'s. In VS Code: "json.schemas": [{"fileMatch":
                ["workflows/*.json"], "url": "./workflow.schema.json"}] after
                `cutover schema workflow > workflow.schema.json`.
                """,
            usesDatabase: false, operandChoices: ["workflow", "runbook"], run: { try HelpCommand.schema($0, $1) }),
        CommandSpec(
            path: ["completion"], operands: "bash|zsh", options: [], section: .reference,
            summary: "Shell completion: `source <(cutover completion bash)`.",
            details: "Completes commands, subcommands, each command's options, their fixed values, and workflow and runbook names from workflows/ and runbooks/.",
            usesDatabase: false, operandChoices: ["bash", "zsh"], run: { try HelpCommand.completion($0, $1) }),
        CommandSpec(
            path: ["version"], operands: "", options: [], section: .reference,
            summary: "The version and the commit it was built from (also --version, -v).", details: "",
            usesDatabase: false, run: { try HelpCommand.version($0, $1) }),
    ]

    /// The first words of every command (`schedule` for `schedule add`), in order.
    static var names: [String] {
        var seen: [String] = []
        for c in all where !seen.contains(c.path[0]) { seen.append(c.path[0]) }
        return seen
    }

    /// The subcommands under `group` (`add`, `list`... for `schedule`), empty for a plain command.
    static func subcommands(of group: String) -> [String] {
        all.filter { $0.path.count > 1 && $0.path[0] == group }.map { $0.path[1] }
    }

    /// The command named by the first words of `words`, and the words after its name.
    /// - Throws: `UsageError` naming an unknown command or subcommand, with a did-you-mean.
    static func find(_ words: [String]) throws -> (CommandSpec, [String]) {
        guard let first = words.first else { throw UsageError("missing a command") }
        let subs = subcommands(of: first)
        if subs.isEmpty {
            if let c = all.first(where: { $0.path == [first] }) { return (c, Array(words.dropFirst())) }
            throw UnknownCommand(word: first, hint: Suggestion.hint(for: first, in: names))
        }
        // Options may come between the group and the subcommand (`schedule --db x list`):
        // they are kept, with the value of one that takes a value, and parsed as the
        // subcommand's.
        let takingValues = Set(all.filter { $0.path.first == first }.flatMap { c in
            c.options.compactMap { o -> String? in if case .value = o.kind { o.name } else { nil } }
        } + ["--db"])
        var leading: [String] = []
        var i = 1
        while i < words.count, words[i].hasPrefix("-"), words[i] != "-", words[i] != "--" {
            if words[i] == "--help" || words[i] == "-h" { throw GroupHelp(group: first) }
            leading.append(words[i])
            if takingValues.contains(words[i]), i + 1 < words.count {
                leading.append(words[i + 1])
                i += 1
            }
            i += 1
        }
        guard i < words.count, words[i] != "--" else { throw UsageError("missing what to do: \(list(subs))") }
        let sub = words[i]
        guard let c = all.first(where: { $0.path == [first, sub] }) else {
            throw UsageError("unknown \(first) command \"\(TerminalText.escaped(sub))\"\(Suggestion.hint(for: sub, in: subs)); expected \(list(subs))")
        }
        return (c, leading + words[(i + 1)...])
    }

    /// `a, b or c`.
    static func list(_ words: [String]) -> String {
        words.count < 2 ? words.joined() : words.dropLast().joined(separator: ", ") + " or " + words.last!
    }

    /// The overview `cutover --help` prints, from the declarations.
    static var overview: String {
        var out = """
            cutover: durable failover workflows with an audited event log

            Usage: cutover [--db PATH] COMMAND [ARGS] [--help]
            """
        for section in CommandSpec.Section.allCases {
            out += "\n\n\(section.rawValue):"
            for c in all where c.section == section {
                let left = "  \(c.name)\(c.operands.isEmpty || c.operands.count > 24 ? "" : " " + c.operands)"
                out += "\n" + (left.count > 30 ? left + "\n" + String(repeating: " ", count: 32) : left.padding(toLength: 32, withPad: " ", startingAt: 0)) + c.summary
            }
        }
        out += """


            The database is .cutover/cutover.sqlite under the current folder unless --db PATH or
            CUTOVER_DB says otherwise. WORKFLOW and RUNBOOK are a path or a name in workflows/
            and runbooks/. `cutover COMMAND --help` shows a command's options. Exit status: 0 done,
            1 failed / rolled back / needs attention, 64 bad usage or invalid definitions, 75
            waiting for people (--detach).
            """
        return out
    }
}

/// A first word that names no command.
struct UnknownCommand: Error {
    let word: String
    let hint: String
}

/// `cutover schedule --help`: the group's subcommands.
struct GroupHelp: Error {
    let group: String
}
