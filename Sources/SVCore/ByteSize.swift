/// A size in bytes, as users write it: "10M", "512K", "1G", "4096" (pm2's units, powers of 1024).
public struct ByteSize: Hashable, Sendable, Comparable, CustomStringConvertible {
    public var bytes: Int64
    public init(bytes: Int64) { self.bytes = bytes }
    public static func < (a: ByteSize, b: ByteSize) -> Bool { a.bytes < b.bytes }

    /// Parses digits with an optional K, M or G (also KB, MB, GB; any case). Nil when malformed.
    public init?(parsing text: String) {
        var digits = Substring(text)
        var factor: Int64 = 1
        let upper = String(text.utf8.map { $0 >= 97 && $0 <= 122 ? Character(Unicode.Scalar($0 - 32)) : Character(Unicode.Scalar($0)) })
        for (suffix, value) in [("KB", Int64(1) << 10), ("MB", 1 << 20), ("GB", 1 << 30), ("K", 1 << 10), ("M", 1 << 20), ("G", 1 << 30), ("B", 1)]
        where upper.hasSuffix(suffix) {
            digits = digits.dropLast(suffix.count)
            factor = value
            break
        }
        guard !digits.isEmpty, digits.utf8.allSatisfy({ $0 >= 48 && $0 <= 57 }), let number = Int64(digits),
            number.multipliedReportingOverflow(by: factor).overflow == false
        else { return nil }
        bytes = number * factor
    }

    public var description: String {
        if bytes >= 1 << 30 && bytes % (1 << 30) == 0 { return "\(bytes >> 30)G" }
        if bytes >= 1 << 20 && bytes % (1 << 20) == 0 { return "\(bytes >> 20)M" }
        if bytes >= 1 << 10 && bytes % (1 << 10) == 0 { return "\(bytes >> 10)K" }
        return "\(bytes)"
    }
}
