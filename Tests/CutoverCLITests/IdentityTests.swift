import CutoverCore
import CutoverSQLite
import Foundation
import Testing
import TestSupport

/// Who did what, proven: on SQLite the operating-system account, never a name from the
/// environment; approvals signed by the keys a runbook lists, checked against OpenSSH's own
/// `ssh-keygen` both ways, refused when wrong, missing or replayed, and proven again offline by
/// `audit verify`.
@Suite struct IdentityTests {
    func json(_ line: String) -> [String: Any] {
        (try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]) ?? [:]
    }

    func history(_ p: Project, _ run: String) throws -> [[String: Any]] {
        try p.cutover("history", run, "--json").lines.map(json)
    }

    /// A gated live run, waiting: its id.
    func waitingRun(_ p: Project, workflow: String = "gated") throws -> String {
        let r = try p.cutover("start", workflow, "--runbook", "svc", "--detach")
        #expect(r.status == 75, "\(r.stdout)\(r.stderr)")
        return r.lines.first ?? ""
    }

    /// The statement an approval of `run` signs, as `--statement` prints it.
    func statement(_ p: Project, _ run: String) throws -> String {
        let r = try p.cutover("approve", run, "--statement")
        #expect(r.status == 0, "\(r.stderr)")
        return r.stdout
    }

    @Test func namesFromTheEnvironmentChangeNothingAboutWhoIsRecorded() throws {
        // CutoverBinary sets CUTOVER_ACTOR, USER and LOGNAME to mallory for every command.
        let p = try Project(signed: false)
        let r = try p.cutover("start", "check", "--runbook", "svc", "--drill", "--json")
        #expect(r.status == 0, "\(r.stderr)")
        let events = r.lines.map(json).filter { $0["kind"] as? String == "event" }
        #expect(!events.isEmpty && events.allSatisfy { $0["actor"] as? String == Account.current }, "\(events.map { $0["actor"] ?? "" })")
        #expect((events.first?["body"] as? [String: Any])?["startedBy"] as? String == Account.current)
        #expect(!r.stdout.contains("mallory"))
        let typed = try p.cutover("approve", "run-x", "--as", "carol")
        #expect(typed.status == 64 && typed.stderr.contains("--as is not accepted"), "\(typed.stderr)")
    }

    /// On one shared account the starter cannot approve a live run, unless another listed
    /// key signs; the starter's own key does not make it someone else.
    @Test func theStartersAccountApprovesOnlyWithAnotherListedKey() throws {
        let me = Account.current
        // Unsigned: approvers are accounts, and this one started the run.
        let plain = try Project(approvers: [me, "bob"], signed: false)
        let run = try waitingRun(plain)
        let own = try plain.cutover("approve", run)
        #expect(own.status == 1 && own.stderr.contains("\(me) started this live run and cannot approve it"), "\(own.stderr)")
        // Signed: the account's own key is still the starter; bob's key is bob.
        let p = try Project(signed: false)
        p.dir.write("runbooks/svc.json", """
            {"service": "svc", "primary": {"endpoint": "\(p.fixture.base)/primary"}, "dr": {"endpoint": "\(p.fixture.base)/dr"},
             "approvers": [{"name": "\(me)", "key": "\(Approvers.shared.publicKeys["alice"]!)"}, {"name": "bob", "key": "\(Approvers.shared.publicKeys["bob"]!)"}],
             "notify": {"webhook": "env:SVC_WEBHOOK"}}
            """)
        let signedRun = try waitingRun(p)
        let ownKey = try p.approve(signedRun, as: "alice")
        #expect(ownKey.status == 1 && ownKey.stderr.contains("\(me) started this live run and cannot approve it"), "\(ownKey.stderr)")
        let bob = try p.approve(signedRun, as: "bob")
        #expect(bob.status == 0 && bob.stdout.contains("as bob, signed by bob's key (1 of 1)"), "\(bob.stdout)\(bob.stderr)")
        let granted = try history(p, signedRun).first { $0["type"] as? String == "ApprovalGranted" }
        #expect(granted?["actor"] as? String == me, "appended by the account")
        #expect((granted?["body"] as? [String: Any])?["by"] as? String == "bob", "in the name of the key's approver")
        let resumed = try p.cutover("resume", signedRun)
        #expect(resumed.status == 0, "the driver counts the signed approval: \(resumed.stdout)\(resumed.stderr)")
    }

    /// A signature made by `ssh-keygen -Y sign` is accepted; one that is wrong, or made for
    /// another run or another step, is refused; what cutover signs verifies with
    /// `ssh-keygen -Y verify`.
    @Test func signaturesAreCheckedAgainstOpenSSHBothWays() throws {
        let p = try Project()
        let first = try waitingRun(p)
        let text = try statement(p, first)
        #expect(text.hasPrefix("cutover approval\nrun: \(first)\nstep: go\nrequest: "), "\(text)")
        // Made elsewhere, by OpenSSH's own tool.
        let made = try SSHTools.sign(text, key: Approvers.shared.key("bob"))
        let signatureFile = p.dir.write("bob.sig", made)
        // Another namespace: refused.
        let wrongNamespace = p.dir.write("ns.sig", try SSHTools.sign(text, key: Approvers.shared.key("bob"), namespace: "file"))
        let ns = try p.cutover("approve", first, "--signature", wrongNamespace)
        #expect(ns.status == 1 && ns.stderr.contains("namespace"), "\(ns.stderr)")
        // Of something else: refused.
        let other = p.dir.write("other.sig", try SSHTools.sign(text + "and more\n", key: Approvers.shared.key("bob")))
        let wrong = try p.cutover("approve", first, "--signature", other)
        #expect(wrong.status == 1 && wrong.stderr.contains("does not match what was signed"), "\(wrong.stderr)")
        #expect(try history(p, first).allSatisfy { $0["type"] as? String != "ApprovalGranted" }, "nothing recorded")
        let accepted = try p.cutover("approve", first, "--signature", signatureFile)
        #expect(accepted.status == 0 && accepted.stdout.contains("as bob, signed by bob's key"), "\(accepted.stdout)\(accepted.stderr)")
        #expect(try p.cutover("resume", first).status == 0)

        // Replayed on another run: refused.
        let second = try waitingRun(p)
        let replay = try p.cutover("approve", second, "--signature", signatureFile)
        #expect(replay.status == 1 && replay.stderr.contains("does not match what was signed"), "\(replay.stderr)")
        // cutover's own signature, checked by ssh-keygen -Y verify.
        #expect(try p.approve(second, as: "alice").status == 0)
        let events = try history(p, second)
        let granted = try #require(events.first { $0["type"] as? String == "ApprovalGranted" })
        let signature = try #require((granted["body"] as? [String: Any])?["signature"] as? String)
        let requested = try #require(events.first { $0["type"] as? String == "ApprovalRequested" })
        let signed = ApprovalStatement.text(runID: second, step: "go", requestHash: requested["hash"] as? String ?? "")
        #expect(try SSHTools.verify(signed, signature: signature, name: "alice", publicKey: Approvers.shared.publicKeys["alice"]!, in: p.dir.url))
        #expect(try !SSHTools.verify(signed, signature: signature, name: "bob", publicKey: Approvers.shared.publicKeys["bob"]!, in: p.dir.url))
        #expect(try p.cutover("resume", second).status == 0)
    }

    /// A signature made for one step does not approve another step of the same run.
    @Test func aSignatureForOneStepDoesNotApproveAnother() throws {
        let p = try Project()
        p.dir.write("workflows/two-gates.json", """
            {"name": "two-gates", "steps": [
              {"id": "first", "type": "approval", "with": {"approvers": "${runbook.approvers}"}},
              {"id": "second", "type": "approval", "with": {"approvers": "${runbook.approvers}"}}
            ]}
            """)
        let run = try waitingRun(p, workflow: "two-gates")
        let forFirst = p.dir.write("first.sig", try SSHTools.sign(try statement(p, run), key: Approvers.shared.key("alice")))
        #expect(try p.cutover("approve", run, "--signature", forFirst).status == 0)
        #expect(try p.cutover("resume", run, "--detach").status == 75, "waits at the second gate")
        let replay = try p.cutover("approve", run, "--signature", forFirst)
        #expect(replay.status == 1 && replay.stderr.contains("does not match what was signed"), "\(replay.stderr)")
    }

    /// Through the test's own ssh-agent: the private key never leaves it.
    @Test func anAgentSignsWithAListedKeyItHolds() throws {
        let p = try Project()
        let run = try waitingRun(p)
        let agent = try SSHAgentProcess(in: p.dir.url)
        let empty = try CutoverBinary.run(["approve", run], in: p.dir.url, environment: p.environment.merging(["SSH_AUTH_SOCK": agent.socket]) { $1 })
        #expect(empty.status == 1 && empty.stderr.contains("ssh-agent holds none of the keys listed"), "\(empty.stderr)")
        try agent.add(Approvers.shared.key("bob"))
        let ok = try CutoverBinary.run(["approve", run], in: p.dir.url, environment: p.environment.merging(["SSH_AUTH_SOCK": agent.socket]) { $1 })
        #expect(ok.status == 0 && ok.stdout.contains("as bob, signed by bob's key"), "\(ok.stdout)\(ok.stderr)")
        #expect(try p.cutover("resume", run).status == 0)
    }

    /// An approval written around `cutover approve` (straight into the file, with a signature
    /// that is not bob's) is not counted by the driver, and `audit verify` names it.
    @Test func aForgedApprovalIsNotCountedAndAuditVerifyFindsIt() throws {
        let p = try Project()
        let run = try waitingRun(p)
        let forged = try SSHTools.sign("cutover approval\nrun: \(run)\nstep: go\nrequest: 00\n", key: Approvers.shared.key("bob"))
        let log = try SQLiteStore.open(path: p.dir.path(".cutover/cutover.sqlite"))
        let last = try log.events(of: run, after: 0).last?.runSeq ?? 0
        _ = try log.append(
            [EventDraft(at: Date(), actor: Account.current, body: .approvalGranted(ApprovalGranted(step: "go", by: "bob", signature: forged)))],
            to: run, expectedNext: last + 1, options: AppendOptions(now: Date()))
        let resumed = try p.cutover("resume", run, "--detach")
        #expect(resumed.status == 75, "still waiting: \(resumed.stdout)\(resumed.stderr)")
        let verify = try p.cutover("audit", "verify")
        #expect(verify.status == 1, "\(verify.stdout)\(verify.stderr)")
        #expect((verify.stdout + verify.stderr).contains("unproven-approval") && (verify.stdout + verify.stderr).contains("in the name of bob"), "\(verify.stdout)\(verify.stderr)")
        let checked = try p.cutover("audit", "verify", "--json")
        #expect(checked.stdout.contains(#""intact":false"#), "\(checked.stdout)")
    }

    /// Key types other than Ed25519 are refused, saying why; a key with a passphrase is sent
    /// to the agent.
    @Test func otherKeyTypesAndEncryptedKeysAreRefusedWithTheReason() throws {
        let p = try Project()
        let rsa = try SSHTools.keygen(p.dir.path("rsa"), type: "rsa")
        p.dir.write("runbooks/rsa.json", #"{"service": "rsa", "approvers": [{"name": "alice", "key": "\#(rsa)"}]}"#)
        let validate = try p.cutover("validate", "runbooks/rsa.json")
        let said = validate.stdout + validate.stderr
        #expect(validate.status != 0 && said.contains("approvers[0].key") && said.contains("ssh-rsa keys are refused"), "\(said)")
        let run = try waitingRun(p)
        let withRSA = try p.cutover("approve", run, "--key", p.dir.path("rsa"))
        #expect(withRSA.status == 1 && withRSA.stderr.contains("ssh-rsa keys are refused"), "\(withRSA.stderr)")
        try SSHTools.keygen(p.dir.path("locked"), passphrase: "secret words")
        let locked = try p.cutover("approve", run, "--key", p.dir.path("locked"))
        #expect(locked.status == 1 && locked.stderr.contains("passphrase") && locked.stderr.contains("ssh-agent"), "\(locked.stderr)")
        #expect(!locked.stderr.contains("secret words"))
    }
}
