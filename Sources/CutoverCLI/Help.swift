/// `--help` texts.
enum Help {
    static let overview = """
        cutover: durable failover workflows with an audited event log

        Usage: cutover [--db PATH] COMMAND [ARGS] [--help]

        Runs:
          start WORKFLOW --runbook RUNBOOK [--drill | --readiness-only] [--no-preflight]
                [--detach] [--json]
                                   preflight, then start a failover, failback or drill
                                   and follow it live
          resume RUN               carry on a run after a crash, a pause or a decision
          status [RUN] [--json]    where a run stands (the latest run without RUN)
          list [--json]            every run in the database
          history RUN [--json]     a run's events in order, with their hashes

        People:
          approve RUN [--as NAME]  approve the step a run waits on
          pause RUN | abort RUN    pause at the next step boundary; abort and compensate
          rollback RUN             compensate a finished run (or one needing attention)

        Audit:
          keys init [--dir DIR]    make the Ed25519 key that signs checkpoints
          audit verify [--run RUN] [--key PUBLIC.pem] [--bundle FILE] [--json]
                                   recompute the chain, check signatures and folds (reads only)
          audit checkpoint         sign the chain as it is now
          audit replay RUN [--at SEQ|TIME]
                                   the run as it was then: attempts, approvals, signals
          audit export RUN --format jsonl|html [-o FILE]
                                   a bundle to verify elsewhere, or one HTML page
          report [--since DATE] [--json]
                                   failovers and drills with their RTO and RPO against targets

        Schedules:
          schedule add NAME --workflow W --runbook R --cron "EXPR" [--tz ZONE]
                   (--drill | --readiness-only) [--catch-up skip|run-once] [--approved-by NAME,...]
                                   a drill or readiness check the scheduler starts on its own
          schedule list | next NAME [--count N] | pause NAME | resume NAME | remove NAME
          scheduler [--once] [--poll 10s] [--grace 10m]
                                   start due drills (one process per database holds the lease)

        Definitions:
          validate FILE...         check workflow and runbook files; nothing is written
          plan WORKFLOW --runbook RUNBOOK
                                   the resolved steps and what each would undo
          preflight WORKFLOW --runbook RUNBOOK [--drill] [--json]
                                   secrets, endpoints, reads and readiness checks of the
                                   real targets, timed; nothing is changed or written

        The database is .cutover/cutover.sqlite under the current folder unless --db PATH or
        CUTOVER_DB says otherwise. WORKFLOW and RUNBOOK are a path or a name in workflows/
        and runbooks/. Exit status: 0 done, 1 failed / rolled back / needs attention,
        64 bad usage or invalid definitions, 75 waiting for people (--detach).
        """

    static func text(for command: Command) -> String {
        switch command {
        case .validate:
            """
            Usage: cutover validate FILE...

            Checks workflow and runbook files: every problem in every file is reported as
            `file: json.path: what was expected, what was found`. Files in runbooks/ (or
            with a "service" and no "steps") are runbooks; the rest are workflows.
            Exit 0 when all are valid, 64 when not. Nothing is written.
            """
        case .plan:
            """
            Usage: cutover plan WORKFLOW --runbook RUNBOOK [--drill] [--json]

            Shows the steps a run would take with their parameters resolved against the
            runbook (secrets stay references, outputs of earlier steps stay ${...}), their
            retry and timeout, and what each would undo. Touches nothing.
            """
        case .preflight:
            """
            Usage: cutover preflight WORKFLOW --runbook RUNBOOK [--drill] [--json]

            What a run would meet, checked now from this machine, as a table with the time
            each check took: every secret the steps and their providers ask for resolves
            here; every endpoint of every target answers (TCP connect, then the TLS handshake
            with the certificate verified for https); each step that changes something reads
            what it would change through its provider's read calls (the record DNS serves,
            the group's size, the replica's role, the silences); and the readiness checks
            (health, replication, models, capacity) run as the run would run them. Nothing
            is changed (the steps run without the proof every change needs) and nothing is
            written. The replication check reads the link and the offsets; its lag against
            the RPO needs a heartbeat write, made when the run starts.
            Exit 0 when every check passed, 1 when one failed, 64 invalid definitions.
            """
        case .start:
            """
            Usage: cutover start WORKFLOW --runbook RUNBOOK [--drill | --readiness-only]
                   [--no-preflight] [--detach] [--json]

            Validates both files and runs `cutover preflight` (nothing is written if either
            fails; the checks that failed are listed), records the run, prints its id, then
            follows it step by step.
              --drill           fail over, then roll everything back on purpose once every
                                step passed
              --readiness-only  run the workflow's readiness checks alone (health, replication
                                lag, models, capacity) as a recorded run that changes nothing
                                but the lag heartbeat, as readiness schedules do
              --no-preflight    start without the preflight (when the primary is down, its
                                checks that name the primary fail: read them, then use this)
              --detach  return when the run waits for people (approval, pause): exit 75
              --json    print one JSON object at the end instead of progress lines
            Only one run per service is active at a time. SIGINT/SIGTERM stop the run where
            it is; `cutover resume RUN` carries on.
            Exit 0 succeeded (or a drill rolled back as planned), 1 failed, rolled back or
            needs attention, 64 invalid input, 75 waiting for approval with --detach.
            """
        case .resume:
            """
            Usage: cutover resume RUN [--detach] [--json]

            Carries a run on: after the process driving it died (a step left in flight is
            checked against the world before it runs again; timers wait only what is left),
            after a pause, after approvals, or after a person decided how a run needing
            attention goes on. If another live process drives the run, it carries on instead.
            """
        case .status:
            """
            Usage: cutover status [RUN] [--json]

            The run's state, each step's state, attempts and duration, what is left to undo,
            and what a person must decide if anything. Without RUN: the latest run.
            """
        case .list:
            """
            Usage: cutover list [--json]

            Every run in the database, oldest first; --json prints one object per line.
            """
        case .history:
            """
            Usage: cutover history RUN [--json]

            The run's events in order. --json prints one object per line with seq, runSeq,
            type, step, at, actor, hash and body.
            """
        case .approve:
            """
            Usage: cutover approve RUN [--as NAME] [--comment TEXT]

            Approves the step the run is waiting on, as NAME (default $CUTOVER_ACTOR or
            $USER). Approvals come from distinct people on the runbook's list; the starter
            of a live run cannot approve it.
            """
        case .pause:
            """
            Usage: cutover pause RUN [--reason TEXT]

            Asks the driving process to pause at the next step boundary or during a wait.
            Timers keep running while paused. `cutover resume RUN` carries on.
            """
        case .abort:
            """
            Usage: cutover abort RUN [--reason TEXT] [--detach] [--json]

            Stops the run and compensates what it changed, latest first. A live run past its
            pivot is not rolled back on its own: it stops for a person to decide
            (`cutover rollback RUN` or `cutover resume RUN`).
            """
        case .rollback:
            """
            Usage: cutover rollback RUN [--reason TEXT] [--detach] [--json]

            Compensates every completed step of a succeeded run, or of one that needs
            attention, latest first, the pivot included (which discards writes made on DR
            since). The service must not have another active run.
            """
        case .keys:
            """
            Usage: cutover keys init [--dir DIR]
                   cutover keys trust PUBLIC.pem

            init makes an Ed25519 key pair with libcrypto: the private key (0600) signs a
            checkpoint at every stop of every run and on `cutover audit checkpoint`; the public
            key (PEM, 0644) is for auditors. Default folder: keys/ next to the database; a
            folder others can write is refused. Never overwrites. Runs find the private key
            there, or at CUTOVER_SIGNING_KEY.
            trust pins an auditor's trusted public key in $XDG_CONFIG_HOME/cutover (or
            ~/.config/cutover): `audit verify` checks signatures with it when no --key is given.
            """
        case .audit:
            """
            Usage: cutover audit verify [--run RUN] [--key PUBLIC.pem] [--bundle FILE] [--checkpoint KEPT] [--json]
                   cutover audit checkpoint [-o KEPT]
                   cutover audit replay RUN [--at SEQ|TIME] [--json]
                   cutover audit export RUN --format jsonl|html [-o FILE]

            verify recomputes the hash chain (or one run's events and the links around them),
            checks each checkpoint's signature with the trusted public key and that the chain
            reaches it, and folds every run to see it is a legal sequence of states. It opens
            the database read-only. With a trusted key (--key, or one pinned by `keys trust`)
            every finished run must be covered by a checkpoint that key signed. Exit 0 when
            intact and checked against a trusted key; 3 when intact but no trusted key was
            given, so no signature could be checked; 1 naming the first bad position and what
            is wrong there (edited, missing, inserted, reordered, truncated, bad signature,
            unsigned, illegal state). With --bundle it checks an exported jsonl bundle alone;
            with --checkpoint KEPT the log must still extend a checkpoint kept earlier.
            checkpoint signs the head of the log now; -o KEPT also writes the latest signed
            checkpoint to KEPT, to keep away from the database.
            replay shows the run as it was at an event position or a time.
            export writes a self-contained bundle (events, the chain link before them,
            checkpoints, the public key) or one HTML page with the timeline and the report.
            """
        case .report:
            """
            Usage: cutover report [--since DATE] [--json]

            Every failover and drill since DATE (ISO 8601) with its measured RTO and RPO against
            the runbook's targets, oldest first, so a trend across quarters shows. Scheduled
            firings that were skipped or missed are listed too: a gap in the record is visible.
            """
        case .schedule:
            """
            Usage: cutover schedule add NAME --workflow W --runbook R --cron "EXPR" [--tz ZONE]
                                        (--drill | --readiness-only) [--catch-up skip|run-once]
                                        [--approved-by NAME,...]
                   cutover schedule list [--json]
                   cutover schedule next NAME [--count N] [--json]
                   cutover schedule pause NAME | resume NAME | remove NAME [--reason TEXT]

            Schedules are events in the log, audited like runs (`cutover history schedule:NAME`
            lists a schedule's own events). EXPR is five cron fields
            (minute hour day-of-month month day-of-week) with ranges 1-5, lists 1,15, steps */10
            and names MON, JAN; or @hourly @daily @weekly @monthly @quarterly @yearly. When both
            day fields are restricted, a day matching either one fires (as in Vixie cron).
            ZONE is a name from the system's zoneinfo (default UTC). Daylight saving: a time
            that happens twice fires once, the first time; a time the clocks skip fires once,
            at the moment they jump. No double run, no lost run.

            --readiness-only runs the workflow's checks alone (health, replication lag, model
            digests) and changes nothing. --catch-up says what happens to firings missed while
            no scheduler ran: skip (default) records them, run-once records them and starts one
            run in their place. Workflows with approval steps need --approved-by: people of the
            runbook's approvers who approve the schedule's drills in advance.
            """
        case .scheduler:
            """
            Usage: cutover scheduler [--once] [--poll DURATION] [--grace DURATION]

            Starts due drills as ordinary runs and drives them; each start, skip and miss is an
            event. One scheduler acts per database: it holds a lease, a second one waits and
            takes over when the first stops or dies. SIGTERM or SIGINT: the steps in flight
            finish, then it exits (0); a second signal stops at once. Unfinished drills are
            resumed by the next scheduler. A firing seen more than --grace (10m) late counts
            as missed. --once does one pass, drives what it started, and exits: for cron or a
            systemd timer (keep --grace above the timer's period).
            """
        }
    }
}
