import Foundation
import SVCore
import SVProtocol
import Testing

/// Cron restarts and the memory limit (issue 7), with a real svd.
@Suite(.serialized, .timeLimit(.minutes(2)))
struct CronRestartTests {
    @Test func secondsFieldRestartsARunningApp() throws {
        try withSupervisor { (sv: Supervisor) throws in
            let start = try sv.run(["start", testchild, "--name", "tick", "--cron-restart", "*/2 * * * * *", "--", "forever"])
            #expect(start.status == 0, "\(start.stderr)")
            let firstPid = try #require(try sv.app("tick")?.pid)
            // Every two seconds: within 5 s at least one restart, with the schedule as reason.
            #expect(eventually(within: 5) { (try? sv.app("tick")?.restarts ?? 0) ?? 0 >= 1 })
            let app = try #require(try sv.app("tick"))
            #expect(app.pid != firstPid)
            #expect(try sv.describe("tick").info.lastDecision.contains("cron */2 * * * * *"))
            // A stopped app is not started by its schedule.
            try sv.ok("stop", "tick")
            let restarts = try #require(try sv.app("tick")).restarts
            #expect(!eventually(within: 2.5) { (try? sv.app("tick")?.status) != .stopped })
            #expect(try sv.app("tick")?.restarts == restarts)
        }
    }

    @Test func badExpressionsAreRefused() throws {
        try withSupervisor { (sv: Supervisor) throws in
            let bad = try sv.run(["start", testchild, "--cron-restart", "61 * * * *", "--", "forever"])
            #expect(bad.status == 64)
            #expect(bad.stderr.contains("minute 61 is out of range 0-59"), "\(bad.stderr)")
            let file = try sv.file("cron.json", "{\"apps\": [{\"name\": \"c\", \"script\": \"\(testchild)\", \"cron_restart\": \"* * *\"}]}")
            let fromFile = try sv.run(["start", file])
            #expect(fromFile.status == 1)
            #expect(fromFile.stderr.contains("apps[0] (c).cron_restart: '* * *' has 3 fields"), "\(fromFile.stderr)")
            #expect(try sv.list().isEmpty)
        }
    }
}

@Suite(.serialized, .timeLimit(.minutes(2)))
struct MemoryLimitTests {
    func read(_ path: String) -> String { (try? String(contentsOfFile: path, encoding: .utf8)) ?? "" }

    /// A node app whose child process (same session) grows by ~40 MB a second.
    func writeLeaker(_ sv: Supervisor, detached: Bool = false) throws -> String {
        try sv.file(
            detached ? "detached.js" : "leaker.js",
            """
            const { spawn } = require('child_process');
            const leak = "const a = []; setInterval(() => a.push(Buffer.alloc(4e6, 1)), 100);" +
              "require('fs').writeFileSync(process.argv[1], String(process.pid));";
            const child = spawn(process.execPath, ['-e', leak, '\(sv.work)/child-\(detached ? "detached" : "leaker").pid'],
              { stdio: 'ignore', detached: \(detached) });
            console.log('parent ' + process.pid + ' child ' + child.pid);
            setInterval(() => {}, 1000);
            """)
    }

    @Test func aLeakingChildRestartsTheAppAndAnAppUnderItsLimitStays() throws {
        try withSupervisor { (sv: Supervisor) throws in
            let leaker = try writeLeaker(sv)
            let start = try sv.run(["start", leaker, "--max-memory-restart", "150M", "--memory-check-interval", "200"])
            #expect(start.status == 0, "\(start.stderr)")
            try sv.file("calm.js", "setInterval(() => {}, 1000);")
            try sv.ok("start", sv.work + "/calm.js", "--max-memory-restart", "500M", "--memory-check-interval", "200")
            // The parent stays small; its child crosses 150 MB in a few seconds.
            #expect(eventually(within: 20) { (try? sv.app("leaker")?.restarts ?? 0) ?? 0 >= 1 })
            let detail = try sv.describe("leaker")
            #expect(detail.runs.contains { $0.decision?.contains("memory") == true && $0.decision?.contains("> 150 MB") == true },
                "\(detail.runs.map { $0.decision ?? "" })")
            #expect(try sv.app("calm")?.restarts == 0)
            // list shows the tree: more than the leader alone would use.
            #expect(eventually(within: 10) { ((try? sv.app("leaker")?.memoryBytes) ?? 0) > 60 << 20 })
            let log = read(sv.home + "/svd.log")
            #expect(log.contains("leaker (id 1): memory") && log.contains("restarting"))
        }
    }

    /// `list` counts a single-threaded leader's children too (its kept `children` file, read
    /// again at each list), and drops one that exited.
    @Test func listShowsTheTreeOfASingleThreadedLeader() throws {
        try withSupervisor { (sv: Supervisor) throws in
            // SIGTERM: background jobs of a non-interactive sh ignore SIGINT (POSIX).
            try sv.ok("start", "sh -c 'sleep 60 & sleep 60 & sleep 60 & wait'", "--name", "tree", "--kill-signal", "SIGTERM")
            let leader = try #require(try sv.app("tree")?.pid)
            func residentKB(_ pid: Int32) -> Int {
                let status = (try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)) ?? ""
                return status.split(separator: "\n").first { $0.hasPrefix("VmRSS:") }
                    .flatMap { Int($0.split(separator: " ", omittingEmptySubsequences: true)[1]) } ?? 0
            }
            func children() -> [Int32] {
                ((try? String(contentsOfFile: "/proc/\(leader.rawValue)/task/\(leader.rawValue)/children", encoding: .utf8)) ?? "")
                    .split(separator: " ").compactMap { Int32($0) }
            }
            #expect(eventually { children().count == 3 })
            let tree = { (try? sv.app("tree")?.memoryBytes ?? 0) ?? 0 }
            let expected = (residentKB(leader.rawValue) + children().map(residentKB).reduce(0, +)) * 1024
            #expect(eventually { abs(Int(tree()) - expected) < expected / 4 }, "tree \(tree()) vs \(expected)")
            // One child gone: the next list no longer counts it.
            let gone = try #require(children().first)
            kill(gone, SIGKILL)
            #expect(eventually { children().count == 2 })
            let smaller = (residentKB(leader.rawValue) + children().map(residentKB).reduce(0, +)) * 1024
            #expect(eventually { abs(Int(tree()) - smaller) < smaller / 4 && Int(tree()) < expected })
        }
    }

    /// The sampler ticks only while an app with a limit runs: once it is stopped, no timer of
    /// svd is armed (read from /proc/PID/fdinfo, no waiting).
    @Test func noSamplingWithoutARunningLimitedApp() throws {
        try withSupervisor { (sv: Supervisor) throws in
            try sv.ok("start", testchild, "--name", "limited", "--max-memory-restart", "100M", "--", "forever")
            let svd = try #require(sv.daemonPids().first)
            /// The `it_value` lines of svd's timerfds: "(0, 0)" is disarmed.
            func armedTimers() -> Int {
                let fds = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(svd)/fd")) ?? []
                return fds.filter { fd in
                    let target = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(svd)/fd/\(fd)")) ?? ""
                    guard target.contains("timerfd") else { return false }
                    let info = (try? String(contentsOfFile: "/proc/\(svd)/fdinfo/\(fd)", encoding: .utf8)) ?? ""
                    return info.contains("it_value") && !info.contains("it_value: (0, 0)")
                }.count
            }
            #expect(eventually { armedTimers() >= 1 })  // the sampler
            try sv.ok("stop", "limited")
            #expect(eventually { armedTimers() == 0 })
            try sv.ok("start", "limited")
            #expect(eventually { armedTimers() >= 1 })
        }
    }

    /// A child that called setsid left the session: it is not counted, and not stopped with
    /// the app (docs/limits.md says so).
    @Test func aChildThatCalledSetsidEscapes() throws {
        try withSupervisor { (sv: Supervisor) throws in
            let detached = try writeLeaker(sv, detached: true)
            try sv.ok("start", detached, "--max-memory-restart", "100M", "--memory-check-interval", "200")
            let pidFile = sv.work + "/child-detached.pid"
            #expect(eventually { !read(pidFile).isEmpty })
            let child = try #require(Int32(read(pidFile)))
            defer { kill(child, SIGKILL) }
            // Its memory grows past the limit, yet the app is not restarted: the child is
            // outside the app's session.
            #expect(eventually(within: 10) {
                ((try? String(contentsOfFile: "/proc/\(child)/status", encoding: .utf8)) ?? "").split(separator: "\n")
                    .first { $0.hasPrefix("VmRSS:") }.flatMap { Int($0.split(separator: " ")[1]) }.map { $0 > 150_000 } ?? false
            })
            #expect(try sv.app("detached")?.restarts == 0)
            try sv.ok("stop", "detached")
            #expect(isAlive(child))  // escaped the group's stop too
        }
    }
}
