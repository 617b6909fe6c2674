// From a local wall-clock reading back to instants. Around a daylight saving change a reading
// can happen twice (clocks went back) or never (clocks jumped over it), so the answer is one of
// three shapes rather than a number.

/// What a local wall-clock time is in UTC: one instant, two, or none.
public enum LocalTime: Sendable, Equatable {
    /// The local time happens exactly once, at this instant.
    case unique(Int64)
    /// The clocks went back over this local time, so it happens twice.
    case repeated(first: Int64, second: Int64)
    /// The clocks jumped over this local time; `jumpAt` is the instant of that transition.
    case skipped(jumpAt: Int64)
}

extension ZoneInfo {
    /// How far either side of a local reading its instants can lie: more than any UTC offset.
    static let resolveReach: Int64 = 2 * CivilDate.secondsPerDay

    /// Resolves a local wall-clock time, given as seconds since 1970-01-01T00:00 *as if UTC*,
    /// to the instants at which the zone's clocks show it.
    public func resolve(local: Int64) -> LocalTime {
        var start = local - Self.resolveReach
        var offset = Int64(self.offset(at: start))
        var found: [Int64] = []
        var jumpAt: Int64?
        // Walk the spans of constant offset around the reading; each holds at most one answer.
        while start <= local + Self.resolveReach {
            let next = nextTransition(after: start)
            let candidate = local - offset
            if candidate >= start, next.map({ candidate < $0 }) ?? true { found.append(candidate) }
            guard let next else { break }
            let after = Int64(self.offset(at: next))
            if local >= next + offset, local < next + after { jumpAt = next }
            start = next
            offset = after
        }
        switch found.count {
        case 0: return .skipped(jumpAt: jumpAt ?? local - Int64(self.offset(at: local)))
        case 1: return .unique(found[0])
        default: return .repeated(first: found[0], second: found[1])
        }
    }
}

/// Resolves many nearby local times quickly: it remembers the last stretch of local time with
/// no transition within reach, where resolving is a subtraction. Used by the cron search,
/// which resolves every candidate minute it visits.
struct ZoneInfoResolver {
    let zone: ZoneInfo
    private var quietFrom: Int64 = 1
    private var quietUntil: Int64 = 0
    private var quietOffset: Int64 = 0

    init(zone: ZoneInfo) {
        self.zone = zone
    }

    mutating func resolve(local: Int64) -> LocalTime {
        if local >= quietFrom, local < quietUntil { return .unique(local - quietOffset) }
        let start = local - ZoneInfo.resolveReach
        let next = zone.nextTransition(after: start)
        guard next.map({ $0 > local + ZoneInfo.resolveReach }) ?? true else {
            return zone.resolve(local: local)
        }
        quietFrom = local
        quietUntil = next.map { $0 - ZoneInfo.resolveReach } ?? .max
        quietOffset = Int64(zone.offset(at: start))
        return .unique(local - quietOffset)
    }

    /// The lowest UTC offset the zone uses from `instant` over the following `span` seconds.
    func lowestOffset(from instant: Int64, span: Int64) -> Int64 {
        var lowest = Int64(zone.offset(at: instant))
        var cursor = instant
        while let next = zone.nextTransition(after: cursor), next <= instant + span {
            lowest = min(lowest, Int64(zone.offset(at: next)))
            cursor = next
        }
        return lowest
    }
}
