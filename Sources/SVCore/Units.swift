/// A point on the monotonic clock, in nanoseconds since an arbitrary origin (boot).
/// Deadlines and uptimes use it; what people read uses `WallTime`.
public struct Instant: Hashable, Comparable, Sendable, CustomStringConvertible {
    public var nanoseconds: Int64
    public init(nanoseconds: Int64) { self.nanoseconds = nanoseconds }
    public static let zero = Instant(nanoseconds: 0)

    public static func < (a: Instant, b: Instant) -> Bool { a.nanoseconds < b.nanoseconds }
    /// The latest instant: "never", where a deadline saturates.
    public static let distantFuture = Instant(nanoseconds: .max)

    /// Saturates instead of trapping (systemd's `usec_add`): a user-given duration can push a
    /// deadline to "never", never crash svd (STYLE.md 27a).
    public static func + (a: Instant, d: Duration) -> Instant { Instant(nanoseconds: Saturating.add(a.nanoseconds, d.nanoseconds)) }
    public static func - (a: Instant, b: Instant) -> Duration { .nanoseconds(Saturating.subtract(a.nanoseconds, b.nanoseconds)) }
    public var description: String { "t+\(nanoseconds / 1_000_000)ms" }
}

/// A point on the wall clock, in nanoseconds since the Unix epoch: for exit history and logs.
public struct WallTime: Hashable, Comparable, Sendable, Codable {
    public var nanoseconds: Int64
    public init(nanoseconds: Int64) { self.nanoseconds = nanoseconds }
    public var milliseconds: Int64 { nanoseconds / 1_000_000 }
    public static func < (a: WallTime, b: WallTime) -> Bool { a.nanoseconds < b.nanoseconds }
    public init(from decoder: any Decoder) throws {
        nanoseconds = try decoder.singleValueContainer().decode(Int64.self) * 1_000_000
    }
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(milliseconds)
    }
}

extension Duration {
    /// The whole nanoseconds of this duration (sub-nanosecond parts dropped), saturated at
    /// ±292 years: a duration built from a user's milliseconds may be far larger.
    public var nanoseconds: Int64 {
        let (seconds, attoseconds) = components
        return Saturating.add(Saturating.multiply(seconds, 1_000_000_000), attoseconds / 1_000_000_000)
    }
    /// The whole milliseconds of this duration: the unit of every `…Ms` field at a boundary.
    /// Exact for every duration made from Int64 milliseconds (no detour through nanoseconds).
    public var milliseconds: Int64 {
        let (seconds, attoseconds) = components
        return Saturating.add(Saturating.multiply(seconds, 1000), attoseconds / 1_000_000_000_000_000)
    }

    /// "350 ms", "2.5 s", "3 min": for reasons people read.
    public var humanReadable: String {
        let ms = milliseconds
        if ms < 1000 { return "\(ms) ms" }
        if ms < 60_000 {
            let tenths = ms / 100
            return tenths % 10 == 0 ? "\(tenths / 10) s" : "\(tenths / 10).\(tenths % 10) s"
        }
        if ms < 3_600_000 { return "\(ms / 60_000) min" }
        if ms >= 2 * 86_400_000 && ms % 86_400_000 == 0 { return "\(ms / 86_400_000) days" }
        return "\(ms / 3_600_000) h"
    }
}

/// A process id.
public struct ProcessID: Hashable, Sendable, Codable, CustomStringConvertible {
    public var rawValue: Int32
    public init(_ rawValue: Int32) { self.rawValue = rawValue }
    public init(from decoder: any Decoder) throws { rawValue = try decoder.singleValueContainer().decode(Int32.self) }
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(rawValue)
    }
    public var description: String { String(rawValue) }
}

/// An app instance's id: never reused within one `SV_HOME`.
public struct AppID: Hashable, Comparable, Sendable, Codable, CustomStringConvertible {
    public var rawValue: Int
    public init(_ rawValue: Int) { self.rawValue = rawValue }
    public static func < (a: AppID, b: AppID) -> Bool { a.rawValue < b.rawValue }
    public init(from decoder: any Decoder) throws { rawValue = try decoder.singleValueContainer().decode(Int.self) }
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(rawValue)
    }
    public var description: String { String(rawValue) }
}

/// One spawn of an app: events carrying an older run are stale and dropped.
public struct RunID: Hashable, Comparable, Sendable, CustomStringConvertible {
    public var rawValue: Int
    public init(_ rawValue: Int) { self.rawValue = rawValue }
    public static func < (a: RunID, b: RunID) -> Bool { a.rawValue < b.rawValue }
    public var next: RunID { RunID(rawValue + 1) }
    public var description: String { "run \(rawValue)" }
}

/// One armed timer of an app: a firing whose id is not the current one is stale and dropped.
public struct TimerID: Hashable, Sendable, CustomStringConvertible {
    public var rawValue: Int
    public init(_ rawValue: Int) { self.rawValue = rawValue }
    public var description: String { "timer \(rawValue)" }
}

/// How a process ended: an exit code or a signal.
public enum ExitStatus: Hashable, Sendable, CustomStringConvertible {
    case code(Int32)
    case signal(Signal)

    public var description: String {
        switch self {
        case .code(let code): return "exit code \(code)"
        case .signal(let signal): return "signal \(signal.name)"
        }
    }
}

/// Int64 arithmetic that clamps at the bounds instead of trapping (systemd's `usec_add` model):
/// every sum or product of user-given durations and counts goes through it (STYLE.md 27a).
public enum Saturating {
    public static func add(_ a: Int64, _ b: Int64) -> Int64 {
        let (sum, overflow) = a.addingReportingOverflow(b)
        return overflow ? (b > 0 ? .max : .min) : sum
    }
    public static func subtract(_ a: Int64, _ b: Int64) -> Int64 {
        let (difference, overflow) = a.subtractingReportingOverflow(b)
        return overflow ? (b < 0 ? .max : .min) : difference
    }
    public static func multiply(_ a: Int64, _ b: Int64) -> Int64 {
        let (product, overflow) = a.multipliedReportingOverflow(by: b)
        return overflow ? ((a < 0) == (b < 0) ? .max : .min) : product
    }
    public static func add(_ a: Int, _ b: Int) -> Int { Int(add(Int64(a), Int64(b))) }
}
