/// Why a cron expression was refused: which field, where in the text, and what was expected.
///
/// The description reads like `cron "0 25 * * *": field 2 (hour), position 3: 25 is out of
/// range 0-23`, so it can go straight into a validation report or a CLI error line.
public struct CronError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The expression exactly as given (positions count in it).
    public let expression: String
    /// The 1-based field number (1 minute ... 5 day of week), or nil when no single field is at fault.
    public let field: Int?
    /// "minute", "hour", "day of month", "month" or "day of week", matching `field`.
    public let fieldName: String?
    /// The 1-based character position in `expression` where the problem starts, when there is one.
    public let position: Int?
    /// What is wrong and what was expected instead.
    public let message: String

    public init(expression: String, field: Int?, fieldName: String?, position: Int?, message: String) {
        self.expression = expression
        self.field = field
        self.fieldName = fieldName
        self.position = position
        self.message = message
    }

    public var description: String {
        var location: [String] = []
        if let field, let fieldName { location.append("field \(field) (\(fieldName))") }
        if let position { location.append("position \(position)") }
        let prefix = location.isEmpty ? "" : location.joined(separator: ", ") + ": "
        return "cron \"\(expression)\": \(prefix)\(message)"
    }
}
