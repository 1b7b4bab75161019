/// A wall-clock time broken down in some time zone: what a log timestamp prints.
public struct CalendarTime: Hashable, Sendable {
    public var year, month, day, hour, minute, second, millisecond: Int
    /// Seconds east of UTC.
    public var utcOffset: Int

    public init(year: Int, month: Int, day: Int, hour: Int, minute: Int, second: Int, millisecond: Int, utcOffset: Int) {
        (self.year, self.month, self.day, self.hour, self.minute, self.second, self.millisecond, self.utcOffset) =
            (year, month, day, hour, minute, second, millisecond, utcOffset)
    }
}

/// pm2's `log_date_format`: dayjs tokens (`YYYY-MM-DD HH:mm:ss Z`), text in `[brackets]` kept as it
/// is. Parsed once; formatting is a walk over the parts.
public struct LogDateFormat: Hashable, Sendable {
    enum Part: Hashable, Sendable {
        case literal(String)
        case year4, year2, month2, month, day2, day, hour2, hour, hour12x2, hour12, minute2, minute, second2, second
        case millis3, offsetColon, offsetPlain, ampmUpper, ampmLower
    }

    let parts: [Part]
    public let pattern: String

    /// ISO 8601 with milliseconds and offset, sv's default.
    public static let iso8601 = LogDateFormat("YYYY-MM-DDTHH:mm:ss.SSSZ")

    /// Whether the output changes within one second (then it is not cached per second).
    public var hasMilliseconds: Bool { parts.contains(.millis3) }

    public init(_ pattern: String) {
        self.pattern = pattern
        let tokens: [(String, Part)] = [
            ("YYYY", .year4), ("YY", .year2), ("MM", .month2), ("M", .month), ("DD", .day2), ("D", .day),
            ("HH", .hour2), ("H", .hour), ("hh", .hour12x2), ("h", .hour12), ("mm", .minute2), ("m", .minute),
            ("ss", .second2), ("s", .second), ("SSS", .millis3), ("ZZ", .offsetPlain), ("Z", .offsetColon),
            ("A", .ampmUpper), ("a", .ampmLower),
        ]
        var parts: [Part] = []
        var literal = ""
        var rest = Substring(pattern)
        outer: while !rest.isEmpty {
            if rest.first == "[" {
                if let close = rest.firstIndex(of: "]") {
                    literal += rest[rest.index(after: rest.startIndex)..<close]
                    rest = rest[rest.index(after: close)...]
                    continue
                }
            }
            for (token, part) in tokens where rest.hasPrefix(token) {
                if !literal.isEmpty {
                    parts.append(.literal(literal))
                    literal = ""
                }
                parts.append(part)
                rest = rest.dropFirst(token.count)
                continue outer
            }
            literal.append(rest.removeFirst())
        }
        if !literal.isEmpty { parts.append(.literal(literal)) }
        self.parts = parts
    }

    public func format(_ t: CalendarTime) -> String {
        func pad(_ value: Int, _ width: Int) -> String {
            let text = String(value)
            return text.count >= width ? text : String(repeating: "0", count: width - text.count) + text
        }
        var out = ""
        for part in parts {
            switch part {
            case .literal(let text): out += text
            case .year4: out += pad(t.year, 4)
            case .year2: out += pad(t.year % 100, 2)
            case .month2: out += pad(t.month, 2)
            case .month: out += String(t.month)
            case .day2: out += pad(t.day, 2)
            case .day: out += String(t.day)
            case .hour2: out += pad(t.hour, 2)
            case .hour: out += String(t.hour)
            case .hour12x2: out += pad(t.hour % 12 == 0 ? 12 : t.hour % 12, 2)
            case .hour12: out += String(t.hour % 12 == 0 ? 12 : t.hour % 12)
            case .minute2: out += pad(t.minute, 2)
            case .minute: out += String(t.minute)
            case .second2: out += pad(t.second, 2)
            case .second: out += String(t.second)
            case .millis3: out += pad(t.millisecond, 3)
            case .offsetColon, .offsetPlain:
                let sign = t.utcOffset < 0 ? "-" : "+"
                let minutes = abs(t.utcOffset) / 60
                out += sign + pad(minutes / 60, 2) + (part == .offsetColon ? ":" : "") + pad(minutes % 60, 2)
            case .ampmUpper: out += t.hour < 12 ? "AM" : "PM"
            case .ampmLower: out += t.hour < 12 ? "am" : "pm"
            }
        }
        return out
    }
}

/// Puts a prefix before every line of a byte stream that arrives in arbitrary chunks: a line
/// split across two reads gets one prefix, a line longer than any buffer is split, not lost.
public struct LinePrefixer: Sendable {
    /// The next byte starts a line.
    public private(set) var atLineStart = true
    public init() {}

    /// Appends `chunk` to `out` with `prefix` before each line. The bytes of one read arrived at
    /// one moment, so they share one prefix.
    public mutating func process(_ chunk: UnsafeRawBufferPointer, into out: inout [UInt8], prefix: [UInt8]) {
        var start = 0
        let count = chunk.count
        while start < count {
            if atLineStart { out.append(contentsOf: prefix) }
            var end = start
            while end < count && chunk[end] != 0x0A { end += 1 }
            let stop = end < count ? end + 1 : count
            out.append(contentsOf: UnsafeRawBufferPointer(rebasing: chunk[start..<stop]))
            atLineStart = end < count
            start = stop
        }
    }
}
