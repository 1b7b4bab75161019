import ArgumentParser
import Glibc
import SVCore
import SVProtocol

/// The last lines of apps' logs, then what they write next: read straight from the files, so
/// a following terminal costs svd nothing (design.md §7).
struct Logs: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "logs", abstract: "Show the last lines of apps' logs, then follow them until ^C.")
    @Argument(help: "An id, a name, or 'all' (default).") var target: String?
    @Option(help: "Lines of each log.") var lines = 15
    @Flag(help: "Print the history and exit.") var nostream = false
    @Flag(help: "Only stdout.") var out = false
    @Flag(help: "Only stderr.") var err = false
    @Flag(help: "Lines as they are, without the app prefix.") var raw = false
    @Flag(help: "One JSON object per line: app, id, stream, time, message.") var json = false
    @Flag(help: "Prefix each line with the time it is shown.") var timestamp = false
    @Flag(help: "svd's own log instead.") var daemon = false

    func validate() throws {
        if lines < 0 { throw ValidationError("--lines must be 0 or more, got \(lines)") }
        if out && err { throw ValidationError("--out and --err together: give neither to see both") }
        if raw && json { throw ValidationError("--raw and --json together: choose one") }
    }

    func run() throws {
        var printer = LinePrinter(raw: raw, json: json, timestamp: timestamp)
        if daemon {
            let file = LogFile(path: Client.home + "/svd.log", app: "svd", id: 0, stream: "out")
            try show(history: [file], printer: &printer)
            if !nostream { try LogFollower(files: [file], printer: printer, refresh: nil).run() }
            return
        }
        let client = try Client.connectOrStart()
        let files = try Self.files(client: client, target: target, out: out, err: err)
        try show(history: files, printer: &printer)
        guard !nostream else { return }
        // Without a target, apps started later are followed too.
        let everything = target == nil || target == "all"
        let refresh: (() -> [LogFile])? =
            everything
            ? {
                guard let client = try? Client.connectIfRunning() else { return [] }
                return (try? Self.files(client: client, target: nil, out: out, err: err)) ?? []
            } : nil
        try LogFollower(files: files, printer: printer, refresh: refresh).run()
    }

    private func show(history files: [LogFile], printer: inout LinePrinter) throws {
        guard lines > 0 else { return }
        for file in files {
            let tail = try LogTail.lastLines(of: file.path, count: lines)
            if tail.isEmpty { continue }
            if !raw && !json { say(printer.dim("==> \(file.path) (\(file.app), \(file.stream)) <==")) }
            for line in tail { printer.print(line, of: file) }
        }
    }

    static func files(client: Client, target: String?, out: Bool, err: Bool) throws -> [LogFile] {
        let infos: [AppInfo]
        if let target {
            infos = try Render.details(try client.send(.describe([Target(parsing: target)]))).map(\.info)
        } else {
            infos = try Render.apps(try client.send(.list))
        }
        var files: [LogFile] = []
        for info in infos {
            if !err { files.append(LogFile(path: info.outLog, app: info.name, id: info.id.rawValue, stream: "out")) }
            // An app whose two streams share one file shows it once.
            if !out && (err || info.errLog != info.outLog) {
                files.append(LogFile(path: info.errLog, app: info.name, id: info.id.rawValue, stream: "err"))
            }
        }
        return files
    }
}

/// One log file shown by `sv logs`.
struct LogFile: Hashable {
    let path: String
    let app: String
    let id: Int
    let stream: String
}

/// How `sv logs` writes a line: `1|api | message`, raw, or JSON; colored per app on a terminal
/// only (never piped, never with NO_COLOR).
struct LinePrinter {
    let raw: Bool
    let json: Bool
    let timestamp: Bool
    let color: Bool

    init(raw: Bool, json: Bool, timestamp: Bool) {
        self.raw = raw
        self.json = json
        self.timestamp = timestamp
        color = System.isTerminal && getenv("NO_COLOR") == nil && !json
    }

    static let palette = [36, 32, 35, 33, 34, 31]

    func dim(_ text: String) -> String { color ? "\u{1B}[2m\(text)\u{1B}[0m" : text }

    func print(_ line: String, of file: LogFile) {
        if json {
            let object = JSONObject([
                ("app", .string(file.app)), ("id", .int(Int64(file.id))), ("stream", .string(file.stream)),
                ("time", .string(Self.now())), ("message", .string(line)),
            ])
            say(JSON.object(object).serialized)
            return
        }
        var text = ""
        if timestamp { text += Self.now() + " " }
        if !raw {
            let prefix = "\(file.id)|\(file.app) | "
            let code = file.stream == "err" ? 31 : Self.palette[file.id % Self.palette.count]
            text += color ? "\u{1B}[\(code)m\(prefix)\u{1B}[0m" : prefix
        }
        say(text + line)
    }

    /// ISO 8601 local time with milliseconds.
    static func now() -> String {
        var spec = timespec()
        clock_gettime(CLOCK_REALTIME, &spec)
        var seconds = spec.tv_sec
        var parts = tm()
        localtime_r(&seconds, &parts)
        return LogDateFormat.iso8601.format(
            CalendarTime(
                year: Int(parts.tm_year) + 1900, month: Int(parts.tm_mon) + 1, day: Int(parts.tm_mday),
                hour: Int(parts.tm_hour), minute: Int(parts.tm_min), second: Int(parts.tm_sec),
                millisecond: Int(spec.tv_nsec / 1_000_000), utcOffset: Int(parts.tm_gmtoff)))
    }
}

/// Empty apps' logs in place.
struct Flush: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "flush", abstract: "Empty the logs (of the targets, or all).")
    @Argument(help: "Ids, names, or 'all' (default).") var targets: [String] = []

    func run() throws {
        let reply = try Client.connectOrStart().send(.flush(targets.map(Target.init(parsing:))))
        for info in try Render.apps(reply) { say("flushed \(info.outLog) and \(info.errLog)") }
    }
}

/// Reopen every log file: for an external logrotate (`postrotate sv reload-logs`).
struct ReloadLogs: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "reload-logs", abstract: "Reopen every log file (after an external logrotate).", aliases: ["reloadLogs"])

    func run() throws {
        let reply = try Client.connectOrStart().send(.reloadLogs)
        say("reopened \(reply["reopened"]?.intValue ?? 0) log files")
    }
}

/// Reads the end of a file backwards, never the whole file.
enum LogTail {
    static func lastLines(of path: String, count: Int) throws -> [String] {
        guard count > 0 else { return [] }
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        if fd < 0 {
            if errno == ENOENT { return [] }
            throw CLIError("cannot read \(path): \(System.errorText(errno))")
        }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else { return [] }
        var end = Int64(info.st_size)
        var collected: [UInt8] = []
        var newlines = 0
        let chunk = 65536
        var buffer = [UInt8](repeating: 0, count: chunk)
        // Ignore one trailing newline: it ends the last line, it does not start an empty one.
        while end > 0 && newlines <= count {
            let start = max(0, end - Int64(chunk))
            let length = Int(end - start)
            let n = buffer.withUnsafeMutableBytes { pread(fd, $0.baseAddress, length, off_t(start)) }
            guard n > 0 else { break }
            collected.insert(contentsOf: buffer[0..<n], at: 0)
            newlines = collected.reduce(0) { $0 + ($1 == 0x0A ? 1 : 0) }
            end = start
        }
        if collected.isEmpty { return [] }
        if collected.last == 0x0A { collected.removeLast() }
        var lines = collected.split(separator: 0x0A, omittingEmptySubsequences: false).map {
            String(decoding: $0, as: UTF8.self)
        }
        if lines.count > count { lines.removeFirst(lines.count - count) }
        return lines
    }
}
