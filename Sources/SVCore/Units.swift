/// A point on the monotonic clock, in nanoseconds since an arbitrary origin (boot).
/// Deadlines and uptimes use it; what people read uses `WallTime`.
public struct Instant: Hashable, Comparable, Sendable, CustomStringConvertible {
    public var nanoseconds: Int64
    public init(nanoseconds: Int64) { self.nanoseconds = nanoseconds }
    public static let zero = Instant(nanoseconds: 0)

    public static func < (a: Instant, b: Instant) -> Bool { a.nanoseconds < b.nanoseconds }
    public static func + (a: Instant, d: Duration) -> Instant { Instant(nanoseconds: a.nanoseconds + d.nanoseconds) }
    public static func - (a: Instant, b: Instant) -> Duration { .nanoseconds(a.nanoseconds - b.nanoseconds) }
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
    /// The whole nanoseconds of this duration (sub-nanosecond parts dropped).
    public var nanoseconds: Int64 {
        let (seconds, attoseconds) = components
        return seconds * 1_000_000_000 + attoseconds / 1_000_000_000
    }
    /// The whole milliseconds of this duration: the unit of every `…Ms` field at a boundary.
    public var milliseconds: Int64 { nanoseconds / 1_000_000 }

    /// "350 ms", "2.5 s", "3 min": for reasons people read.
    public var humanReadable: String {
        let ms = milliseconds
        if ms < 1000 { return "\(ms) ms" }
        if ms < 60_000 {
            let tenths = ms / 100
            return tenths % 10 == 0 ? "\(tenths / 10) s" : "\(tenths / 10).\(tenths % 10) s"
        }
        if ms < 3_600_000 { return "\(ms / 60_000) min" }
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
