/// A signed statement that the chain ended in `hash` at global position `seq`.
public struct StoredCheckpoint: Sendable, Equatable {
    /// The checkpoint's own number, in the order checkpoints were appended.
    public let n: Int64
    public let seq: Int64
    public let hash: [UInt8]
    public let atMillis: Int64
    /// The signing key's fingerprint.
    public let key: String
    public let signature: [UInt8]

    public init(n: Int64, seq: Int64, hash: [UInt8], atMillis: Int64, key: String, signature: [UInt8]) {
        self.n = n
        self.seq = seq
        self.hash = hash
        self.atMillis = atMillis
        self.key = key
        self.signature = signature
    }
}

/// A checkpoint before the store has numbered it.
public struct CheckpointDraft: Sendable, Equatable {
    public let seq: Int64
    public let hash: [UInt8]
    public let atMillis: Int64
    public let key: String
    public let signature: [UInt8]

    public init(seq: Int64, hash: [UInt8], atMillis: Int64, key: String, signature: [UInt8]) {
        self.seq = seq
        self.hash = hash
        self.atMillis = atMillis
        self.key = key
        self.signature = signature
    }
}
