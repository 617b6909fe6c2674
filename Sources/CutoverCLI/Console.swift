import CutoverCore
import Foundation

/// Where output goes: stdout for results, stderr for diagnostics; colour only on a terminal.
///
/// Every line goes through `TerminalText`: control characters that reached it from the log
/// (a name, a note, a provider's answer) are written out visibly, so nobody who can put text
/// in the log can move the cursor or rewrite lines on someone else's screen. Only the colours
/// `paint` adds, exactly, are passed through, and only when colour is on.
struct Console: Sendable {
    let isTerminal: Bool
    let color: Bool

    init() {
        isTerminal = isatty(STDOUT_FILENO) == 1
        color = isTerminal && ProcessInfo.processInfo.environment["NO_COLOR"] == nil
            && ProcessInfo.processInfo.environment["TERM"] != "dumb"
    }

    func out(_ line: String) {
        Self.write(safe(line) + "\n", to: STDOUT_FILENO)
    }

    /// Writes one JSON value on a line, with every character a terminal could act on written as
    /// a JSON escape (`TerminalText.jsonEscaped`): valid JSON for programs, harmless on a screen.
    func json(_ value: JSONValue) {
        outRaw(TerminalText.jsonEscaped(value.canonicalString) + "\n")
    }

    /// Writes text as it is, without adding a newline: exports (JSON lines, HTML), whose own
    /// encoding escapes what they carry, written for files and programs.
    func outRaw(_ text: String) {
        Self.write(text, to: STDOUT_FILENO)
    }

    func err(_ line: String) {
        Self.write(safe(line) + "\n", to: STDERR_FILENO)
    }

    /// Writes all of `text` to `fd` as it is, unbuffered (a line reaches a log or a pipe as
    /// soon as it is written), retrying short writes and interruptions. A reader that went
    /// away (EPIPE) ends the writing; there is nobody left to tell.
    static func write(_ text: String, to fd: Int32) {
        var text = text
        text.withUTF8 { bytes in
            var offset = 0
            while offset < bytes.count {
                let n = Glibc.write(fd, bytes.baseAddress! + offset, bytes.count - offset)
                if n > 0 {
                    offset += n
                } else if n < 0, errno == EINTR {
                    continue
                } else if n < 0, errno == EAGAIN {
                    usleep(1_000)  // a non-blocking stdout that is full for now
                } else {
                    return
                }
            }
        }
    }

    /// `text` with control characters escaped, newlines (between lines of our own) and the
    /// colours of `paint` kept.
    func safe(_ text: String) -> String {
        guard color, text.contains("\u{1B}") else { return TerminalText.escaped(text, keepNewlines: true) }
        var out = ""
        var rest = Substring(text)
        while let esc = rest.firstIndex(of: "\u{1B}") {
            out += TerminalText.escaped(String(rest[..<esc]), keepNewlines: true)
            let tail = rest[esc...]
            if let sgr = Tone.sequences.first(where: { tail.hasPrefix($0) }) {
                out += sgr
                rest = tail.dropFirst(sgr.count)
            } else {
                out += "\\e"
                rest = tail.dropFirst()
            }
        }
        return out + TerminalText.escaped(String(rest), keepNewlines: true)
    }

    enum Tone: String {
        case green = "32"
        case red = "31"
        case yellow = "33"
        case cyan = "36"
        case dim = "2"
        case bold = "1"

        /// The exact sequences `paint` writes, the only ones passed to a terminal.
        static let sequences = ["\u{1B}[0m"] + [Tone.green, .red, .yellow, .cyan, .dim, .bold].map { "\u{1B}[\($0.rawValue)m" }
    }

    func paint(_ text: String, _ tone: Tone) -> String {
        color ? "\u{1B}[\(tone.rawValue)m\(text)\u{1B}[0m" : text
    }
}
