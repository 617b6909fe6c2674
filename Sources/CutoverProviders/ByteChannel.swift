import Foundation

/// A bounded pipe between two transfers running on their own threads: a download writes into
/// it, an upload reads out of it, and neither holds more than `capacity` bytes, whatever the
/// size of the object. Either side can fail it, which wakes the other.
public final class ByteChannel: @unchecked Sendable {
    public let capacity: Int
    private let condition = NSCondition()
    private var chunks: [[UInt8]] = []
    private var head = 0  // bytes of chunks[0] already read
    private var buffered = 0
    private var ended = false
    private var failed: Error?
    /// Checked once when the reader reaches the end: an error there aborts the upload before
    /// its last byte, so the server stores nothing (the copy's digest did not match).
    private var atEnd: (@Sendable () -> Error?)?

    public init(capacity: Int = 8 << 20, atEnd: (@Sendable () -> Error?)? = nil) {
        self.capacity = capacity
        self.atEnd = atEnd
    }

    /// What failed the channel, if anything did.
    public var failure: Error? {
        condition.lock()
        defer { condition.unlock() }
        return failed
    }

    /// Whether the writer said every byte is in.
    public var writerFinished: Bool {
        condition.lock()
        defer { condition.unlock() }
        return ended
    }

    /// Blocks while the channel is full. False when it failed (the writer should stop).
    public func write(_ bytes: UnsafeRawBufferPointer) -> Bool {
        guard bytes.count > 0 else { return true }
        condition.lock()
        defer { condition.unlock() }
        while failed == nil && buffered >= capacity { condition.wait() }
        guard failed == nil, !ended else { return false }
        chunks.append(Array(bytes))
        buffered += bytes.count
        condition.broadcast()
        return true
    }

    /// The writer is done: every byte is in.
    public func finish() {
        condition.lock()
        ended = true
        condition.broadcast()
        condition.unlock()
    }

    /// Stops both sides with `error` (the first failure is kept).
    public func fail(_ error: Error) {
        condition.lock()
        if failed == nil { failed = error }
        condition.broadcast()
        condition.unlock()
    }

    /// Blocks while the channel is empty. The number of bytes copied into `buffer`, 0 at the
    /// end, nil when it failed.
    public func read(into buffer: UnsafeMutableRawBufferPointer) -> Int? {
        condition.lock()
        while failed == nil && buffered == 0 && !ended { condition.wait() }
        if failed != nil {
            condition.unlock()
            return nil
        }
        if buffered == 0 {
            let check = atEnd
            atEnd = nil
            condition.unlock()
            if let error = check?() {
                fail(error)
                return nil
            }
            return 0
        }
        var copied = 0
        while copied < buffer.count, !chunks.isEmpty {
            let n = chunks[0].withUnsafeBytes { chunk in
                let n = min(chunk.count - head, buffer.count - copied)
                UnsafeMutableRawBufferPointer(rebasing: buffer[copied..<copied + n]).copyMemory(from: UnsafeRawBufferPointer(rebasing: chunk[head..<head + n]))
                return n
            }
            copied += n
            head += n
            if head == chunks[0].count {
                chunks.removeFirst()
                head = 0
            }
        }
        buffered -= copied
        condition.broadcast()
        condition.unlock()
        return copied
    }
}

/// A request body of exactly `length` bytes from a channel, for an upload of known size.
/// Before it hands over the bytes that complete the body it makes sure the channel has ended
/// there and its end check passed: a copy that fails the check never sends its last byte, so
/// the store never completes the object. Read on one thread only (curl's).
public final class ChannelBody: @unchecked Sendable {
    public let length: Int64
    public let channel: ByteChannel
    private var sent: Int64 = 0

    public init(_ channel: ByteChannel, length: Int64) {
        self.channel = channel
        self.length = length
    }

    /// What curl's read callback returns: bytes put in `buffer`, 0 at the end, nil to abort.
    public func read(into buffer: UnsafeMutableRawBufferPointer) -> Int? {
        guard sent < length else { return 0 }
        let want = Int(min(Int64(buffer.count), length - sent))
        guard let n = channel.read(into: UnsafeMutableRawBufferPointer(rebasing: buffer[..<want])) else { return nil }
        if n == 0 {
            channel.fail(CopyError(reason: "the source ended after \(sent) of \(length) bytes"))
            return nil
        }
        if sent + Int64(n) == length {
            var probe: UInt8 = 0
            let more = withUnsafeMutableBytes(of: &probe) { channel.read(into: $0) }
            guard more == 0 else {
                if more != nil { channel.fail(CopyError(reason: "the source has more than \(length) bytes")) }
                return nil
            }
        }
        sent += Int64(n)
        return n
    }
}

/// A copy between stores that went wrong in the bytes (too few, too many, the wrong digest).
public struct CopyError: Error, Sendable, CustomStringConvertible {
    public var reason: String
    public init(reason: String) { self.reason = reason }
    public var description: String { reason }
}
