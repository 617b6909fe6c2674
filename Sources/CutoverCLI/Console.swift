import Foundation

/// Where output goes: stdout for results, stderr for diagnostics; colour only on a terminal.
struct Console: Sendable {
    let isTerminal: Bool
    let color: Bool

    init() {
        isTerminal = isatty(STDOUT_FILENO) == 1
        color = isTerminal && ProcessInfo.processInfo.environment["NO_COLOR"] == nil
            && ProcessInfo.processInfo.environment["TERM"] != "dumb"
    }

    func out(_ line: String) {
        FileHandle.standardOutput.write(Data((line + "\n").utf8))
    }

    /// Writes text as it is, without adding a newline (exports).
    func outRaw(_ text: String) {
        FileHandle.standardOutput.write(Data(text.utf8))
    }

    func err(_ line: String) {
        FileHandle.standardError.write(Data((line + "\n").utf8))
    }

    enum Tone: String {
        case green = "32"
        case red = "31"
        case yellow = "33"
        case cyan = "36"
        case dim = "2"
        case bold = "1"
    }

    func paint(_ text: String, _ tone: Tone) -> String {
        color ? "\u{1B}[\(tone.rawValue)m\(text)\u{1B}[0m" : text
    }
}
