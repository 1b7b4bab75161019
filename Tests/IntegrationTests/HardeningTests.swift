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
}
