import Foundation

/// A time zone read from the system's zoneinfo database (TZif files), not from Foundation's
/// `TimeZone`, so a schedule sees exactly the rules installed on the host that runs it.
///
/// Instants are Unix seconds. Before its first transition a zone keeps its first local time
/// type (RFC 8536); after its last transition it follows the POSIX TZ rule in the file's footer.
public struct ZoneInfo: Sendable, Equatable {
    /// The zone's name, such as "Europe/Berlin" or "UTC".
    public let identifier: String
    let table: ZoneInfoTable

    /// Coordinated Universal Time, available without any zoneinfo file.
    public static let utc = ZoneInfo(
        identifier: "UTC",
        table: ZoneInfoTable(types: [.init(offset: 0, isDaylight: false, abbreviation: "UTC")], rule: nil)
    )

    /// Where `load` looks by default: `$TZDIR` when set, else "/usr/share/zoneinfo".
    public static let defaultDirectory: String = {
        let configured = ProcessInfo.processInfo.environment["TZDIR"] ?? ""
        return configured.isEmpty ? "/usr/share/zoneinfo" : configured
    }()

    init(identifier: String, table: ZoneInfoTable) {
        self.identifier = identifier
        self.table = table
    }

    /// Loads `identifier` ("Europe/Berlin", "UTC") from `directory`.
    /// - Throws: `ZoneInfoError` when the zone does not exist there (naming the directory searched
    ///   and how to install tzdata), when its file is malformed, or when the identifier is empty,
    ///   absolute or contains `..` (path tricks are refused, not resolved).
    public static func load(_ identifier: String, directory: String = ZoneInfo.defaultDirectory) throws(ZoneInfoError) -> ZoneInfo {
        if identifier.isEmpty {
            throw .invalidIdentifier(identifier, reason: "the name is empty")
        }
        if identifier.hasPrefix("/") {
            throw .invalidIdentifier(identifier, reason: "absolute paths are refused")
        }
        if identifier.contains("..") {
            throw .invalidIdentifier(identifier, reason: "\"..\" is refused: a zone name may not climb out of the zoneinfo directory")
        }
        if identifier.contains("\0") || identifier.contains("\\") {
            throw .invalidIdentifier(identifier, reason: "it contains a NUL or backslash character")
        }
        let path = directory.hasSuffix("/") ? directory + identifier : directory + "/" + identifier
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), !isDirectory.boolValue,
            let data = FileManager.default.contents(atPath: path)
        else {
            if identifier == "UTC" { return .utc }
            throw .unknownZone(identifier, directory: directory)
        }
        return try ZoneInfo(identifier: identifier, tzif: [UInt8](data))
    }

    /// Parses the bytes of a TZif file (versions 1 to 4). For version 2 and later the 64-bit
    /// data block is used, and the POSIX TZ footer for instants after the last transition.
    /// - Throws: `ZoneInfoError` of kind `.malformed`, saying which part of the file is wrong.
    public init(identifier: String, tzif bytes: [UInt8]) throws(ZoneInfoError) {
        do {
            self.init(identifier: identifier, table: try ZoneInfoTable(tzif: bytes))
        } catch {
            throw .malformed(identifier, error.message)
        }
    }

    /// Seconds east of UTC at Unix time `instant`.
    public func offset(at instant: Int64) -> Int {
        period(at: instant).offset
    }

    /// The local abbreviation at Unix time `instant`, such as "EST" or "CEST".
    public func abbreviation(at instant: Int64) -> String {
        period(at: instant).abbreviation
    }

    /// The local time in force at `instant`: from the table, or from the footer rule past its end.
    func period(at instant: Int64) -> ZoneInfoRule.Period {
        let transitions = table.transitions
        let passed = countOfTransitions(atOrBefore: instant)
        if passed == 0 {
            if transitions.isEmpty, let rule = table.rule { return rule.period(at: instant) }
            return Self.period(of: table.types[0])
        }
        if passed == transitions.count, instant > transitions[passed - 1], let rule = table.rule {
            return rule.period(at: instant)
        }
        return Self.period(of: table.types[Int(table.typeIndices[passed - 1])])
    }

    /// The first instant strictly after `instant` at which the local time type may change.
    func nextTransition(after instant: Int64) -> Int64? {
        let passed = countOfTransitions(atOrBefore: instant)
        if passed < table.transitions.count { return table.transitions[passed] }
        return table.rule?.nextChange(after: instant)
    }

    private func countOfTransitions(atOrBefore instant: Int64) -> Int {
        var low = 0
        var high = table.transitions.count
        while low < high {
            let middle = (low + high) / 2
            if table.transitions[middle] <= instant { low = middle + 1 } else { high = middle }
        }
        return low
    }

    private static func period(of type: ZoneInfoTable.LocalType) -> ZoneInfoRule.Period {
        ZoneInfoRule.Period(abbreviation: type.abbreviation, offset: type.offset)
    }
}
