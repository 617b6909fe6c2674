// Reading TZif files (RFC 8536), versions 1 to 4. Version 2 and later repeat the data with
// 64-bit times after the version 1 block and end with a POSIX TZ footer; only that second
// block and the footer are used when present. Leap-second records are skipped: schedules run
// on civil time, which ignores leap seconds.

/// The contents of a TZif file: the transition table and the footer rule that follows it.
struct ZoneInfoTable: Sendable, Equatable {
    /// One of the file's local time types.
    struct LocalType: Sendable, Equatable {
        /// Seconds east of UTC.
        var offset: Int
        var isDaylight: Bool
        var abbreviation: String
    }

    /// Instants (Unix seconds) at which the local time type changes, strictly increasing.
    var transitions: [Int64] = []
    /// For each transition, the index in `types` of the type that starts there.
    var typeIndices: [UInt8] = []
    /// The local time types; type 0 applies before the first transition (RFC 8536 3.2).
    var types: [LocalType]
    /// The footer's rule for instants after the last transition; nil for version 1 files.
    var rule: ZoneInfoRule?
}

/// Why a TZif file could not be read; the zone loader wraps it into a `ZoneInfoError`.
struct ZoneInfoFormatError: Error, Sendable, Equatable {
    var message: String
}

extension ZoneInfoTable {
    /// Parses the bytes of a TZif file.
    /// - Throws: `ZoneInfoFormatError` saying which part of the file is wrong.
    init(tzif bytes: [UInt8]) throws(ZoneInfoFormatError) {
        var reader = TZifReader(bytes: bytes)
        let first = try reader.header()
        guard first.version != 0 else {
            self = try reader.block(first, timeSize: 4)
            return
        }
        try reader.skip(first.blockSize(timeSize: 4), what: "the version 1 data block")
        let second = try reader.header()
        self = try reader.block(second, timeSize: 8)
        rule = try reader.footer()
    }
}

/// A cursor over TZif bytes, reading big-endian integers.
private struct TZifReader {
    struct Header {
        var version: UInt8
        var isUTCCount, isStandardCount, leapCount, timeCount, typeCount, charCount: Int

        func blockSize(timeSize: Int) -> Int {
            timeCount * (timeSize + 1) + typeCount * 6 + charCount + leapCount * (timeSize + 4)
                + isStandardCount + isUTCCount
        }
    }

    let bytes: [UInt8]
    var index = 0

    mutating func take(_ count: Int, what: String) throws(ZoneInfoFormatError) -> ArraySlice<UInt8> {
        guard count >= 0, bytes.count - index >= count else {
            throw ZoneInfoFormatError(message: "the file ends early, inside \(what) (byte \(index) of \(bytes.count))")
        }
        defer { index += count }
        return bytes[index..<index + count]
    }

    mutating func skip(_ count: Int, what: String) throws(ZoneInfoFormatError) {
        _ = try take(count, what: what)
    }

    mutating func integer(_ size: Int, what: String) throws(ZoneInfoFormatError) -> Int64 {
        let raw = try take(size, what: what).reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
        let shift = UInt64(64 - size * 8)
        return Int64(bitPattern: raw << shift) >> Int64(shift)  // sign-extend
    }

    mutating func header() throws(ZoneInfoFormatError) -> Header {
        guard Array(try take(4, what: "the header")) == Array("TZif".utf8) else {
            throw ZoneInfoFormatError(message: "it does not start with \"TZif\"")
        }
        let version = try take(1, what: "the header").first ?? 0
        guard version == 0 || (UInt8(ascii: "2")...UInt8(ascii: "4")).contains(version) else {
            throw ZoneInfoFormatError(message: "unknown TZif version byte \(version)")
        }
        try skip(15, what: "the header")
        var counts: [Int] = []
        for _ in 0..<6 { counts.append(Int(try integer(4, what: "the header") & 0xFFFF_FFFF)) }
        let header = Header(
            version: version, isUTCCount: counts[0], isStandardCount: counts[1], leapCount: counts[2],
            timeCount: counts[3], typeCount: counts[4], charCount: counts[5]
        )
        guard header.typeCount >= 1, header.charCount >= 1 else {
            throw ZoneInfoFormatError(message: "the header declares no local time types or no abbreviations")
        }
        guard [0, header.typeCount].contains(header.isUTCCount), [0, header.typeCount].contains(header.isStandardCount) else {
            throw ZoneInfoFormatError(message: "the header's standard/UT indicator counts do not match its type count")
        }
        return header
    }

    mutating func block(_ header: Header, timeSize: Int) throws(ZoneInfoFormatError) -> ZoneInfoTable {
        var transitions: [Int64] = []
        for _ in 0..<header.timeCount {
            let instant = try integer(timeSize, what: "the transition times")
            if let last = transitions.last, instant <= last {
                throw ZoneInfoFormatError(message: "transition times are not in increasing order")
            }
            transitions.append(instant)
        }
        let typeIndices = Array(try take(header.timeCount, what: "the transition types"))
        guard typeIndices.allSatisfy({ Int($0) < header.typeCount }) else {
            throw ZoneInfoFormatError(message: "a transition refers to a local time type that does not exist")
        }
        var records: [(offset: Int, isDaylight: Bool, abbreviationIndex: Int)] = []
        for _ in 0..<header.typeCount {
            let offset = Int(try integer(4, what: "the local time types"))
            let flags = try take(2, what: "the local time types")
            records.append((offset, flags[flags.startIndex] != 0, Int(flags[flags.startIndex + 1])))
        }
        let characters = Array(try take(header.charCount, what: "the abbreviations"))
        let types = try records.map { record throws(ZoneInfoFormatError) in
            guard record.abbreviationIndex < characters.count else {
                throw ZoneInfoFormatError(message: "a local time type's abbreviation lies outside the abbreviation table")
            }
            let tail = characters[record.abbreviationIndex...]
            let name = tail.prefix { $0 != 0 }
            return ZoneInfoTable.LocalType(
                offset: record.offset, isDaylight: record.isDaylight, abbreviation: String(decoding: name, as: UTF8.self)
            )
        }
        try skip(header.leapCount * (timeSize + 4) + header.isStandardCount + header.isUTCCount, what: "the indicators")
        return ZoneInfoTable(transitions: transitions, typeIndices: typeIndices, types: types, rule: nil)
    }

    /// The footer: a POSIX TZ string between two newlines; empty means "no rule".
    mutating func footer() throws(ZoneInfoFormatError) -> ZoneInfoRule? {
        guard try take(1, what: "the footer").first == UInt8(ascii: "\n") else {
            throw ZoneInfoFormatError(message: "the footer does not start with a newline")
        }
        guard let close = bytes[index...].firstIndex(of: UInt8(ascii: "\n")) else {
            throw ZoneInfoFormatError(message: "the footer does not end with a newline")
        }
        let text = String(decoding: bytes[index..<close], as: UTF8.self)
        index = close + 1
        guard !text.isEmpty else { return nil }
        do {
            return try ZoneInfoRule(parsing: text)
        } catch {
            throw ZoneInfoFormatError(message: "its footer is not a valid POSIX TZ string: \(error.message)")
        }
    }
}
