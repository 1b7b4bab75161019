import ArgumentParser
import CShims
import Glibc
import SVCore
import SVProtocol

/// `sv monit`: a live dashboard in the terminal's alternate screen (docs/monit.md). Redraws
/// once a second and at once on a key or a resize; ↑/↓ (or k/j) select, `r` restarts, `s`
/// stops, `l` shows or hides the logs, `q` or ^C quits and gives the terminal back as it was.
struct Monit: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "monit", abstract: "Live dashboard: apps, CPU, memory, logs (q quits).")

    func run() throws {
        guard isatty(1) == 1, isatty(0) == 1 else {
            throw CLIError("sv monit needs a terminal (standard input and output); in scripts use 'sv list' or 'sv jlist'")
        }
        let terminal = try Terminal()
        defer { terminal.restore() }
        var dashboard = Dashboard()
        var client = try Client.connectOrStart()
        while !dashboard.quit {
            do {
                dashboard.apps = try Render.apps(try client.send(.list))
                dashboard.error = nil
            } catch {
                dashboard.error = "\(error)"
                if let again = try? Client.connectOrStart() { client = again }
            }
            dashboard.sample()
            terminal.draw(dashboard.render(size: terminal.size()))
            // Until the next second, or a key, or a resize.
            let deadline = Dashboard.monotonicMs() + 1000
            while !dashboard.quit {
                let left = deadline - Dashboard.monotonicMs()
                guard left > 0 else { break }
                switch terminal.wait(milliseconds: Int32(left)) {
                case .timeout: break
                case .resized: terminal.draw(dashboard.render(size: terminal.size()))
                case .keys(let bytes):
                    for action in Dashboard.actions(in: bytes) {
                        if let request = dashboard.perform(action) {
                            do {
                                _ = try client.send(request)
                                dashboard.message = dashboard.describe(request)
                            } catch {
                                dashboard.message = "\(error)"
                            }
                        }
                    }
                    terminal.draw(dashboard.render(size: terminal.size()))
                }
            }
        }
    }
}

/// The dashboard's state and layout: pure, the terminal is elsewhere.
struct Dashboard {
    var apps: [AppInfo] = []
    var selected = 0
    var showLogs = true
    var quit = false
    var message: String?
    var error: String?
    /// Memory samples per app id, oldest first, for the sparkline.
    var history: [AppID: [Int64]] = [:]
    static let historyLength = 24

    enum Action: Equatable { case up, down, restart, stop, toggleLogs, quit }

    static func actions(in bytes: [UInt8]) -> [Action] {
        var actions: [Action] = []
        var i = 0
        while i < bytes.count {
            let byte = bytes[i]
            if byte == 0x1B, i + 2 < bytes.count, bytes[i + 1] == UInt8(ascii: "[") || bytes[i + 1] == UInt8(ascii: "O") {
                if bytes[i + 2] == UInt8(ascii: "A") { actions.append(.up) }
                if bytes[i + 2] == UInt8(ascii: "B") { actions.append(.down) }
                i += 3
                continue
            }
            switch byte {
            case UInt8(ascii: "k"): actions.append(.up)
            case UInt8(ascii: "j"): actions.append(.down)
            case UInt8(ascii: "r"): actions.append(.restart)
            case UInt8(ascii: "s"): actions.append(.stop)
            case UInt8(ascii: "l"): actions.append(.toggleLogs)
            case UInt8(ascii: "q"), 3, 4: actions.append(.quit)  // q, ^C, ^D
            default: break
            }
            i += 1
        }
        return actions
    }

    var current: AppInfo? { apps.indices.contains(selected) ? apps[selected] : nil }

    /// Applies a key; a restart or stop returns the request to send.
    mutating func perform(_ action: Action) -> Request? {
        switch action {
        case .up: selected = max(selected - 1, 0)
        case .down: selected = min(selected + 1, max(apps.count - 1, 0))
        case .toggleLogs: showLogs.toggle()
        case .quit: quit = true
        case .restart: return current.map { .restart(RestartArguments(targets: [.id($0.id)], updatedEnv: nil)) }
        case .stop: return current.map { .stop([.id($0.id)]) }
        }
        return nil
    }

    func describe(_ request: Request) -> String {
        let name = current.map { "\($0.name) (id \($0.id))" } ?? "the app"
        switch request {
        case .restart: return "restarting \(name)"
        case .stop: return "stopping \(name)"
        default: return ""
        }
    }

    mutating func sample() {
        if selected >= apps.count { selected = max(apps.count - 1, 0) }
        let live = Set(apps.map(\.id))
        history = history.filter { live.contains($0.key) }
        for app in apps {
            var samples = history[app.id] ?? []
            samples.append(app.memoryBytes ?? 0)
            if samples.count > Self.historyLength { samples.removeFirst(samples.count - Self.historyLength) }
            history[app.id] = samples
        }
    }

    static let bars: [Character] = ["▁", "▂", "▃", "▄", "▅", "▆", "▇", "█"]

    static func sparkline(_ samples: [Int64]) -> String {
        guard let top = samples.max(), top > 0 else { return String(repeating: " ", count: samples.count) }
        return String(samples.map { bars[Int(($0 * Int64(bars.count - 1) + top / 2) / top)] })
    }

    /// The screen's lines for a terminal of `size` (columns, rows).
    func render(size: (columns: Int, rows: Int)) -> [String] {
        let width = max(size.columns, 20)
        var lines: [String] = []
        lines.append("sv monit · \(apps.count) apps · ↑↓ select · r restart · s stop · l logs · q quit")
        let header = ["", "id", "name", "status", "pid", "uptime", "restarts", "cpu", "memory", "memory (last \(Self.historyLength) s)"]
        var rows: [[String]] = [header]
        for (index, app) in apps.enumerated() {
            rows.append([
                index == selected ? ">" : " ", app.id.description, app.name, app.status.rawValue, app.pid?.description ?? "-",
                app.uptimeMs.map { Render.duration(ms: $0) } ?? "-", String(app.restarts),
                app.cpuPercent.map { Render.percent($0) } ?? "-", app.memoryBytes.map { Render.bytes($0) } ?? "-",
                Self.sparkline(history[app.id] ?? []),
            ])
        }
        let table = Render.columns(rows).split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        let logRows = showLogs ? max(size.rows / 3, 4) : 0
        let tableRows = max(size.rows - 3 - logRows - (showLogs ? 1 : 0), 2)
        // Keep the selected row in view.
        let body = Array(table.dropFirst().filter { !$0.isEmpty })
        let first = max(0, min(selected - tableRows + 2, body.count - (tableRows - 1)))
        lines.append(table.first ?? "")
        lines += body.dropFirst(first).prefix(tableRows - 1)
        if apps.isEmpty { lines.append("  no apps (start one with 'sv start app.js')") }
        if showLogs, let app = current {
            while lines.count < size.rows - logRows - 2 { lines.append("") }
            lines.append("── logs of \(app.name) (id \(app.id)) " + String(repeating: "─", count: max(0, width - 20 - app.name.count)))
            let out = (try? LogTail.lastLines(of: app.outLog, count: logRows)) ?? []
            let err = app.errLog == app.outLog ? [] : ((try? LogTail.lastLines(of: app.errLog, count: logRows / 2)) ?? [])
            let shown = Array((out.suffix(logRows - min(err.count, logRows / 2)) + err.suffix(logRows / 2)).suffix(logRows))
            lines += shown.map { "  " + $0 }
        }
        while lines.count < size.rows - 1 { lines.append("") }
        lines = Array(lines.prefix(size.rows - 1))
        lines.append(error.map { "svd: " + $0 } ?? message ?? "")
        return lines.map { Self.fit($0, width) }
    }

    /// A line cut to `width` characters (escape sequences are not used inside lines).
    static func fit(_ line: String, _ width: Int) -> String {
        line.count <= width ? line : String(line.prefix(width))
    }

    static func monotonicMs() -> Int64 {
        var time = timespec()
        clock_gettime(CLOCK_MONOTONIC, &time)
        return Int64(time.tv_sec) * 1000 + Int64(time.tv_nsec) / 1_000_000
    }
}

/// The terminal in raw mode on the alternate screen; `restore()` gives it back as it was.
final class Terminal {
    private var original = termios()
    private let resizeSignals: Int32

    enum Wake { case timeout, resized, keys([UInt8]) }

    init() throws {
        guard tcgetattr(0, &original) == 0 else { throw CLIError("cannot read the terminal's settings: \(System.errorText(errno))") }
        var raw = original
        // No echo, no line editing, no signals from keys (q and ^C are read as keys).
        raw.c_lflag &= ~tcflag_t(ECHO | ICANON | ISIG | IEXTEN)
        raw.c_iflag &= ~tcflag_t(IXON | ICRNL)
        guard tcsetattr(0, TCSAFLUSH, &raw) == 0 else { throw CLIError("cannot set the terminal to raw mode: \(System.errorText(errno))") }
        // SIGWINCH read from a signalfd, blocked first so it is not delivered.
        let signals = [SIGWINCH]
        _ = sv_block_signals(signals, 1)
        resizeSignals = sv_signalfd(signals, 1)
        // Alternate screen, cursor hidden.
        say("\u{1B}[?1049h\u{1B}[?25l", terminator: "")
    }

    func restore() {
        say("\u{1B}[?25h\u{1B}[?1049l", terminator: "")
        _ = tcsetattr(0, TCSAFLUSH, &original)
        if resizeSignals >= 0 { close(resizeSignals) }
    }

    func size() -> (columns: Int, rows: Int) {
        var window = winsize()
        guard ioctl(1, UInt(TIOCGWINSZ), &window) == 0, window.ws_col > 0 else { return (80, 24) }
        return (Int(window.ws_col), Int(window.ws_row))
    }

    /// Draws whole lines from the top, each cleared to its end: no flicker, no scrolling.
    func draw(_ lines: [String]) {
        var out = "\u{1B}[H"
        for (index, line) in lines.enumerated() {
            out += line + "\u{1B}[K"
            if index < lines.count - 1 { out += "\r\n" }
        }
        out += "\u{1B}[J"
        say(out, terminator: "")
    }

    func wait(milliseconds: Int32) -> Wake {
        var fds = [pollfd(fd: 0, events: Int16(POLLIN), revents: 0), pollfd(fd: resizeSignals, events: Int16(POLLIN), revents: 0)]
        let n = poll(&fds, nfds_t(resizeSignals >= 0 ? 2 : 1), milliseconds)
        guard n > 0 else { return .timeout }
        if fds[1].revents != 0 {
            var info = [UInt8](repeating: 0, count: 128)  // one signalfd_siginfo
            _ = read(resizeSignals, &info, info.count)
            return .resized
        }
        var bytes = [UInt8](repeating: 0, count: 64)
        let count = read(0, &bytes, bytes.count)
        guard count > 0 else { return .keys([UInt8(ascii: "q")]) }  // end of input: quit
        return .keys(Array(bytes[0..<count]))
    }
}
