import SVCore
import SVProtocol

/// How replies look on a terminal: tables and key–value blocks.
enum Render {
    static func apps(_ json: JSON) throws -> [AppInfo] {
        guard let items = json.arrayValue else { throw CLIError("svd sent an app list sv cannot read; run `sv update`") }
        do { return try items.map { (item) throws(ProtocolError) in try AppInfo(json: item) } } catch {
            throw CLIError("svd sent an app list sv cannot read (\(error)); run `sv update`")
        }
    }

    static func rows(_ json: JSON) throws -> [ListRow] {
        guard let items = json.arrayValue else { throw CLIError("svd sent an app list sv cannot read; run `sv update`") }
        do { return try items.map { (item) throws(ProtocolError) in try ListRow(json: item) } } catch {
            throw CLIError("svd sent an app list sv cannot read (\(error)); run `sv update`")
        }
    }

    static func details(_ json: JSON) throws -> [AppDetail] {
        do { return try JSONCoder.decode([AppDetail].self, from: json) } catch {
            throw CLIError("svd sent a description sv cannot read (\(error)); run `sv update`")
        }
    }

    /// What a start of an ecosystem file, a scale or an import did, one line per instance
    /// ("restarted api (id 3)"; the instance index too, but for a lone instance 0).
    static func outcomes(_ json: JSON) -> String {
        let entries = json.arrayValue ?? []
        var perName: [String: Int] = [:]
        for entry in entries { perName[entry["name"]?.stringValue ?? "", default: 0] += 1 }
        var out = ""
        for entry in entries {
            let name = entry["name"]?.stringValue ?? "?"
            var where_ = "id \(entry["id"]?.intValue ?? 0)"
            if let instance = entry["instance"]?.intValue, instance > 0 || perName[name, default: 0] > 1 {
                where_ += ", instance \(instance)"
            }
            out += "\(entry["what"]?.stringValue ?? "?") \(name) (\(where_))\n"
        }
        return out
    }

    /// The `list` table (cli.md): id, name, pid, uptime, restarts, status, cpu, memory.
    static func table(_ infos: [AppInfo]) -> String { table(infos.map(ListRow.init)) }

    static func table(_ infos: [ListRow]) -> String {
        guard !infos.isEmpty else { return "no apps (start one with 'sv start app.js')\n" }
        let header = ["id", "name", "pid", "uptime", "restarts", "status", "cpu", "memory"]
        let rows = infos.map { info in
            [
                info.id.description, info.name, info.pid?.description ?? "-",
                info.uptimeMs.map { duration(ms: $0) } ?? "-", String(info.restarts), info.status.rawValue,
                info.cpuPercent.map { percent($0) } ?? "-", info.memoryBytes.map { bytes($0) } ?? "-",
            ]
        }
        return columns([header] + rows)
    }

    static func columns(_ rows: [[String]]) -> String {
        var widths = [Int](repeating: 0, count: rows.first?.count ?? 0)
        for row in rows { for (i, cell) in row.enumerated() { widths[i] = max(widths[i], cell.count) } }
        var out = ""
        for row in rows {
            var line = ""
            for (i, cell) in row.enumerated() {
                line += cell
                if i < row.count - 1 { line += String(repeating: " ", count: widths[i] - cell.count + 2) }
            }
            out += line + "\n"
        }
        return out
    }

    /// "45s", "3m", "2h", "4d".
    static func duration(ms: Int64) -> String {
        let s = ms / 1000
        if s < 60 { return "\(s)s" }
        if s < 3600 { return "\(s / 60)m" }
        if s < 86400 { return "\(s / 3600)h" }
        return "\(s / 86400)d"
    }

    static func percent(_ value: Double) -> String {
        let tenths = Int((value * 10).rounded())
        return "\(tenths / 10).\(tenths % 10)%"
    }

    /// "42.1 MB", "812 KB".
    /// A wall time (ms since the epoch) as `2026-12-01 10:15:00 UTC`.
    static func timestamp(ms: Int64) -> String {
        let seconds = ms / 1000
        let date = CivilDate(days: seconds >= 0 ? seconds / 86_400 : (seconds - 86_399) / 86_400)
        let second = Int(((seconds % 86_400) + 86_400) % 86_400)
        func two(_ n: Int) -> String { n < 10 ? "0\(n)" : "\(n)" }
        return "\(date.year)-\(two(date.month))-\(two(date.day)) \(two(second / 3600)):\(two(second / 60 % 60)):\(two(second % 60)) UTC"
    }

    static func bytes(_ value: Int64) -> String {
        if value < 1024 { return "\(value) B" }
        if value < 1024 * 1024 { return "\(value / 1024) KB" }
        let tenths = value * 10 / (1024 * 1024)
        if value < 1024 * 1024 * 1024 { return "\(tenths / 10).\(tenths % 10) MB" }
        let gTenths = value * 10 / (1024 * 1024 * 1024)
        return "\(gTenths / 10).\(gTenths % 10) GB"
    }

    /// One line per affected app: "stopped api (id 3)".
    static func summary(_ verb: String, _ infos: [AppInfo]) -> String {
        infos.map { "\(verb) \($0.name) (id \($0.id)): \($0.status.rawValue)\($0.pid.map { ", pid \($0)" } ?? "")\n" }
            .joined()
    }
}
