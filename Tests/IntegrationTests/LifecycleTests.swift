import Foundation
import SVCore
import SVProtocol
import Testing

@Suite(.serialized, .timeLimit(.minutes(2)))
struct LifecycleTests {
    @Test func startListStopRestartDelete() throws {
        try withSupervisor { (sv: Supervisor) throws in
            let app = try sv.file("server.js", "setInterval(() => {}, 1000); console.log('up');")
            let started = try sv.ok("start", app)
            #expect(started.contains("started server (id 1)"))
            let table = try sv.ok("list")
            #expect(table.contains("server"))
            #expect(table.contains("online"))
            guard let info = try sv.app("server"), let pid = info.pid else {
                Issue.record("no pid after start")
                return
            }
            #expect(info.interpreter?.hasSuffix("/node") == true)
            #expect(isAlive(pid.rawValue))

            #expect(try sv.ok("stop", "server").contains("stopped server (id 1): stopped"))
            #expect(!isAlive(pid.rawValue))
            #expect(try sv.app("server")?.status == .stopped)

            try sv.ok("restart", "server")  // a stopped app starts
            let restarted = try sv.app("server")
            #expect(restarted?.status == .online)
            #expect(restarted?.pid != pid)

            try sv.ok("delete", "server")
            #expect(try sv.list().isEmpty)
        }
    }

    @Test func sigkilledAppIsBackWithinOneSecond() throws {
        try withSupervisor { (sv: Supervisor) throws in
            try sv.ok("start", testchild, "--name", "worker", "--", "forever")
            guard let pid = try sv.app("worker")?.pid else {
                Issue.record("no pid")
                return
            }
            kill(pid.rawValue, SIGKILL)
            var next: AppInfo?
            #expect(try eventually(within: 1) {
                next = try sv.app("worker")
                return next?.pid != nil && next?.pid != pid && next?.status == .online
            })
            #expect(next?.restarts == 1)
        }
    }

    @Test func crashLoopBacksOffThenErrors() throws {
        try withSupervisor { (sv: Supervisor) throws in
            try sv.ok("start", testchild, "--name", "crash", "--max-restarts", "5", "--", "exit", "1")
            #expect(try eventually(within: 6) { try sv.app("crash")?.status == .errored })
            let detail = try sv.describe("crash")
            let runs = detail.runs.sorted { $0.run < $1.run }
            #expect(runs.count == 5)
            var gaps: [Int64] = []
            for (previous, next) in zip(runs, runs.dropFirst()) {
                if let ended = previous.endedAtMs { gaps.append(next.startedAtMs - ended) }
            }
            #expect(gaps.count == 4)
            for (gap, expected) in zip(gaps, [100, 200, 400, 800] as [Int64]) {
                #expect(abs(gap - expected) <= 50, "gap \(gap) ms, expected \(expected) ± 50")
            }
            #expect(detail.info.restarts == 4)
            #expect(detail.info.lastDecision.contains("max restarts reached"))
        }
    }

    @Test func restartDelaySpacesUnstableRestarts() throws {
        try withSupervisor { (sv: Supervisor) throws in
            try sv.ok("start", testchild, "--name", "slow", "--restart-delay", "2000", "--", "exit", "1")
            #expect(try eventually(within: 8) { (try sv.app("slow")?.restarts ?? 0) >= 2 })
            let runs = try sv.describe("slow").runs.sorted { $0.run < $1.run }
            for (previous, next) in zip(runs, runs.dropFirst()) {
                guard let ended = previous.endedAtMs else { continue }
                #expect(next.startedAtMs - ended >= 2000)
            }
        }
    }

    @Test func appIgnoringSIGINTIsKilledAfterTheTimeout() throws {
        try withSupervisor { (sv: Supervisor) throws in
            try sv.ok("start", testchild, "--name", "stubborn", "--kill-timeout", "600", "--", "ignore", "2", "print", "ready", "forever")
            // The app must have set SIG_IGN before the stop: wait for its line.
            let log = sv.home + "/logs/stubborn-out.log"
            #expect(eventually { ((try? String(contentsOfFile: log, encoding: .utf8)) ?? "").contains("ready") })
            let begin = Date()
            try sv.ok("stop", "stubborn")
            let elapsed = Date().timeIntervalSince(begin)
            #expect(elapsed >= 0.6)
            let run = try sv.describe("stubborn").runs.last
            #expect(run?.signal == "SIGKILL")
            #expect(run?.escalated == true)
        }
    }

    @Test func stopExitCodesAreNotRestarted() throws {
        try withSupervisor { (sv: Supervisor) throws in
            try sv.ok("start", testchild, "--name", "once", "--stop-exit-codes", "0", "3", "--", "exit", "3")
            #expect(try eventually { try sv.app("once")?.status == .stopped })
            let info = try sv.app("once")
            #expect(info?.restarts == 0)
            #expect(info?.lastDecision.contains("stop exit code") == true)
        }
    }

    @Test func noAutorestartEndsStopped() throws {
        try withSupervisor { (sv: Supervisor) throws in
            try sv.ok("start", testchild, "--name", "single", "--no-autorestart", "--", "exit", "1")
            #expect(try eventually { try sv.app("single")?.status == .stopped })
            #expect(try sv.app("single")?.restarts == 0)
        }
    }

    @Test func nodeReadyMessageIsRecordedAndHarmless() throws {
        try withSupervisor { (sv: Supervisor) throws in
            let app = try sv.file("ready.js", "process.send('ready'); process.send({hello: 'world'}); setInterval(() => {}, 1000);")
            try sv.ok("start", app)
            #expect(try eventually { try sv.app("ready")?.ready == true })
            // Still the same process a second later: send() did not throw (polled: nothing may change).
            let pid = try sv.app("ready")?.pid
            #expect(try !eventually(within: 1.2) { let now = try sv.app("ready"); return now?.pid != pid || now?.restarts != 0 })
            let after = try sv.app("ready")
            #expect(after?.pid == pid)
            #expect(after?.restarts == 0)
            #expect(try sv.describe("ready").messages == 2)
        }
    }

    @Test func grandchildDiesWhenItsAppStops() throws {
        try withSupervisor { (sv: Supervisor) throws in
            try sv.ok("start", testchild, "--name", "parent", "--", "grandchild", "60000", "forever")
            let log = sv.home + "/logs/parent-out.log"
            var grandchild: Int32?
            #expect(eventually {
                let text = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
                grandchild = text.split(separator: "\n").first.flatMap { Int32($0.split(separator: " ").last ?? "") }
                return grandchild != nil
            })
            try sv.ok("stop", "parent")
            if let grandchild { #expect(eventually { !isAlive(grandchild) }) }
        }
    }

    @Test func leftoversOfAnAppThatExitedAreKilledBeforeTheRestart() throws {
        try withSupervisor { (sv: Supervisor) throws in
            // The leader forks a worker and exits after 1.2 s (a stable run): the worker must die
            // before the next run starts.
            try sv.ok("start", testchild, "--name", "leaky", "--", "grandchild", "60000", "sleep", "1200", "exit", "1")
            let log = sv.home + "/logs/leaky-out.log"
            var first: Int32?
            #expect(eventually {
                let text = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
                first = text.split(separator: "\n").first.flatMap { Int32($0.split(separator: " ").last ?? "") }
                return first != nil
            })
            #expect(try eventually(within: 5) { (try sv.app("leaky")?.restarts ?? 0) >= 1 })
            if let first { #expect(eventually { !isAlive(first) }) }
        }
    }

    @Test func pidResetSignalAndLogs() throws {
        try withSupervisor { (sv: Supervisor) throws in
            try sv.ok("start", testchild, "--name", "talker", "--", "print", "one", "print", "two", "eprint", "oops", "print", "three", "forever")
            let pid = try sv.app("talker")?.pid
            #expect(try sv.ok("pid", "talker").trimmingCharacters(in: .whitespacesAndNewlines) == pid?.description)
            let out = sv.home + "/logs/talker-out.log"
            #expect(eventually { ((try? String(contentsOfFile: out, encoding: .utf8)) ?? "").contains("three") })
            let logs = try sv.ok("logs", "talker", "--nostream", "--lines", "2", "--out")
            #expect(logs.contains("two"))
            #expect(logs.contains("three"))
            #expect(!logs.contains("one"))
            #expect(!logs.contains("oops"))
            #expect(try sv.ok("logs", "talker", "--nostream", "--err").contains("oops"))

            try sv.ok("signal", "SIGTERM", "talker")
            #expect(try eventually { try sv.app("talker")?.restarts == 1 })
            let run = try sv.describe("talker").runs.first
            #expect(run?.signal == "SIGTERM")
            try sv.ok("reset", "talker")
            #expect(try sv.app("talker")?.restarts == 0)
        }
    }

    @Test func pingReportsTheDaemon() throws {
        try withSupervisor { (sv: Supervisor) throws in
            let text = try sv.ok("ping", "--json")
            let info = try JSONCoder.decode(PingInfo.self, from: text)
            #expect(info.version == svVersion)
            #expect(info.execGeneration == 1)
            #expect(sv.daemonPids() == [info.pid])
            #expect(try sv.ok("ping").contains("exec generation 1"))
        }
    }

    @Test func twentyParallelStartsShareOneDaemon() throws {
        try withSupervisor { (sv: Supervisor) throws in
            // All 20 are running before any is waited for: they race to start the one svd.
            let running = try (0..<20).map { n in try sv.launch(["start", testchild, "--name", "w\(n)", "--", "forever"]) }
            let results = running.map { $0.wait() }
            #expect(results.count == 20)
            #expect(results.allSatisfy { $0.status == 0 }, "\(results.filter { $0.status != 0 }.map(\.stderr))")
            #expect(sv.daemonPids().count == 1)
            let ids = Set(try sv.list().map(\.id))
            #expect(ids.count == 20)
        }
    }

    @Test func killStopsEverythingAndTheDaemon() throws {
        try withSupervisor { (sv: Supervisor) throws in
            try sv.ok("start", testchild, "--name", "a", "--", "forever")
            let pid = try sv.app("a")?.pid
            #expect(try sv.ok("kill").contains("stopped 1 apps"))
            if let pid { #expect(!isAlive(pid.rawValue)) }
            #expect(eventually { sv.daemonPids().isEmpty })
            // kill never starts a daemon
            #expect(try sv.ok("kill").contains("not running"))
            #expect(sv.daemonPids().isEmpty)
        }
    }

    @Test func sigtermStopsAppsAndExits() throws {
        try withSupervisor { (sv: Supervisor) throws in
            try sv.ok("start", testchild, "--name", "a", "--", "forever")
            let pid = try sv.app("a")?.pid
            let daemon = sv.daemonPids()
            #expect(daemon.count == 1)
            for d in daemon { kill(d, SIGTERM) }
            #expect(eventually { sv.daemonPids().isEmpty })
            if let pid { #expect(!isAlive(pid.rawValue)) }
        }
    }
}

/// A plain `sv start SCRIPT [--name NAME] [-- ARGS]` skips ArgumentParser (FastPath): it must do
/// and print exactly what the parsed command does.
@Suite(.serialized, .timeLimit(.minutes(2)))
struct StartFastPathTests {
    @Test func plainStartMatchesTheParsedCommand() throws {
        try withSupervisor { (sv: Supervisor) throws in
            // The first takes the fast path; the second (an option at its default) the parser.
            let fast = try sv.run(["start", testchild, "--name", "fast", "--", "print", "hi", "forever"])
            let parsed = try sv.run(["start", testchild, "--name", "parsed", "--kill-timeout", "5000", "--", "print", "hi", "forever"])
            #expect(fast.status == 0 && parsed.status == 0, "\(fast.stderr) \(parsed.stderr)")
            func shape(_ text: String) -> String {
                text.replacingOccurrences(of: "fast", with: "N").replacingOccurrences(of: "parsed", with: "N")
                    .replacingOccurrences(of: "[0-9]+", with: "#", options: .regularExpression)
            }
            #expect(shape(fast.stdout) == shape(parsed.stdout), "\(fast.stdout) vs \(parsed.stdout)")
            var a = try sv.describe("fast").spec
            var b = try sv.describe("parsed").spec
            (a.name, b.name) = ("", "")
            #expect(a == b)
            // Errors: the same line and exit code.
            let missingFast = try sv.run(["start", "/nonexistent/app.js"])
            let missingParsed = try sv.run(["start", "/nonexistent/app.js", "--kill-timeout", "5000"])
            #expect(missingFast.status == 1 && missingParsed.status == 1)
            #expect(missingFast.stderr == missingParsed.stderr)
            // An existing name starts again the same way; a bad name goes to the parser (usage).
            try sv.ok("stop", "fast")
            #expect(try sv.run(["start", "fast"]).status == 0)
            #expect(try sv.app("fast")?.status == .online)
            #expect(try sv.run(["start", testchild, "--name", "all"]).status == 64)
        }
    }
}
