/// Why a time zone could not be loaded, worded for the engineer who has to fix it.
public struct ZoneInfoError: Error, Sendable, Equatable, CustomStringConvertible {
    /// What went wrong, for callers that react differently to each.
    public enum Kind: Sendable, Equatable {
        /// No zoneinfo file of that name in the directory searched.
        case unknownZone
        /// The identifier is not a zone name (empty, absolute, or climbing out with `..`).
        case invalidIdentifier
        /// The file exists but is not a TZif file this reader understands.
        case malformed
    }

    public let kind: Kind
    /// The zone as the caller named it.
    public let identifier: String
    /// The full explanation, including what to do next.
    public let message: String

    public var description: String { message }

    static func unknownZone(_ identifier: String, directory: String) -> ZoneInfoError {
        ZoneInfoError(
            kind: .unknownZone, identifier: identifier,
            message: "unknown time zone \"\(identifier)\": there is no file \(directory)/\(identifier). "
                + "Check the spelling (names look like \"Europe/Berlin\" or \"UTC\"; list them with "
                + "`ls \(directory)`), or install the time zone database (`apt-get install tzdata`) "
                + "or point TZDIR at the directory that holds it."
        )
    }

    static func invalidIdentifier(_ identifier: String, reason: String) -> ZoneInfoError {
        ZoneInfoError(
            kind: .invalidIdentifier, identifier: identifier,
            message: "invalid time zone name \"\(identifier)\": \(reason). "
                + "Use a name relative to the zoneinfo directory, such as \"America/New_York\" or \"UTC\"."
        )
    }

    static func malformed(_ identifier: String, _ reason: String) -> ZoneInfoError {
        ZoneInfoError(
            kind: .malformed, identifier: identifier,
            message: "time zone \"\(identifier)\" could not be read: \(reason). The zoneinfo file is "
                + "damaged or not a TZif file; reinstall the time zone database (`apt-get install --reinstall tzdata`)."
        )
    }
}
