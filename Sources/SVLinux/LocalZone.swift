import SVCore

/// The local time zone as svd sees it: `TZ` (a zone name such as `Europe/Berlin` or
/// `:Europe/Berlin`, a file path, or a POSIX rule such as `CET-1CEST,M3.5.0,M10.5.0/3`), else
/// `/etc/localtime`, else UTC.
public enum LocalZone {
    public static let zoneinfo = "/usr/share/zoneinfo/"

    /// The rules, and in words where they came from (for svd.log).
    public static func rules(tz: String?) -> (TimeZoneRules, String) {
        if let tz, !tz.isEmpty {
            let name = tz.hasPrefix(":") ? String(tz.dropFirst()) : tz
            let path = name.hasPrefix("/") ? name : zoneinfo + name
            if !name.contains(".."), let bytes = Files.readSmall(path, limit: 1 << 20), let zone = try? TimeZoneRules(tzif: bytes) {
                return (zone, "TZ=\(tz) (\(path))")
            }
            if let zone = try? TimeZoneRules(posix: name) { return (zone, "TZ=\(tz)") }
            return (.utc, "TZ=\(tz) is neither a zone nor a POSIX rule: UTC")
        }
        if let bytes = Files.readSmall("/etc/localtime", limit: 1 << 20), let zone = try? TimeZoneRules(tzif: bytes) {
            return (zone, "/etc/localtime")
        }
        return (.utc, "UTC (no TZ, no /etc/localtime)")
    }
}
