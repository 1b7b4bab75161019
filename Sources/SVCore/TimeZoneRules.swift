/// A time zone's offsets from UTC over time: the transitions of a TZif file (`/etc/localtime`,
/// `/usr/share/zoneinfo/…`) and, past its last transition, its POSIX rule (the TZif footer, or
/// `TZ=CET-1CEST,M3.5.0,M10.5.0/3`). Pure: SVLinux reads the bytes.
public struct TimeZoneRules: Sendable, Equatable {
    /// UTC seconds at which `offsets[i]` begins.
    var transitions: [Int64] = []
    /// Seconds east of UTC from each transition on.
    var offsets: [Int32] = []
    /// Before the first transition.
    var initialOffset: Int32 = 0
    /// After the last transition (or always, without transitions).
    var rule: PosixRule?

    public static let utc = TimeZoneRules(transitions: [], offsets: [], initialOffset: 0, rule: nil)

    init(transitions: [Int64], offsets: [Int32], initialOffset: Int32, rule: PosixRule?) {
        self.transitions = transitions
        self.offsets = offsets
        self.initialOffset = initialOffset
        self.rule = rule
    }

    /// Seconds east of UTC at the UTC instant `t` (seconds since the epoch).
    public func offset(at t: Int64) -> Int32 {
        if let last = transitions.last, t >= last, let rule { return rule.offset(at: t) }
        if transitions.isEmpty { return rule?.offset(at: t) ?? initialOffset }
        guard t >= transitions[0] else { return initialOffset }
        // The last transition at or before t.
        var low = 0
        var high = transitions.count - 1
        while low < high {
            let middle = (low + high + 1) / 2
            if transitions[middle] <= t { low = middle } else { high = middle - 1 }
        }
        return offsets[low]
    }

    /// The UTC instants whose local time is `local` (local seconds since the epoch): one, two
    /// (a time repeated when clocks go back), or none (a time skipped when they go forward).
    public func instants(forLocal local: Int64) -> [Int64] {
        var candidates: Set<Int32> = []
        for probe in [local - 2 * 86_400, local - 86_400, local, local + 86_400] { candidates.insert(offset(at: probe)) }
        return candidates.map { local - Int64($0) }.filter { Int64(offset(at: $0)) == local - $0 }.sorted()
    }

    /// The first UTC instant whose local time is after `local`, for a local time that does not
    /// exist (the moment the clocks jump over it).
    public func firstInstant(afterLocal local: Int64) -> Int64 {
        // Between local − (largest offset) and local − (smallest offset), the offset changes once.
        var low = local - 2 * 86_400
        var high = local + 2 * 86_400
        while low < high {
            let middle = low + (high - low) / 2
            if middle + Int64(offset(at: middle)) > local { high = middle } else { low = middle + 1 }
        }
        return low
    }

    // MARK: - Reading

    public struct Problem: Error, Equatable, Sendable, CustomStringConvertible {
        public var description: String
        init(_ description: String) { self.description = description }
    }

    /// A POSIX TZ string: `UTC0`, `EST5EDT,M3.2.0,M11.1.0`, `<+0330>-3:30`.
    public init(posix: String) throws(Problem) {
        guard let rule = PosixRule(parsing: posix) else { throw Problem("'\(posix)' is not a POSIX TZ rule") }
        self.rule = rule
        initialOffset = rule.standardOffset
    }

    /// The contents of a TZif file (RFC 8536), version 1, 2 or 3.
    public init(tzif bytes: [UInt8]) throws(Problem) {
        var reader = Reader(bytes: bytes)
        guard let header = reader.header() else { throw Problem("not a TZif file") }
        if header.version >= 2 {
            // Skip the 32-bit block; the 64-bit one follows, with its own header, then the footer.
            reader.skip(header.length(timeSize: 4))
            guard let header64 = reader.header(), let body = reader.body(header64, timeSize: 8) else {
                throw Problem("truncated TZif file")
            }
            (transitions, offsets, initialOffset) = body
            if let footer = reader.footer(), !footer.isEmpty { rule = PosixRule(parsing: footer) }
        } else {
            guard let body = reader.body(header, timeSize: 4) else { throw Problem("truncated TZif file") }
            (transitions, offsets, initialOffset) = body
        }
    }

    struct Header {
        var version: Int
        var isutcnt, isstdcnt, leapcnt, timecnt, typecnt, charcnt: Int

        func length(timeSize: Int) -> Int {
            timecnt * timeSize + timecnt + typecnt * 6 + charcnt + leapcnt * (timeSize + 4) + isstdcnt + isutcnt
        }
    }

    struct Reader {
        let bytes: [UInt8]
        var position = 0

        mutating func skip(_ n: Int) { position += n }

        mutating func integer(_ size: Int) -> Int64? {
            guard position + size <= bytes.count else { return nil }
            var value: Int64 = 0
            for byte in bytes[position..<(position + size)] { value = value << 8 | Int64(byte) }
            position += size
            // Sign-extend.
            let shift = Int64(64 - 8 * size)
            return (value << shift) >> shift
        }

        mutating func header() -> Header? {
            guard position + 44 <= bytes.count, Array(bytes[position..<(position + 4)]) == Array("TZif".utf8) else { return nil }
            let versionByte = bytes[position + 4]
            let version = versionByte == 0 ? 1 : Int(versionByte) - 48
            position += 20
            guard let isut = integer(4), let isstd = integer(4), let leap = integer(4), let time = integer(4),
                let type = integer(4), let chars = integer(4)
            else { return nil }
            return Header(
                version: version, isutcnt: Int(isut), isstdcnt: Int(isstd), leapcnt: Int(leap), timecnt: Int(time),
                typecnt: Int(type), charcnt: Int(chars))
        }

        mutating func body(_ header: Header, timeSize: Int) -> ([Int64], [Int32], Int32)? {
            guard position + header.length(timeSize: timeSize) <= bytes.count, header.typecnt > 0 else { return nil }
            var times: [Int64] = []
            for _ in 0..<header.timecnt { times.append(integer(timeSize) ?? 0) }
            var indices: [Int] = []
            for _ in 0..<header.timecnt { indices.append(Int(integer(1).map { UInt8(truncatingIfNeeded: $0) } ?? 0)) }
            var types: [Int32] = []
            for _ in 0..<header.typecnt {
                types.append(Int32(truncatingIfNeeded: integer(4) ?? 0))
                skip(2)  // isdst, abbreviation index
            }
            skip(header.charcnt + header.leapcnt * (timeSize + 4) + header.isstdcnt + header.isutcnt)
            let offsets = indices.map { $0 < types.count ? types[$0] : types[0] }
            return (times, offsets, types[0])
        }

        mutating func footer() -> String? {
            guard position < bytes.count, bytes[position] == 0x0A else { return nil }
            let start = position + 1
            guard let end = bytes[start...].firstIndex(of: 0x0A) else { return nil }
            return String(decoding: bytes[start..<end], as: UTF8.self)
        }
    }
}

/// A POSIX TZ rule: standard offset, and optionally a daylight offset with its start and end.
struct PosixRule: Sendable, Equatable {
    /// Seconds east of UTC.
    var standardOffset: Int32
    var daylight: Daylight?

    struct Daylight: Sendable, Equatable {
        var offset: Int32
        var start: DateRule
        var end: DateRule
    }

    /// `Mm.w.d[/time]`, `Jn[/time]` or `n[/time]`; `time` is local, in seconds (may exceed 24 h).
    enum DateRule: Sendable, Equatable {
        case monthWeekDay(month: Int, week: Int, weekday: Int, time: Int64)
        case julianNoLeap(day: Int, time: Int64)
        case zeroBased(day: Int, time: Int64)

        /// The local seconds since the epoch at which the rule fires in `year`.
        func localSeconds(in year: Int) -> Int64 {
            switch self {
            case .monthWeekDay(let month, let week, let weekday, let time):
                let first = CivilDate.days(year: year, month: month, day: 1)
                let firstWeekday = CivilDate.weekday(days: first)
                var day = 1 + (weekday - firstWeekday + 7) % 7 + (week - 1) * 7
                let length = CivilDate.daysIn(year: year, month: month)
                while day > length { day -= 7 }
                return (first + Int64(day - 1)) * 86_400 + time
            case .julianNoLeap(let day, let time):
                // 1…365, February 29 never counted.
                var days = CivilDate.days(year: year, month: 1, day: 1) + Int64(day - 1)
                if CivilDate.isLeap(year) && day >= 60 { days += 1 }
                return days * 86_400 + time
            case .zeroBased(let day, let time):
                return (CivilDate.days(year: year, month: 1, day: 1) + Int64(day)) * 86_400 + time
            }
        }
    }

    func offset(at t: Int64) -> Int32 {
        guard let daylight else { return standardOffset }
        let year = CivilDate(days: (t + Int64(standardOffset)).floorDivided(by: 86_400)).year
        // Start is given in standard local time, end in daylight local time.
        let start = daylight.start.localSeconds(in: year) - Int64(standardOffset)
        let end = daylight.end.localSeconds(in: year) - Int64(daylight.offset)
        if start < end {
            return t >= start && t < end ? daylight.offset : standardOffset
        }
        // Southern hemisphere: daylight time spans the new year.
        return t >= end && t < start ? standardOffset : daylight.offset
    }

    init(standardOffset: Int32, daylight: Daylight?) {
        self.standardOffset = standardOffset
        self.daylight = daylight
    }

    init?(parsing text: String) {
        var s = Substring(text)
        if s.first == ":" { return nil }  // a file name, not a rule
        guard Self.name(&s), let standard = Self.time(&s) else { return nil }
        standardOffset = Int32(-standard)
        if s.isEmpty {
            daylight = nil
            return
        }
        guard Self.name(&s) else { return nil }
        var dstOffset = standardOffset + 3600
        if let first = s.first, first != "," {
            guard let given = Self.time(&s) else { return nil }
            dstOffset = Int32(-given)
        }
        // Without rules, POSIX leaves them to the implementation: the US rules, as glibc does.
        var start = DateRule.monthWeekDay(month: 3, week: 2, weekday: 0, time: 7200)
        var end = DateRule.monthWeekDay(month: 11, week: 1, weekday: 0, time: 7200)
        if s.first == "," {
            s.removeFirst()
            guard let parsedStart = Self.dateRule(&s), s.first == "," else { return nil }
            s.removeFirst()
            guard let parsedEnd = Self.dateRule(&s), s.isEmpty else { return nil }
            start = parsedStart
            end = parsedEnd
        } else if !s.isEmpty {
            return nil
        }
        daylight = Daylight(offset: dstOffset, start: start, end: end)
    }

    /// `EST` or `<+0330>`.
    static func name(_ s: inout Substring) -> Bool {
        if s.first == "<" {
            guard let close = s.firstIndex(of: ">") else { return false }
            s = s[s.index(after: close)...]
            return true
        }
        let letters = s.prefix { $0.isLetter }
        guard letters.count >= 3 else { return false }
        s = s.dropFirst(letters.count)
        return true
    }

    /// `[+|-]hh[:mm[:ss]]` in seconds (positive west of Greenwich, as POSIX has it).
    static func time(_ s: inout Substring) -> Int64? {
        var sign: Int64 = 1
        if s.first == "+" {
            s.removeFirst()
        } else if s.first == "-" {
            sign = -1
            s.removeFirst()
        }
        var parts: [Int64] = []
        while parts.count < 3 {
            let digits = s.prefix { $0.isASCII && $0.isNumber }
            guard !digits.isEmpty, let value = Int64(digits) else { break }
            parts.append(value)
            s = s.dropFirst(digits.count)
            guard s.first == ":" else { break }
            s.removeFirst()
        }
        guard !parts.isEmpty else { return nil }
        let seconds = parts[0] * 3600 + (parts.count > 1 ? parts[1] * 60 : 0) + (parts.count > 2 ? parts[2] : 0)
        return sign * seconds
    }

    static func dateRule(_ s: inout Substring) -> DateRule? {
        func number() -> Int? {
            let digits = s.prefix { $0.isASCII && $0.isNumber }
            guard let value = Int(digits) else { return nil }
            s = s.dropFirst(digits.count)
            return value
        }
        func at() -> Int64? {
            guard s.first == "/" else { return 7200 }
            s.removeFirst()
            return time(&s)
        }
        if s.first == "M" {
            s.removeFirst()
            guard let month = number(), s.first == ".", (1...12).contains(month) else { return nil }
            s.removeFirst()
            guard let week = number(), s.first == ".", (1...5).contains(week) else { return nil }
            s.removeFirst()
            guard let weekday = number(), (0...6).contains(weekday), let time = at() else { return nil }
            return .monthWeekDay(month: month, week: week, weekday: weekday, time: time)
        }
        if s.first == "J" {
            s.removeFirst()
            guard let day = number(), (1...365).contains(day), let time = at() else { return nil }
            return .julianNoLeap(day: day, time: time)
        }
        guard let day = number(), (0...365).contains(day), let time = at() else { return nil }
        return .zeroBased(day: day, time: time)
    }
}

/// Proleptic Gregorian dates as days since 1970-01-01 (Howard Hinnant's algorithms).
public struct CivilDate: Sendable, Equatable {
    public var year: Int
    public var month: Int
    public var day: Int

    public init(year: Int, month: Int, day: Int) {
        self.year = year
        self.month = month
        self.day = day
    }

    public init(days: Int64) {
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        day = Int(doy - (153 * mp + 2) / 5 + 1)
        month = Int(mp < 10 ? mp + 3 : mp - 9)
        year = Int(yoe + era * 400) + (month <= 2 ? 1 : 0)
    }

    public static func days(year: Int, month: Int, day: Int) -> Int64 {
        let y = Int64(month <= 2 ? year - 1 : year)
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let m = Int64(month)
        let doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + Int64(day) - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146_097 + doe - 719_468
    }

    public var days: Int64 { Self.days(year: year, month: month, day: day) }

    /// 0 = Sunday.
    public static func weekday(days: Int64) -> Int { Int((days + 4).floorModulo(7)) }

    public static func isLeap(_ year: Int) -> Bool { year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) }

    public static func daysIn(year: Int, month: Int) -> Int {
        switch month {
        case 2: return isLeap(year) ? 29 : 28
        case 4, 6, 9, 11: return 30
        default: return 31
        }
    }
}

extension Int64 {
    func floorDivided(by d: Int64) -> Int64 {
        let q = self / d
        return (self % d != 0 && (self < 0) != (d < 0)) ? q - 1 : q
    }

    func floorModulo(_ d: Int64) -> Int64 {
        let r = self % d
        return r < 0 ? r + d : r
    }
}
