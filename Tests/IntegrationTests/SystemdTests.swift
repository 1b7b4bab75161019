import Foundation
import SVCore
import SVProtocol
import Testing

/// svd under systemd (design.md §3, §7c): sd_notify through a dlopen'ed libsystemd, only then.
@Suite(.serialized, .timeLimit(.minutes(2)))
struct SystemdTests {
    /// A datagram socket the test binds, as systemd's NOTIFY_SOCKET.
    final class NotifySocket {
        let path: String
        let fd: Int32
        init(directory: String) throws {
            path = directory + "/notify.sock"
            fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue), 0)
            var address = sockaddr_un()
            address.sun_family = sa_family_t(AF_UNIX)
            withUnsafeMutableBytes(of: &address.sun_path) { raw in for (i, b) in path.utf8.enumerated() { raw[i] = b } }
            let bound = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
            }
            guard bound == 0 else { throw CLIFailure("bind \(path) failed") }
        }
        deinit { close(fd) }

        /// The next datagram within `seconds`, with the time it came.
        func next(within seconds: Double = 5) -> (String, Date)? {
            var entry = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            guard poll(&entry, 1, Int32(seconds * 1000)) > 0 else { return nil }
            var buffer = [UInt8](repeating: 0, count: 4096)
            let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            return n > 0 ? (String(decoding: buffer[0..<n], as: UTF8.self), Date()) : nil
        }
    }

    func startForeground(_ sv: Supervisor, environment extra: [String: String]) throws -> pid_t {
        var env = sv.environment
        for (key, value) in extra { env[key] = value }
        return try sv.launchProgram(svdPath, ["--foreground"], environment: env)
    }

    @Test func readyStatusWatchdogAndStopping() throws {
        try withSupervisor { (sv: Supervisor) throws in
            try sv.ok("start", testchild, "--name", "a", "--", "forever")
            try sv.ok("start", testchild, "--name", "b", "--max-restarts", "1", "--", "exit", "1")
            #expect(try eventually { try sv.app("b")?.status == .errored })
            for pid in sv.daemonPids() { kill(pid, SIGTERM) }
            #expect(eventually { sv.daemonPids().isEmpty })

            let notify = try NotifySocket(directory: sv.work)
            let svd = try startForeground(sv, environment: ["NOTIFY_SOCKET": notify.path, "WATCHDOG_USEC": "200000"])
            defer {
                kill(svd, SIGKILL)
                var status: Int32 = 0
                waitpid(svd, &status, 0)
            }
            // READY=1 once the apps are restored, with the counts.
            guard let (first, _) = notify.next() else {
                Issue.record("no notification")
                return
            }
            #expect(first.contains("READY=1"))
            #expect(first.contains("STATUS=2 online"), "\(first)")  // both desired online come back
            // Watchdog pings at half the interval: 10 in a row spaced 0.4–0.6 of 200 ms.
            var pings: [Date] = []
            while pings.count < 11, let (message, at) = notify.next(within: 2) {
                if message.contains("WATCHDOG=1") { pings.append(at) }
            }
            #expect(pings.count == 11)
            for (a, b) in zip(pings, pings.dropFirst()) {
                let gap = b.timeIntervalSince(a)
                #expect(gap >= 0.08 && gap <= 0.12, "gap \(gap) s")
            }
            // libsystemd is mapped under systemd…
            let maps = Self.procText("/proc/\(svd)/maps")
            #expect(maps.contains("libsystemd"))
            // …and SIGTERM says STOPPING=1 while the apps stop.
            kill(svd, SIGTERM)
            var stopping = false
            while let (message, _) = notify.next(within: 3) {
                if message.contains("STOPPING=1") {
                    stopping = true
                    #expect(message.contains("EXTEND_TIMEOUT_USEC="))
                    break
                }
            }
            #expect(stopping)
        }
    }

    /// A /proc file read to its end (they report size 0, so one read is not enough).
    static func procText(_ path: String) -> String {
        guard let handle = FileHandle(forReadingAtPath: path) else { return "" }
        defer { try? handle.close() }
        return String(decoding: handle.readDataToEndOfFile(), as: UTF8.self)
    }

    @Test func outsideSystemdNothingIsLoaded() throws {
        try withSupervisor { (sv: Supervisor) throws in
            try sv.ok("ping")
            for pid in sv.daemonPids() {
                let maps = Self.procText("/proc/\(pid)/maps")
                #expect(!maps.isEmpty)
                #expect(!maps.contains("libsystemd"))
            }
        }
    }
}

@Suite(.serialized, .timeLimit(.minutes(2)))
struct StartupTests {
    /// Units pass `systemd-analyze verify`; the test fails, not skips, when the tool is missing.
    @Test(arguments: [["--print"], ["--print", "-u", "nobody"], ["--print", "--scope", "user"]])
    func unitsPassSystemdAnalyzeVerify(arguments: [String]) throws {
        try withSupervisor { (sv: Supervisor) throws in
            let result = try sv.run(["startup"] + arguments)
            #expect(result.status == 0, "\(result.stderr)")
            let unit = result.stdout
            #expect(unit.contains("Type=notify"))
            #expect(unit.contains("KillMode=mixed"))
            #expect(unit.contains("WatchdogSec=60"))
            #expect(unit.contains("ExecStart=\(svdPath) --foreground"))
            #expect(unit.contains("Environment=\"PATH="))
            if arguments.contains("nobody") {
                #expect(unit.contains("User=nobody"))
                // HOME and SV_HOME from nobody's passwd entry, never root's.
                let home = String(cString: getpwnam("nobody").pointee.pw_dir)
                #expect(unit.contains("Environment=\"SV_HOME=\(home)/.sv\""))
            }
            if arguments.contains("user") {
                #expect(!unit.contains("User="))
                #expect(unit.contains("WantedBy=default.target"))
            }
            let path = sv.work + "/sv-test.service"
            try unit.write(toFile: path, atomically: true, encoding: .utf8)
            let analyze = "/usr/bin/systemd-analyze"
            try #require(FileManager.default.isExecutableFile(atPath: analyze), "systemd-analyze is missing (Scripts/test installs systemd)")
            #expect(try sv.launchAndWait(analyze, ["verify", path]) == 0)
            #expect(sv.daemonPids().isEmpty)  // --print never starts svd
        }
    }

    /// With a systemctl shim on PATH: the unit written with its mode, daemon-reload and
    /// enable --now called, and a running on-demand svd handed over (each app restarted once).
    @Test func installsAndHandsOver() throws {
        try withSupervisor { (sv: Supervisor) throws in
            try sv.ok("start", testchild, "--name", "a", "--", "forever")
            try sv.ok("start", testchild, "--name", "b", "--", "forever")
            let before = try sv.list()
            let bin = sv.work + "/bin"
            let calls = sv.work + "/calls"
            try FileManager.default.createDirectory(atPath: bin, withIntermediateDirectories: true)
            // `enable --now` starts svd as the unit would.
            try sv.file(
                "bin/systemctl",
                """
                #!/bin/sh
                echo "$@" >> \(calls)
                case "$*" in start*) setsid \(svdPath) --foreground </dev/null >/dev/null 2>&1 & ;; esac
                exit 0
                """, executable: true)
            var env = sv.environment
            env["PATH"] = bin + ":" + (env["PATH"] ?? "/usr/bin:/bin")
            let units = sv.work + "/units"
            let result = try sv.run(["startup", "--unit-dir", units, "--service-name", "sv-test"], environment: env)
            #expect(result.status == 0, "\(result.stderr)")
            let unitPath = units + "/sv-test.service"
            let mode = try FileManager.default.attributesOfItem(atPath: unitPath)[.posixPermissions] as? Int
            #expect(mode == 0o644)
            let recorded = (try? String(contentsOfFile: calls, encoding: .utf8)) ?? ""
            #expect(recorded.contains("daemon-reload"))
            #expect(recorded.contains("enable sv-test.service"))
            #expect(recorded.contains("start sv-test.service"))
            #expect(try String(contentsOfFile: sv.home + "/startup.unit", encoding: .utf8).hasPrefix("system sv-test.service "))
            var after: [AppInfo] = []
            #expect(try eventually(within: 5) {
                after = try sv.list()
                return after.count == 2 && after.allSatisfy { $0.status == .online } && sv.daemonPids().count == 1
            })
            #expect(after.map(\.id) == before.map(\.id))
            #expect(after.map(\.restarts) == before.map(\.restarts))  // brought back, not restarted twice
            let removed = try sv.run(["unstartup", "--unit-dir", units, "--service-name", "sv-test"], environment: env)
            #expect(removed.status == 0, "\(removed.stderr)")
            #expect(!FileManager.default.fileExists(atPath: unitPath))
            #expect(((try? String(contentsOfFile: calls, encoding: .utf8)) ?? "").contains("disable --now sv-test.service"))
        }
    }

    @Test(.enabled(if: getuid() == 0, "the sudo warning is for root"))
    func sudoWarnsThatRootsAppsAreServed() throws {
        try withSupervisor { (sv: Supervisor) throws in
            var env = sv.environment
            env["SUDO_USER"] = "alice"
            env["PATH"] = "/nonexistent"  // no systemctl: the commands are printed
            let result = try sv.run(["startup", "--unit-dir", sv.work + "/units"], environment: env, program: svPath)
            #expect(result.status == 0, "\(result.stderr)")
            #expect(result.stderr.contains("serves root's apps"))
            #expect(result.stderr.contains("sudo sv startup -u alice"))
            #expect(result.stdout.contains("systemctl daemon-reload"))
        }
    }
}

@Suite(.serialized, .timeLimit(.minutes(2)))
struct BootTests {
    /// A power cut: svd and the apps die at once; at boot the unit runs `svd --foreground`,
    /// which brings both apps back, once.
    @Test func bootAfterAPowerCut() throws {
        try withSupervisor { (sv: Supervisor) throws in
            try sv.ok("start", testchild, "--name", "a", "--", "forever")
            try sv.ok("start", testchild, "--name", "b", "--", "forever")
            try sv.ok("save")
            let before = try sv.list()
            for pid in sv.daemonPids() { kill(pid, SIGKILL) }
            for info in before { if let pid = info.pid { kill(-pid.rawValue, SIGKILL) } }
            #expect(eventually { sv.daemonPids().isEmpty && before.allSatisfy { !isAlive($0.pid?.rawValue ?? 0) } })
            let svd = try sv.launchProgram(svdPath, ["--foreground"], environment: sv.environment)
            defer {
                kill(svd, SIGTERM)
                var status: Int32 = 0
                waitpid(svd, &status, 0)
            }
            var after: [AppInfo] = []
            #expect(try eventually(within: 3) {
                after = try sv.list()
                return after.count == 2 && after.allSatisfy { $0.status == .online }
            })
            #expect(sv.daemonPids() == [svd])
            for info in after {
                guard let pid = info.pid else { continue }
                #expect(PersistenceTests.sessionMembers(pid.rawValue) == 1)
            }
        }
    }

    /// Once a unit serves an SV_HOME and systemd runs, `sv` starts svd with `systemctl start`,
    /// never by forking it (design.md §7c).
    @Test(.enabled(if: getuid() == 0 && !FileManager.default.fileExists(atPath: "/run/systemd/system"),
                   "needs root to stand in for a running systemd"))
    func svStartsTheDaemonThroughSystemctl() throws {
        try withSupervisor { (sv: Supervisor) throws in
            let bin = sv.work + "/bin"
            let calls = sv.work + "/calls"
            try FileManager.default.createDirectory(atPath: bin, withIntermediateDirectories: true)
            try sv.file(
                "bin/systemctl",
                """
                #!/bin/sh
                echo "$@" >> \(calls)
                case "$*" in *start*) setsid \(svdPath) --foreground </dev/null >/dev/null 2>&1 & ;; esac
                exit 0
                """, executable: true)
            try FileManager.default.createDirectory(atPath: sv.home, withIntermediateDirectories: true)
            let unitFile = try sv.file("sv-test.service", "[Unit]\n")
            try "system sv-test.service \(unitFile)\n".write(toFile: sv.home + "/startup.unit", atomically: true, encoding: .utf8)
            // systemd's mark of a running system manager, for this test only.
            try FileManager.default.createDirectory(atPath: "/run/systemd/system", withIntermediateDirectories: true)
            defer {
                rmdir("/run/systemd/system")
                rmdir("/run/systemd")
            }
            var env = sv.environment
            env["PATH"] = bin + ":" + (env["PATH"] ?? "/usr/bin:/bin")
            let result = try sv.run(["ping"], environment: env)
            #expect(result.status == 0, "\(result.stderr)")
            #expect(((try? String(contentsOfFile: calls, encoding: .utf8)) ?? "").contains("start sv-test.service"))
            #expect(sv.daemonPids().count == 1)
        }
    }
}
