import ArgumentParser
import Glibc
import SVCore

/// `sv startup`: a systemd unit that starts svd at boot, which brings the apps back (cli.md).
/// As root a system unit serving USER (`User=`, HOME and SV_HOME from USER's passwd entry, never
/// root's: pm2's --hp trap); otherwise a user unit plus the `loginctl enable-linger` line.
struct Startup: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "startup", abstract: "Install a systemd unit that starts svd (and so your apps) at boot.")
    @Option(name: [.customShort("u"), .customLong("user")], help: "The user whose apps the unit serves (as root).")
    var user: String?
    @Option(help: "The unit's name (default sv-USER as root, sv as a user).") var serviceName: String?
    @Flag(help: "Print the unit and change nothing.") var print = false
    @Option(help: .hidden) var unitDir: String?
    @Option(help: .hidden) var scope: StartupUnit.Scope?

    func run() throws {
        let unit = try StartupUnit.make(user: user, serviceName: serviceName, scope: scope)
        if print {
            say(unit.text, terminator: "")
            return
        }
        if let sudoUser = getenv("SUDO_USER").map({ String(cString: $0) }), user == nil, getuid() == 0 {
            System.writeStderr(
                "sv: warning: this unit serves root's apps (SV_HOME \(unit.home)); for \(sudoUser)'s apps run: sudo sv startup -u \(sudoUser)\n")
        }
        let directory = unitDir ?? unit.defaultDirectory
        try StartupUnit.makeDirectories(directory)
        let path = directory + "/" + unit.fileName
        try StartupUnit.write(unit.text, to: path)
        say("wrote \(path)")
        let systemctl = unit.scope == .user ? ["systemctl", "--user"] : ["systemctl"]
        let commands = [systemctl + ["daemon-reload"], systemctl + ["enable", "--now", unit.fileName]]
        let runsSystemd = System.kind(of: "/run/systemd/system") == .directory
        let hasUserBus = unit.scope == .system || getenv("XDG_RUNTIME_DIR") != nil
        if runsSystemd && hasUserBus || unitDir != nil && System.findInPath("systemctl", path: System.environment["PATH"]) != nil {
            // Enabled first (a failure leaves the running svd alone), then the hand-over, then
            // the unit started: each app restarts at most once.
            try StartupUnit.run(systemctl + ["daemon-reload"])
            try StartupUnit.run(systemctl + ["enable", unit.fileName])
            try handOver(unit)
            try StartupUnit.run(systemctl + ["start", unit.fileName])
            // Marks this SV_HOME as served by the unit: sv then starts svd through systemctl.
            if System.kind(of: unit.home) == .directory {
                try StartupUnit.write(unit.marker(path: path), to: unit.home + "/startup.unit")
            }
            say("enabled \(unit.fileName): svd starts at boot and now")
        } else {
            say(runsSystemd ? "no user bus here (XDG_RUNTIME_DIR is unset, as under su): run" : "systemd is not running here: when it is, run")
            for command in commands { say("  " + command.joined(separator: " ")) }
        }
        if unit.scope == .user {
            say("so that it runs without a login session, run once: sudo loginctl enable-linger \(unit.user)")
        }
    }

    /// An svd started on demand for this SV_HOME stops (desired states kept) so the unit's svd
    /// takes over: each app restarts at most once.
    private func handOver(_ unit: StartupUnit) throws {
        guard let client = try Client.connectIfRunning(socket: unit.home + "/svd.sock") else { return }
        let pid = try client.send(.ping)["pid"]?.intValue ?? 0
        guard pid > 0 else { return }
        kill(pid_t(pid), SIGTERM)
        let deadline = System.monotonicSeconds + 30
        while System.monotonicSeconds < deadline, kill(pid_t(pid), 0) == 0 {
            var pause = timespec(tv_sec: 0, tv_nsec: 10_000_000)  // poll while svd stops its apps
            nanosleep(&pause, nil)
        }
        if kill(pid_t(pid), 0) == 0 {
            throw CLIError("the on-demand svd (pid \(pid)) did not stop within 30 s; the unit is enabled but not started")
        }
        say("stopped the on-demand svd (pid \(pid)); the unit's svd brings the apps back")
    }
}

/// Remove the unit `sv startup` installed.
struct Unstartup: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "unstartup", abstract: "Remove the unit sv startup installed.")
    @Option(name: [.customShort("u"), .customLong("user")], help: "The user the unit serves (as root).") var user: String?
    @Option(help: "The unit's name.") var serviceName: String?
    @Option(help: .hidden) var unitDir: String?
    @Option(help: .hidden) var scope: StartupUnit.Scope?

    func run() throws {
        let unit = try StartupUnit.make(user: user, serviceName: serviceName, scope: scope)
        let path = (unitDir ?? unit.defaultDirectory) + "/" + unit.fileName
        guard System.kind(of: path) != .missing else { throw CLIError("no unit at \(path) (nothing to remove)") }
        let systemctl = unit.scope == .user ? ["systemctl", "--user"] : ["systemctl"]
        let runsSystemd = System.kind(of: "/run/systemd/system") == .directory
        let canRun = runsSystemd || unitDir != nil && System.findInPath("systemctl", path: System.environment["PATH"]) != nil
        if canRun { try StartupUnit.run(systemctl + ["disable", "--now", unit.fileName]) }
        guard unlink(path) == 0 else { throw CLIError("cannot remove \(path): \(System.errorText(errno))") }
        unlink(unit.home + "/startup.unit")
        if canRun { try StartupUnit.run(systemctl + ["daemon-reload"]) }
        say("removed \(path)")
    }
}

/// The unit file of `sv startup` (design.md §7c): Type=notify, KillMode=mixed, a watchdog.
struct StartupUnit {
    enum Scope: String, ExpressibleByArgument {
        case system, user
    }

    let scope: Scope
    let user: String
    let group: String
    let home: String
    let userHome: String
    let fileName: String
    let svd: String
    let path: String

    var defaultDirectory: String {
        scope == .system ? "/etc/systemd/system" : userHome + "/.config/systemd/user"
    }

    /// What `sv` reads to start svd through systemd: scope, unit name, unit file.
    func marker(path: String) -> String { "\(scope.rawValue) \(fileName) \(path)\n" }

    static func make(user requested: String?, serviceName: String?, scope requestedScope: Scope?) throws -> StartupUnit {
        let scope = requestedScope ?? (getuid() == 0 ? .system : .user)
        if scope == .user, let requested, requested != currentUserName() {
            throw CLIError("-u \(requested) needs root (a user unit serves the user who installs it)")
        }
        let name = requested ?? currentUserName()
        guard let entry = getpwnam(name) else { throw CLIError("no user '\(name)' in the passwd database (check -u)") }
        let userHome = String(cString: entry.pointee.pw_dir)
        let group = getgrgid(entry.pointee.pw_gid).map { String(cString: $0.pointee.gr_name) } ?? String(entry.pointee.pw_gid)
        // SV_HOME from USER's passwd entry when another user is named; else the caller's.
        let home = requested != nil ? userHome + "/.sv" : Client.home
        guard let directory = System.executableDirectory else { throw CLIError("cannot find the svd beside sv") }
        let svd = directory + "/svd"
        guard System.isExecutable(svd) else { throw CLIError("no svd beside sv at \(svd) (install with Scripts/install)") }
        var base = serviceName ?? (scope == .system ? "sv-\(name)" : "sv")
        if base.hasSuffix(".service") { base.removeLast(".service".count) }
        guard !base.isEmpty, base.utf8.allSatisfy({ $0 > 0x20 && $0 != UInt8(ascii: "/") && $0 < 0x7f }) else {
            throw CLIError("--service-name '\(serviceName ?? "")' is not a unit name (no spaces or '/')")
        }
        let fileName = base + ".service"
        let path = getenv("PATH").map { String(cString: $0) } ?? "/usr/local/bin:/usr/bin:/bin"
        return StartupUnit(
            scope: scope, user: name, group: group, home: home, userHome: userHome, fileName: fileName, svd: svd, path: path)
    }

    static func currentUserName() -> String {
        getpwuid(getuid()).map { String(cString: $0.pointee.pw_name) } ?? String(getuid())
    }

    var text: String {
        var lines = [
            "# Written by `sv startup`: svd, which brings back every app desired online.",
            "[Unit]",
            "Description=sv process supervisor (\(user))",
            "After=network.target",
            "",
            "[Service]",
            "Type=notify",
            "NotifyAccess=main",
        ]
        if scope == .system {
            lines += ["User=\(user)", "Group=\(group)"]
        }
        lines += [
            "Environment=" + Self.quoted("HOME=" + userHome),
            "Environment=" + Self.quoted("SV_HOME=" + home),
            // The caller's PATH, for what svd itself runs; apps get their captured environment
            // and absolute interpreter paths, so an nvm node is found at boot either way.
            "Environment=" + Self.quoted("PATH=" + path),
            "ExecStart=" + Self.escaped(svd) + " --foreground",
            "Restart=on-failure",
            // SIGTERM to svd alone: it stops the apps with their own signals and timeouts.
            "KillMode=mixed",
            "WatchdogSec=60",
            "TasksMax=infinity",
            "LimitNOFILE=1048576",
            "TimeoutStopSec=120",
            "",
            "[Install]",
            "WantedBy=" + (scope == .system ? "multi-user.target" : "default.target"),
        ]
        return lines.joined(separator: "\n") + "\n"
    }

    /// A systemd value in double quotes: `\` and `"` escaped, `%` doubled (specifiers).
    static func quoted(_ value: String) -> String {
        var out = "\""
        for c in value {
            switch c {
            case "\\": out += "\\\\"
            case "\"": out += "\\\""
            case "%": out += "%%"
            default: out.append(c)
            }
        }
        return out + "\""
    }

    /// A path in ExecStart: spaces escaped as \x20, `%` doubled.
    static func escaped(_ path: String) -> String {
        var out = ""
        for c in path {
            switch c {
            case " ": out += "\\x20"
            case "%": out += "%%"
            case "\\": out += "\\\\"
            default: out.append(c)
            }
        }
        return out
    }

    static func makeDirectories(_ path: String) throws {
        var current = ""
        for part in path.split(separator: "/") {
            current += "/" + part
            if mkdir(current, 0o755) != 0 && errno != EEXIST {
                throw CLIError("cannot create \(current): \(System.errorText(errno))")
            }
        }
    }

    static func write(_ text: String, to path: String) throws {
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw CLIError("cannot write \(path): \(System.errorText(errno))") }
        defer { close(fd) }
        fchmod(fd, 0o644)
        var bytes = Array(text.utf8)
        guard bytes.withUnsafeMutableBytes({ Glibc.write(fd, $0.baseAddress, $0.count) }) == bytes.count else {
            throw CLIError("cannot write \(path): \(System.errorText(errno))")
        }
    }

    /// Runs a command found in PATH and waits; a failure is an error naming it.
    static func run(_ command: [String]) throws {
        guard let program = System.findInPath(command[0], path: getenv("PATH").map { String(cString: $0) }) else {
            throw CLIError("\(command[0]) not found in PATH")
        }
        let code = try System.runAndWait(program, command)
        guard code == 0 else { throw CLIError("`\(command.joined(separator: " "))` failed (exit status \(code))") }
    }
}
