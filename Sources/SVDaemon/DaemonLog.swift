import Glibc
import Logging

/// svd's own log: one line per message in `$SV_HOME/svd.log`, or journal entries with their
/// priority when systemd gave svd a journal stream (Systemd.swift).
struct DaemonLogHandler: LogHandler {
    /// The log file's descriptor; written with O_APPEND, one write(2) per line.
    let fd: Int32
    /// Under systemd with stderr on the journal: entries go there, with their priority.
    var journal: Systemd? = nil
    var logLevel: Logger.Level = .info
    var metadata: Logger.Metadata = [:]

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        if let journal {
            let priority: Int
            switch event.level {
            case .trace, .debug: priority = 7
            case .info: priority = 6
            case .notice: priority = 5
            case .warning: priority = 4
            case .error: priority = 3
            case .critical: priority = 2
            }
            if journal.journal(event.message.description, priority: priority) { return }
        }
        var line = Self.timestamp()
        line += " "
        line += event.level.rawValue
        line += " "
        line += event.message.description
        line += "\n"
        var bytes = Array(line.utf8)
        _ = bytes.withUnsafeMutableBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
    }

    /// "2026-12-01T07:40:00.123Z", from gmtime_r: no Foundation in svd.
    static func timestamp() -> String {
        var spec = timespec()
        clock_gettime(CLOCK_REALTIME, &spec)
        var parts = tm()
        var seconds = spec.tv_sec
        gmtime_r(&seconds, &parts)
        func pad(_ value: Int32, _ width: Int) -> String {
            let text = String(value)
            return String(repeating: "0", count: max(0, width - text.utf8.count)) + text
        }
        return pad(parts.tm_year + 1900, 4) + "-" + pad(parts.tm_mon + 1, 2) + "-" + pad(parts.tm_mday, 2) + "T"
            + pad(parts.tm_hour, 2) + ":" + pad(parts.tm_min, 2) + ":" + pad(parts.tm_sec, 2) + "."
            + pad(Int32(spec.tv_nsec / 1_000_000), 3) + "Z"
    }
}
