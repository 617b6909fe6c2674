import CutoverCore
import CutoverCrypto
import CutoverStore
import Foundation

/// `cutover approve RUN`: an approval in the name of who is proven to give it, the
/// operating-system account or the database role, or the listed approver whose key signs it.
enum ApproveCommand {
    static func run(_ args: Arguments, _ ctx: Context) throws -> Int32 {
        let runID = try args.positionals("RUN")[0]
        if args["--as"] != nil {
            throw UsageError(
                "--as is not accepted: an approval is in the name of who is proven to give it (this account, \(ctx.actor), on SQLite; the database role on PostgreSQL), or of the runbook approver whose key signs it (--key FILE, ssh-agent, or --signature FILE)")
        }
        let store = try ctx.openStore(creating: false)
        let actor = ctx.actor(of: store)
        let state = try InspectCommands.fold(runID, store)
        guard let step = state.orderedSteps.first(where: { $0.phase == .running && $0.approvalRequest != nil }),
            let request = step.approvalRequest, state.status == .waitingApproval || state.status == .paused
        else {
            throw CommandFailure("run \(runID) is not waiting for approval (it is \(state.status.rawValue)); nothing recorded")
        }
        guard let link = try store.link(at: step.approvalRequestSeq) else {
            throw CommandFailure("the request of step \(step.id) (event \(step.approvalRequestSeq)) cannot be read from \(ctx.dbPath); nothing recorded")
        }
        let statement = ApprovalStatement.text(runID: runID, step: step.id, requestHash: ApprovalStatement.hex(link.hash))
        if args.has("--statement") {
            ctx.console.outRaw(statement)
            return ExitCode.ok
        }
        let keys = request.keys ?? [:]
        var who = actor
        var signature: String?
        if keys.isEmpty {
            if args["--key"] != nil || args["--signature"] != nil {
                throw CommandFailure("step \(step.id) lists no approver keys, so approvals are not signed: this approval would be \(actor)'s, as proven by \(store.sessionActor == nil ? "this account" : "the database role"); run without --key/--signature (nothing recorded)")
            }
        } else {
            let signed = try sign(statement, keys: keys, excluded: request.excluded, actor: store.sessionActor, args, ctx)
            who = signed.name
            signature = signed.signature
            if let problem = SSHApprovalSignatures().problem(signature: signed.signature, key: keys[who] ?? "", statement: statement) {
                throw CommandFailure("the signature does not approve step \(step.id) of \(runID): \(problem) (a signature is good for one request of one step of one run; sign what `cutover approve \(runID) --statement` prints); nothing recorded")
            }
        }
        if let role = store.sessionActor, who != role {
            throw CommandFailure("on this PostgreSQL log approvals are the database role's own: you are connected as \(role), and the key signs for \(who); nothing recorded")
        }
        if request.excluded.contains(who) {
            let others = request.approvers.filter { $0 != who }
            throw CommandFailure(
                "\(who) started this live run and cannot approve it\(others.isEmpty ? "" : "; ask one of \(others.joined(separator: ", "))")\(keys.isEmpty || store.sessionActor != nil ? "" : ", who signs with their own key") (nothing recorded)")
        }
        if !request.approvers.isEmpty, !request.approvers.contains(who) {
            throw CommandFailure("\(who) is not an approver of step \(step.id); the runbook allows \(request.approvers.joined(separator: ", ")) (nothing recorded)")
        }
        let proof = ApprovalProof(log: store, signatures: SSHApprovalSignatures())
        if state.countedApprovers(step.id, proof: proof).contains(who) {
            throw CommandFailure("\(who) already approved step \(step.id); approvals must come from \(request.required) different people")
        }
        let body = EventBody.approvalGranted(ApprovalGranted(step: step.id, by: who, comment: args["--comment"], signature: signature))
        let after = try SignalCommands.append(body, to: runID, by: actor, store)
        let count = after.countedApprovers(step.id, proof: proof).count
        let how = signature == nil ? "" : ", signed by \(who)'s key"
        ctx.console.out("approved step \(step.id) of \(runID) as \(who)\(how) (\(count) of \(request.required))")
        if count >= request.required { ctx.console.out(SignalCommands.nextStepHint(runID, store)) }
        return ExitCode.ok
    }

    /// A signature of `statement` by a listed key, and whose key it is: from `--signature`,
    /// made with `--key`, or made by ssh-agent with a listed key it holds.
    private static func sign(
        _ statement: String, keys: [String: String], excluded: [String], actor role: String?, _ args: Arguments, _ ctx: Context
    ) throws -> (name: String, signature: String) {
        let listed: [(name: String, key: SSHPublicKey)] = keys.sorted { $0.key < $1.key }.compactMap { name, text in
            (try? SSHPublicKey(text)).map { (name, $0) }
        }
        func owner(_ key: SSHPublicKey, _ source: String) throws -> String {
            guard let found = listed.first(where: { $0.key == key }) else {
                throw CommandFailure("\(source): the key \(key.fingerprint) is not one the runbook lists for this step (\(listed.map(\.name).joined(separator: ", "))); nothing recorded")
            }
            return found.name
        }
        if let file = args["--signature"] {
            guard let text = try? String(contentsOfFile: file, encoding: .utf8) else { throw CommandFailure("--signature: \(file) cannot be read; nothing recorded") }
            do {
                return (try owner(try SSHSignature.parse(text).publicKey, file), text)
            } catch let e as KeyError {
                throw CommandFailure("--signature \(file): \(e.description); nothing recorded")
            }
        }
        let message = Array(statement.utf8)
        if let file = args["--key"] {
            do {
                let (key, publicKey) = try OpenSSHPrivateKey.read(file: file)
                let name = try owner(publicKey, file)
                return (name, try SSHSignature.sign(message, namespace: ApprovalStatement.namespace, key: key))
            } catch let e as KeyError {
                throw CommandFailure("--key \(e.description); nothing recorded")
            }
        }
        let how = "pass --key FILE (your Ed25519 private key), load it into ssh-agent, or sign what `cutover approve RUN --statement` prints with `ssh-keygen -Y sign -f KEY -n \(ApprovalStatement.namespace)` and pass --signature FILE"
        guard let socket = ctx.environment["SSH_AUTH_SOCK"], !socket.isEmpty else {
            throw CommandFailure("this step takes signed approvals only (keys are listed for \(listed.map(\.name).joined(separator: ", "))): \(how); nothing recorded")
        }
        let agent = SSHAgent(socketPath: socket)
        do {
            let held = try agent.identities()
            // The agent's first listed key that may approve: not the starter's, and on
            // PostgreSQL the role's own.
            guard let use = listed.first(where: { entry in held.contains(entry.key) && !excluded.contains(entry.name) && (role == nil || role == entry.name) }) else {
                throw CommandFailure("ssh-agent holds none of the keys listed for this step that may approve it (\(listed.map(\.name).joined(separator: ", "))): \(how); nothing recorded")
            }
            let signature = try SSHSignature.sign(message, namespace: ApprovalStatement.namespace, publicKey: use.key) { try agent.sign($0, with: use.key) }
            return (use.name, signature)
        } catch let e as KeyError {
            throw CommandFailure("\(e.description): \(how); nothing recorded")
        }
    }
}
