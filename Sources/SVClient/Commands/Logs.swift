import ArgumentParser
import Glibc
import SVCore
import SVProtocol

/// The last lines of apps' logs, read straight from the files (svd does no work for it).
struct Logs: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "logs", abstract: "Show the last lines of apps' logs.")
    @Argument(help: "An id, a name, or 'all' (default).") var target: String?
    @Option(help: "Lines of each log.") var lines = 15
    @Flag(help: "Print the history and exit.") var nostream = false
    @Flag(help: "Only stdout.") var out = false
    @Flag(help: "Only stderr.") var err = false

    func validate() throws {
        if lines < 0 { throw ValidationError("--lines must be 0 or more, got \(lines)") }
    }

    func run() throws {
        let client = try Client.connectOrStart()
        let infos: [AppInfo]
        if let target {
            infos = try Render.details(try client.send(.describe([Target(parsing: target)]))).map(\.info)
        } else {
            infos = try Render.apps(try client.send(.list))
        }
        for info in infos {
            var files: [(String, String)] = []
            if !err { files.append(("out", info.outLog)) }
            if !out { files.append(("err", info.errLog)) }
            for (stream, path) in files {
                let tail = try LogTail.lastLines(of: path, count: lines)
                if tail.isEmpty { continue }
                say("==> \(path) (\(info.name), \(stream)) <==")
                for line in tail { say("\(info.id)|\(info.name) | \(line)") }
            }
        }
        if !nostream {
            // TODO(issue 4): follow with inotify until ^C.
            System.writeStderr("sv: following logs is not built yet (issue 4); showing history only\n")
        }
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
