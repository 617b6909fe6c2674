/// Reads the step a stored `StepNote` names straight from its canonical bytes,
/// `{"message":"...","step":"ID"}`, without decoding the message: the fold of a run with
/// thousands of notes spends its time here. Anything not in exactly that shape (escapes in
/// the step, other keys, a broken string) returns nil and is decoded the ordinary way, which
/// says what is wrong.
public struct StepNoteBytes {
    /// The last step read and its bytes: notes come in runs of the same step.
    private var lastBytes: [UInt8] = []
    private var last = ""

    public init() {}

    public static func isNote(_ type: UnsafeRawBufferPointer) -> Bool {
        type.elementsEqual("StepNote".utf8)
    }

    private static let head = Array(#"{"message":""#.utf8)
    private static let stepKey = Array(#","step":""#.utf8)

    public mutating func step(of body: UnsafeRawBufferPointer) -> String? {
        let n = body.count
        guard n > Self.head.count + Self.stepKey.count + 2, body.starts(with: Self.head) else { return nil }
        // The message: a JSON string, escapes stepped over, ending at its first bare quote.
        var i = Self.head.count
        while i < n {
            let c = body[i]
            if c == UInt8(ascii: "\"") { break }
            if c < 0x20 { return nil }
            i += c == UInt8(ascii: "\\") ? 2 : 1
        }
        guard i < n else { return nil }
        i += 1
        // Then exactly ,"step":"ID"} with a plain ID.
        guard n - i > Self.stepKey.count + 2 else { return nil }
        for (k, c) in Self.stepKey.enumerated() where body[i + k] != c { return nil }
        let start = i + Self.stepKey.count
        guard body[n - 1] == UInt8(ascii: "}"), body[n - 2] == UInt8(ascii: "\"") else { return nil }
        let end = n - 2
        guard start < end else { return nil }
        for k in start..<end {
            let c = body[k]
            if c == UInt8(ascii: "\"") || c == UInt8(ascii: "\\") || c < 0x20 { return nil }
        }
        let id = UnsafeRawBufferPointer(rebasing: body[start..<end])
        if !id.elementsEqual(lastBytes) {
            lastBytes = Array(id)
            last = String(decoding: id, as: UTF8.self)
        }
        return last
    }
}
