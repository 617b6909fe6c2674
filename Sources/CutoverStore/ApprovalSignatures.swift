import CutoverCore
import CutoverCrypto

/// Approval signatures checked with libcrypto: an OpenSSH `SSHSIG` signature, namespace
/// `cutover-approval`, by the listed Ed25519 key, of the approval statement.
public struct SSHApprovalSignatures: ApprovalSignatureChecking {
    public init() {}

    public func problem(signature: String, key: String, statement: String) -> String? {
        do {
            try SSHSignature.verify(signature, of: Array(statement.utf8), namespace: ApprovalStatement.namespace, key: try SSHPublicKey(key))
            return nil
        } catch {
            return "\(error)"
        }
    }
}
