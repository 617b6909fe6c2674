import CutoverCore
import CutoverCrypto

extension StoredCheckpoint {
    /// The bytes signed: `cutover-checkpoint:v1:<seq>:<hash hex>:<at ms>:<key>`.
    public static func message(seq: Int64, hash: [UInt8], atMillis: Int64, key: String) -> [UInt8] {
        Array("cutover-checkpoint:v1:\(seq):\(Hex.encode(hash)):\(atMillis):\(key)".utf8)
    }

    public var message: [UInt8] { Self.message(seq: seq, hash: hash, atMillis: atMillis, key: key) }
}
