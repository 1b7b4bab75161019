/// A Linux signal number, with its name. The numbers are Linux's on x86_64 and arm64
/// (pinned against the C values by a test).
public struct Signal: Hashable, Sendable, Codable, CustomStringConvertible {
    public var rawValue: Int32
    public init(_ rawValue: Int32) { self.rawValue = rawValue }

    public static let hup = Signal(1)
    public static let int = Signal(2)
    public static let quit = Signal(3)
    public static let kill = Signal(9)
    public static let usr1 = Signal(10)
    public static let usr2 = Signal(12)
    public static let term = Signal(15)

    static let names: [(String, Int32)] = [
        ("HUP", 1), ("INT", 2), ("QUIT", 3), ("ILL", 4), ("TRAP", 5), ("ABRT", 6), ("BUS", 7), ("FPE", 8),
        ("KILL", 9), ("USR1", 10), ("SEGV", 11), ("USR2", 12), ("PIPE", 13), ("ALRM", 14), ("TERM", 15),
        ("STKFLT", 16), ("CHLD", 17), ("CONT", 18), ("STOP", 19), ("TSTP", 20), ("TTIN", 21), ("TTOU", 22),
        ("URG", 23), ("XCPU", 24), ("XFSZ", 25), ("VTALRM", 26), ("PROF", 27), ("WINCH", 28), ("IO", 29),
        ("PWR", 30), ("SYS", 31),
    ]

    /// "SIGINT", or "SIG40" for one without a name.
    public var name: String {
        for (name, number) in Self.names where number == rawValue { return "SIG" + name }
        return "SIG\(rawValue)"
    }
    public var description: String { name }

    /// Parses "SIGINT", "INT", "sigint" or "2".
    public init?(parsing text: String) {
        if let number = Int32(text) {
            guard number > 0 && number < 65 else { return nil }
            self.init(number)
            return
        }
        var upper = String(text.utf8.map { $0 >= 97 && $0 <= 122 ? Character(Unicode.Scalar($0 - 32)) : Character(Unicode.Scalar($0)) })
        if upper.hasPrefix("SIG") { upper.removeFirst(3) }
        for (name, number) in Self.names where name == upper {
            self.init(number)
            return
        }
        return nil
    }

    public init(from decoder: any Decoder) throws { rawValue = try decoder.singleValueContainer().decode(Int32.self) }
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(rawValue)
    }
}
