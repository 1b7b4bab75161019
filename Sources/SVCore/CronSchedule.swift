/// A cron expression (`--cron-restart`): five fields (minute hour day-of-month month
/// day-of-week), six with seconds first (pm2 accepts it), or `@hourly`-style names. Its next
/// firing is computed in local time from `TimeZoneRules`, across DST changes (docs/limits.md).
public struct CronSchedule: Hashable, Sendable {
    public let expression: String
    var seconds: UInt64 = 0
    var minutes: UInt64 = 0
    var hours: UInt64 = 0
    /// Bits 1…31.
    var days: UInt64 = 0
    /// Bits 1…12.
    var months: UInt64 = 0
    /// Bits 0…6, Sunday 0.
    var weekdays: UInt64 = 0
    var daysRestricted = false
    var weekdaysRestricted = false

    public struct Problem: Error, Equatable, Sendable, CustomStringConvertible {
        public var description: String
        init(_ description: String) { self.description = description }
    }

    static let macros: [String: String] = [
        "@yearly": "0 0 1 1 *", "@annually": "0 0 1 1 *", "@monthly": "0 0 1 * *", "@weekly": "0 0 * * 0",
        "@daily": "0 0 * * *", "@midnight": "0 0 * * *", "@hourly": "0 * * * *",
    ]
    static let monthNames = ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"]
    static let dayNames = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"]

    public init(parsing text: String) throws(Problem) {
        expression = text
        let trimmed = text.split(separator: " ", omittingEmptySubsequences: true).joined(separator: " ")
        let source = Self.macros[trimmed.lowercased()] ?? trimmed
        if source.hasPrefix("@") {
            throw Problem("unknown cron name '\(trimmed)' (use @yearly, @monthly, @weekly, @daily or @hourly)")
        }
        var fields = source.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
        guard fields.count == 5 || fields.count == 6 else {
            throw Problem(
                "'\(text)' has \(fields.count) fields; a cron expression has 5 (minute hour day month weekday) or 6 (seconds first)")
        }
        if fields.count == 5 { fields.insert("0", at: 0) }
        seconds = try Self.field(fields[0], "seconds", 0...59)
        minutes = try Self.field(fields[1], "minute", 0...59)
        hours = try Self.field(fields[2], "hour", 0...23)
        days = try Self.field(fields[3], "day of month", 1...31)
        months = try Self.field(fields[4], "month", 1...12, names: Self.monthNames, firstName: 1)
        weekdays = try Self.field(fields[5], "day of week", 0...7, names: Self.dayNames, firstName: 0)
        if weekdays & (1 << 7) != 0 { weekdays = (weekdays | 1) & ~(1 << 7) }  // 7 is Sunday too
        daysRestricted = !Self.isWildcard(fields[3])
        weekdaysRestricted = !Self.isWildcard(fields[5])
    }

    static func isWildcard(_ field: String) -> Bool { field == "*" || field == "?" }

    /// One field: `*`, `?`, `5`, `1-5`, `*/15`, `10-40/10`, lists of those, and names.
    static func field(
        _ text: String, _ label: String, _ range: ClosedRange<Int>, names: [String] = [], firstName: Int = 0
    ) throws(Problem) -> UInt64 {
        func value(_ word: Substring) throws(Problem) -> Int {
            if let n = Int(word) {
                guard range.contains(n) else {
                    throw Problem("\(label) \(n) is out of range \(range.lowerBound)-\(range.upperBound)")
                }
                return n
            }
            if let index = names.firstIndex(of: word.uppercased()) { return index + firstName }
            throw Problem("'\(word)' is not a valid \(label)")
        }
        var bits: UInt64 = 0
        for item in text.split(separator: ",", omittingEmptySubsequences: false) {
            let parts = item.split(separator: "/", omittingEmptySubsequences: false)
            guard parts.count <= 2, !parts[0].isEmpty else { throw Problem("'\(item)' is not a valid \(label)") }
            var step = 1
            if parts.count == 2 {
                guard let n = Int(parts[1]), n > 0 else { throw Problem("'\(parts[1])' is not a valid step in \(label)") }
                step = n
            }
            var low: Int
            var high: Int
            if parts[0] == "*" || parts[0] == "?" {
                low = range.lowerBound
                high = range.upperBound
            } else if let dash = parts[0].firstIndex(of: "-") {
                low = try value(parts[0][..<dash])
                high = try value(parts[0][parts[0].index(after: dash)...])
                guard low <= high else { throw Problem("\(label) range \(parts[0]) goes backwards") }
            } else {
                low = try value(parts[0])
                // `5/10`: from 5 to the end, every 10.
                high = parts.count == 2 ? range.upperBound : low
            }
            for n in stride(from: low, through: high, by: step) { bits |= 1 << UInt64(n) }
        }
        return bits
    }

    func has(_ set: UInt64, _ n: Int) -> Bool { set & (1 << UInt64(n)) != 0 }

    /// Standard cron: with both day fields restricted, either one matches.
    func dayMatches(year: Int, month: Int, day: Int) -> Bool {
        let weekday = CivilDate.weekday(days: CivilDate.days(year: year, month: month, day: day))
        let byDay = has(days, day)
        let byWeekday = has(weekdays, weekday)
        if daysRestricted && weekdaysRestricted { return byDay || byWeekday }
        return byDay && byWeekday
    }

    /// The first local time at or after `local` (seconds since the epoch, local) that matches,
    /// within about eight years; nil if none (`0 0 30 2 *`).
    func nextLocal(atOrAfter local: Int64) -> Int64? {
        var day = local.floorDivided(by: 86_400)
        var from = Int(local.floorModulo(86_400))
        for _ in 0..<(8 * 366) {
            let date = CivilDate(days: day)
            if has(months, date.month), dayMatches(year: date.year, month: date.month, day: date.day),
                let time = firstTimeOfDay(atOrAfter: from)
            {
                return day * 86_400 + Int64(time)
            }
            day += 1
            from = 0
        }
        return nil
    }

    /// The first second of a day at or after `from` whose hour, minute and second match.
    func firstTimeOfDay(atOrAfter from: Int) -> Int? {
        let (hour, minute, second) = (from / 3600, from / 60 % 60, from % 60)
        for h in hour..<24 where has(hours, h) {
            for m in (h == hour ? minute : 0)..<60 where has(minutes, m) {
                let first = h == hour && m == minute ? second : 0
                if let s = (first..<60).first(where: { has(seconds, $0) }) { return h * 3600 + m * 60 + s }
            }
        }
        return nil
    }

    /// The first firing after the UTC instant `t` (seconds since the epoch), nil if it never
    /// fires. A local time the clocks skip (spring forward) fires once, when they jump; a local
    /// time that happens twice (fall back) fires once, the first time.
    public func next(after t: Int64, in zone: TimeZoneRules) -> Int64? {
        var local = t + Int64(zone.offset(at: t)) + 1
        for _ in 0..<10_000 {
            guard let match = nextLocal(atOrAfter: local) else { return nil }
            let instants = zone.instants(forLocal: match)
            // A repeated local time counts once, at its first instant: computed again during
            // the repeated hour, the schedule does not fire for the second pass.
            if let first = instants.first {
                if first > t { return first }
                local = match + 1
                continue
            }
            let jump = zone.firstInstant(afterLocal: match)
            if jump > t { return jump }
            local = match + 1
        }
        return nil
    }
}
