import Foundation
import SVCore
import SVProtocol
import SVStore
import Testing

/// Issue 11: every door validates with one function, and no input traps `sv` or svd.
@Suite(.serialized, .timeLimit(.minutes(2)))
struct HardeningTests {
    /// The values that trapped `sv` or svd: refused with exit 64, the option and its range.
    @Test func outOfRangeOptionsAreUsageErrorsWithTheRange() throws {
        try withSupervisor { (sv: Supervisor) throws in
            let cases: [([String], String)] = [
                (["--kill-timeout", "9223372036854"], "--kill-timeout must be between 0 and 86400000 ms (24 h), got 9223372036854"),
                (["--kill-timeout", "-5"], "--kill-timeout must be between 0 and 86400000 ms (24 h), got -5"),
                (["--restart-delay", "9223372036854775807"], "--restart-delay must be between 0 and 86400000 ms"),
                (["--min-uptime", "9223372036854775807"], "--min-uptime must be between 0 and 31536000000 ms"),
                (["--exp-backoff-restart-delay", "9223372036854775"], "--exp-backoff-restart-delay must be between"),
                (["--watch-delay", "9223372036854775807"], "--watch-delay must be between"),
                (["--max-restarts", "-1"], "--max-restarts must be between 0 and"),
                (["--memory-check-interval", "0"], "--memory-check-interval must be between 100 and"),
                (["--log-keep", "1000000000"], "--log-keep must be between 0 and 1000, got 1000000000"),
                (["--kill-signal", "SIGSTOP"], "--kill-signal must be a signal that ends a process"),
                (["--stop-exit-codes", "300"], "--stop-exit-codes must be exit codes between 0 and 255, got 300"),
                (["-o", "/proc/self/mem"], "--output must be a regular file's path, not under /proc"),
                (["-i", "100000"], "--instances must be between 1 and 1024, got 100000"),
            ]
            for (options, message) in cases {
                let result = try sv.run(["start", testchild, "--name", "x"] + options + ["--", "forever"])
                #expect(result.status == 64, "\(options): \(result.stderr)")
                #expect(result.stderr.contains(message), "\(options): \(result.stderr)")
            }
            #expect(sv.daemonPids().isEmpty, "a refused start never reaches svd")
            try sv.ok("start", testchild, "--name", "big", "--", "forever")
            let scale = try sv.run(["scale", "big", "+9223372036854775807"])
            #expect(scale.status == 64, "\(scale.stderr)")
            #expect(scale.stderr.contains("at most 1024"))
            #expect(try sv.list().count == 1)
        }
    }

    @Test func outOfRangeEcosystemValuesNameTheKey() throws {
        try withSupervisor { (sv: Supervisor) throws in
            try sv.file("eco.json", "{\"apps\": [{\"name\": \"e\", \"script\": \"\(testchild)\", \"kill_timeout\": 99999999999999}]}")
            let result = try sv.run(["start", sv.work + "/eco.json"])
            #expect(result.status == 1)
            #expect(result.stderr.contains("apps[0] (e).kill_timeout: kill_timeout must be between 0 and 86400000 ms"), "\(result.stderr)")
            try sv.file("h.json", "{\"apps\": [{\"name\": \"e\", \"script\": \"\(testchild)\", \"restart_delay\": \"99999999999999999h\"}]}")
            let hours = try sv.run(["start", sv.work + "/h.json"])
            #expect(hours.status == 1)
            #expect(hours.stderr.contains("restart_delay must be between"), "\(hours.stderr)")
            #expect(sv.daemonPids().isEmpty)
        }
    }

    /// svd trusts no client: a frame `sv` would never send gets an error reply, and svd goes on.
    @Test func outOfRangeFramesAreRefusedBySvd() throws {
        try withSupervisor { (sv: Supervisor) throws in
            try sv.ok("ping")
            func frame(_ change: (inout AppSpec) -> Void) -> [UInt8] {
                var spec = AppSpec(name: "raw", script: testchild, cwd: sv.work)
                spec.args = ["forever"]
                change(&spec)
                let request = RequestFrame(id: 1, request: .start(StartArguments(specs: [spec], force: false)))
                return Array((request.json.serialized + "\n").utf8)
            }
            let changes: [(String, (inout AppSpec) -> Void)] = [
                ("kill_timeout", { $0.policy.killTimeout = .milliseconds(9_223_372_036_854) }),
                ("kill_signal", { $0.policy.killSignal = Signal(19) }),
                ("kill_signal", { $0.policy.killSignal = Signal(9999) }),
                ("max_restarts", { $0.policy.maxRestarts = -3 }),
                ("memory_check_interval", { $0.memoryCheckIntervalMs = 0 }),
                ("cron_restart", { $0.cronRestart = "garbage" }),
                ("out_file", { $0.outFile = "relative.log" }),
                ("error_file", { $0.errorFile = "/proc/self/mem" }),
                ("instances", { $0.instances = -5 }),
                ("max_memory_restart", { $0.maxMemoryBytes = -1 }),
            ]
            for (key, change) in changes {
                let reply = try rawExchange(socket: sv.home + "/svd.sock", frame(change), untilClose: false)
                #expect(reply.contains("\"ok\":false") && reply.contains("bad_request"), "\(key): \(reply)")
                #expect(reply.contains(key), "\(key): \(reply)")
            }
            #expect(try sv.list().isEmpty)
            #expect(try sv.ok("ping").contains("svd"))
        }
    }

    /// A row of sv.db out of bounds (written by an older svd, or by hand) never traps the next
    /// svd: the app comes back stopped, brought within bounds, saying why, and obeys every command.
    @Test func outOfRangeRowIsRestoredStoppedAndObeys() throws {
        try withSupervisor { (sv: Supervisor) throws in
            try sv.ok("start", testchild, "--name", "bad", "--", "forever")
            try sv.ok("start", testchild, "--name", "good", "--", "forever")
            for pid in sv.daemonPids() { kill(pid, SIGTERM) }
            #expect(eventually { sv.daemonPids().isEmpty })
            let db = try Database(path: sv.home + "/sv.db")
            try db.execute(
                "UPDATE app SET spec = json_set(spec, '$.policy.killTimeoutMs', 9223372036854, '$.policy.killSignal', 19) WHERE name = 'bad'")
            db.close()
            let apps = try sv.list()
            #expect(apps.first { $0.name == "bad" }?.status == .stopped)
            #expect(apps.first { $0.name == "good" }?.status == .online)
            let detail = try sv.describe("bad")
            #expect(detail.spec.policy.killTimeout == SpecBounds.maxDelay)
            #expect(detail.spec.policy.killSignal == .int)
            let log = (try? String(contentsOfFile: sv.home + "/svd.log", encoding: .utf8)) ?? ""
            #expect(log.contains("kill_timeout must be between"), "\(log)")
            try sv.ok("start", "bad")
            try sv.ok("stop", "bad")
            try sv.ok("delete", "bad")
            #expect(try sv.list().map(\.name) == ["good"])
        }
    }

    /// The pids of every live process whose session is `session`.
    static func members(ofSession session: Int32) -> [Int32] {
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        return entries.compactMap(Int32.init).filter { candidate in
            guard let stat = try? String(contentsOfFile: "/proc/\(candidate)/stat", encoding: .utf8),
                let close = stat.lastIndex(of: ")")
            else { return false }
            let fields = stat[stat.index(after: close)...].split(separator: " ")
            return fields.count > 3 && fields[0] != "Z" && Int32(fields[3]) == session
        }
    }

    func grandchildPid(_ sv: Supervisor, _ name: String) -> Int32? {
        let log = (try? String(contentsOfFile: sv.home + "/logs/\(name)-out.log", encoding: .utf8)) ?? ""
        return log.split(separator: "\n").first { $0.hasPrefix("grandchild ") }.flatMap { Int32($0.dropFirst(11)) }
    }

    /// svd killed -9: an app that logs dies of SIGPIPE, its child lives on in its session. The
    /// next svd stops that session although its leader is gone (it used to start the app again
    /// beside it), and serves clients and the other apps meanwhile: the stop of a child that
    /// ignores SIGINT waits its kill timeout, `sv list` does not.
    @Test func svdCrashLeavesNoOrphanAndNeverBlocks() throws {
        try withSupervisor { (sv: Supervisor) throws in
            try sv.ok("start", testchild, "--name", "logger", "--", "grandchild", "600000", "ticker", "20")
            try sv.ok(
                "start", testchild, "--name", "stubborn", "--kill-timeout", "3000", "--", "ignore", "2", "grandchild", "600000",
                "forever")
            try sv.ok("start", testchild, "--name", "plain", "--", "forever")
            var children: [String: Int32] = [:]
            #expect(eventually {
                children["logger"] = grandchildPid(sv, "logger")
                children["stubborn"] = grandchildPid(sv, "stubborn")
                return children.count == 2
            })
            let before = try sv.list()
            for pid in sv.daemonPids() { kill(pid, SIGKILL) }
            #expect(eventually { sv.daemonPids().isEmpty })
            // The logger's leader dies of SIGPIPE at its next line; its child stays.
            let loggerLeader = try #require(before.first { $0.name == "logger" }?.pid?.rawValue)
            #expect(eventually { !isAlive(loggerLeader) })
            #expect(isAlive(children["logger"] ?? 0))

            let begin = Date()
            let during = try sv.list()
            #expect(Date().timeIntervalSince(begin) < 2, "svd answers while it stops what the old one left")
            #expect(during.first { $0.name == "stubborn" }?.status == .stopping)
            #expect(try eventually(within: 2) { try sv.app("plain")?.status == .online })
            #expect(try eventually(within: 2) { try sv.app("logger")?.status == .online })
            #expect(eventually { !isAlive(children["logger"] ?? 0) }, "the orphan of a dead leader is stopped")
            #expect(isAlive(children["stubborn"] ?? 0), "SIGINT ignored: alive until the kill timeout")
            #expect(try eventually(within: 6) { try sv.app("stubborn")?.status == .online })
            #expect(!isAlive(children["stubborn"] ?? 0))
            // One instance each, and no process of the old sessions left.
            for info in before {
                guard let pid = info.pid?.rawValue else { continue }
                #expect(Self.members(ofSession: pid).isEmpty, "\(info.name)")
            }
            for info in try sv.list() {
                guard let pid = info.pid?.rawValue else { continue }
                #expect(Self.members(ofSession: pid).count == (info.name == "plain" ? 1 : 2), "\(info.name)")
            }
            let log = (try? String(contentsOfFile: sv.home + "/svd.log", encoding: .utf8)) ?? ""
            #expect(log.contains("ended without shutting down"))
            let runs = try sv.describe("logger").runs
            #expect(runs.first?.decision?.contains("stopped at svd start") == true, "\(runs)")
        }
    }

    /// A run whose row never reached sv.db (svd died between the spawn and the commit) is found
    /// by the mark every run carries (SV_HOME, SV_APP_ID, SV_RUN) and stopped: never two.
    @Test func unrecordedSpawnIsFoundByItsMark() throws {
        try withSupervisor { (sv: Supervisor) throws in
            try sv.ok("start", testchild, "--name", "a", "--", "forever")
            let old = try #require(try sv.app("a")?.pid?.rawValue)
            for pid in sv.daemonPids() { kill(pid, SIGKILL) }
            #expect(eventually { sv.daemonPids().isEmpty })
            let db = try Database(path: sv.home + "/sv.db")
            try db.execute("DELETE FROM run")
            db.close()
            #expect(try eventually(within: 3) { try sv.app("a")?.status == .online })
            #expect(eventually { !isAlive(old) })
            let now = try #require(try sv.app("a")?.pid?.rawValue)
            #expect(now != old)
            let runs = try sv.describe("a").runs
            #expect(runs.contains { $0.decision?.contains("ended before recording it") == true }, "\(runs)")
        }
    }

    /// After a clean stop (SIGTERM), nothing is said to have crashed and no mark is looked for.
    @Test func cleanStopIsNotACrash() throws {
        try withSupervisor { (sv: Supervisor) throws in
            try sv.ok("start", testchild, "--name", "a", "--", "forever")
            for pid in sv.daemonPids() { kill(pid, SIGTERM) }
            #expect(eventually { sv.daemonPids().isEmpty })
            #expect(!FileManager.default.fileExists(atPath: sv.home + "/svd.running"))
            #expect(try eventually(within: 3) { try sv.app("a")?.status == .online })
            let log = (try? String(contentsOfFile: sv.home + "/svd.log", encoding: .utf8)) ?? ""
            #expect(!log.contains("ended without shutting down"))
        }
    }
}

/// Own your home (issue 11, STYLE.md 27b): nothing of another user's is trusted.
@Suite(.serialized, .timeLimit(.minutes(2)))
struct OwnYourHomeTests {
    func svd(_ sv: Supervisor) throws -> CommandResult {
        try sv.run(["--foreground"], environment: sv.environment, program: svdPath)
    }

    @Test func homeWritableByOthersIsRefusedBySvAndSvd() throws {
        try withSupervisor { (sv: Supervisor) throws in
            try FileManager.default.createDirectory(atPath: sv.home, withIntermediateDirectories: true)
            chmod(sv.home, 0o777)
            let result = try sv.sv("ping")
            #expect(result.status == 1)
            #expect(result.stderr == "sv: \(sv.home) is writable by its group or others (mode 777): refused (chmod go-w \(sv.home))\n")
            let daemon = try svd(sv)
            #expect(daemon.status == 1)
            #expect(daemon.stderr.contains("is writable by its group or others"), "\(daemon.stderr)")
            #expect(!FileManager.default.fileExists(atPath: sv.home + "/sv.db"))
            chmod(sv.home, 0o700)
            try sv.ok("ping")
        }
    }

    @Test(.enabled(if: getuid() == 0, "only root can give a directory to another user"))
    func anotherUsersHomeIsRefusedByRoot() throws {
        try withSupervisor { (sv: Supervisor) throws in
            try FileManager.default.createDirectory(atPath: sv.home, withIntermediateDirectories: true)
            // A planted sv.db that would run the other user's script as root.
            let db = try Database(path: sv.home + "/sv.db")
            db.close()
            chown(sv.home, 65534, 65534)
            chown(sv.home + "/sv.db", 65534, 65534)
            let result = try sv.sv("list")
            #expect(result.status == 1)
            #expect(result.stderr.contains("\(sv.home) belongs to uid 65534"), "\(result.stderr)")
            #expect(result.stderr.contains("not to uid 0"), "\(result.stderr)")
            let daemon = try svd(sv)
            #expect(daemon.status == 1)
            #expect(daemon.stderr.contains("belongs to uid 65534"), "\(daemon.stderr)")
            #expect(sv.daemonPids().isEmpty)
        }
    }

    @Test func symlinksInTheHomeAreNotFollowed() throws {
        try withSupervisor { (sv: Supervisor) throws in
            try sv.ok("ping")
            let secret = try sv.file("secret", "precious\n")
            // A link where an app's log would go: refused, the target untouched.
            symlink(secret, sv.home + "/logs/x-out.log")
            let start = try sv.sv("start", testchild, "--name", "x", "--", "print", "hello", "forever")
            #expect(start.status == 1)
            #expect(start.stderr.contains("x-out.log is a symbolic link"), "\(start.stderr)")
            #expect(try String(contentsOfFile: secret, encoding: .utf8) == "precious\n")
            // A user-given path that is a link: the same.
            symlink(secret, sv.work + "/link.log")
            let given = try sv.sv("start", testchild, "--name", "y", "-o", sv.work + "/link.log", "--", "forever")
            #expect(given.status == 1)
            #expect(given.stderr.contains("is a symbolic link"), "\(given.stderr)")
            // svd.log as a link: svd refuses to start.
            try sv.ok("kill")
            unlink(sv.home + "/svd.log")
            symlink(secret, sv.home + "/svd.log")
            let daemon = try svd(sv)
            #expect(daemon.status == 1)
            #expect(try String(contentsOfFile: secret, encoding: .utf8) == "precious\n")
            // sv.db as a link: refused too.
            unlink(sv.home + "/svd.log")
            rename(sv.home + "/sv.db", sv.work + "/real.db")
            for suffix in ["-wal", "-shm"] { unlink(sv.home + "/sv.db" + suffix) }
            symlink(sv.work + "/real.db", sv.home + "/sv.db")
            let linked = try svd(sv)
            #expect(linked.status == 1)
            #expect(linked.stderr.contains("sv.db is a symbolic link"), "\(linked.stderr)")
        }
    }

    @Test func aLogFileOfAnotherUserOrWithTwoNamesIsRefused() throws {
        try withSupervisor { (sv: Supervisor) throws in
            let target = try sv.file("other.log", "")
            link(target, sv.work + "/second-name.log")
            let linked = try sv.sv("start", testchild, "--name", "h", "-o", target, "--", "forever")
            #expect(linked.status == 1)
            #expect(linked.stderr.contains("has other hard links"), "\(linked.stderr)")
            if getuid() == 0 {
                unlink(sv.work + "/second-name.log")
                chown(target, 65534, 65534)
                let foreign = try sv.sv("start", testchild, "--name", "h", "-o", target, "--", "forever")
                #expect(foreign.status == 1)
                #expect(foreign.stderr.contains("belongs to uid 65534"), "\(foreign.stderr)")
            }
            #expect(try sv.list().isEmpty)
        }
    }

    /// A socket in the home served by another user (made before svd could): `sv` checks its
    /// peer and sends nothing, so no request (with the caller's environment) reaches it.
    @Test(.enabled(if: getuid() == 0, "listening as another user needs root"))
    func aSocketOfAnotherUserGetsNothing() throws {
        try withSupervisor { (sv: Supervisor) throws in
            try FileManager.default.createDirectory(atPath: sv.home, withIntermediateDirectories: true)
            chmod(sv.home, 0o700)
            let record = sv.work + "/received"
            let impostor = try sv.launchProgram(testchild, ["impostor", sv.home + "/svd.sock", "65534", record])
            defer {
                kill(impostor, SIGKILL)
                var status: Int32 = 0
                waitpid(impostor, &status, 0)
            }
            #expect(eventually { FileManager.default.fileExists(atPath: sv.home + "/svd.sock") })
            let result = try sv.run(["start", testchild, "--name", "s", "--env", "TOKEN=secret", "--", "forever"])
            #expect(result.status == 1)
            #expect(result.stderr.contains("is served by uid 65534"), "\(result.stderr)")
            #expect(((try? String(contentsOfFile: record, encoding: .utf8)) ?? "").isEmpty)
        }
    }
}

/// Bounded resources (issue 11): svd's descriptor limit reached is one clear error.
@Suite(.serialized, .timeLimit(.minutes(2)))
struct ResourceTests {
    @Test func descriptorLimitIsNamedWhenReached() throws {
        try withSupervisor { (sv: Supervisor) throws in
            try sv.ok("ping")
            let pid = try #require(sv.daemonPids().first)
            #expect(try sv.launchAndWait("/usr/bin/prlimit", ["--pid", "\(pid)", "--nofile=40:40"]) == 0)
            var failure: CommandResult?
            for n in 0..<10 {
                let result = try sv.sv("start", testchild, "--name", "f\(n)", "--", "forever")
                if result.status != 0 {
                    failure = result
                    break
                }
            }
            let refused = try #require(failure)
            #expect(refused.stderr.contains("reached its limit of 40 open descriptors"), "\(refused.stderr)")
            #expect(refused.stderr.split(separator: "\n").count == 1)
            // Those that started run on, and svd answers.
            let apps = try sv.list()
            #expect(!apps.isEmpty && apps.allSatisfy { $0.status == .online })
        }
    }
}
