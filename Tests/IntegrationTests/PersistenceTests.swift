import Foundation
import SVCore
import SVProtocol
import SVStore
import Testing

/// State that survives (design.md §5): apps come back once, never twice, never a stranger killed.
@Suite(.serialized, .timeLimit(.minutes(2)))
struct PersistenceTests {
    /// The processes of this supervisor's apps, found by their session (each app leads its own).
    static func sessionMembers(_ pid: Int32) -> Int {
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        return entries.compactMap(Int32.init).filter { candidate in
            guard let stat = try? String(contentsOfFile: "/proc/\(candidate)/stat", encoding: .utf8),
                let close = stat.lastIndex(of: ")")
            else { return false }
            let fields = stat[stat.index(after: close)...].split(separator: " ")
            return fields.count > 3 && fields[0] != "Z" && Int32(fields[3]) == pid
        }.count
    }

    @Test func killedDaemonBringsAppsBackOnceWithTheirIDsAndOptions() throws {
        try withSupervisor { (sv: Supervisor) throws in
            try sv.ok("start", testchild, "--name", "a", "--kill-timeout", "1500", "--", "forever")
            try sv.ok("start", testchild, "--name", "b", "--max-restarts", "7", "--env", "COLOR=blue", "--", "sleep", "60000")
            // b has one restart behind it
            try sv.ok("restart", "b")
            let before = try sv.list()
            #expect(before.map(\.restarts) == [0, 1])
            for pid in sv.daemonPids() { kill(pid, SIGKILL) }
            #expect(eventually { sv.daemonPids().isEmpty })

            let begin = Date()
            var after: [AppInfo] = []
            #expect(try eventually(within: 3) {
                after = try sv.list()
                return after.count == 2 && after.allSatisfy { $0.status == .online }
            })
            #expect(Date().timeIntervalSince(begin) < 3)
            #expect(after.map(\.id) == before.map(\.id))
            #expect(after.map(\.name) == ["a", "b"])
            #expect(after.map(\.restarts) == [0, 1])
            // Exactly one process each: the old ones were stopped before the new ones started.
            for info in after {
                guard let pid = info.pid else { continue }
                #expect(Self.sessionMembers(pid.rawValue) == 1)
            }
            for old in before.compactMap(\.pid) { #expect(!isAlive(old.rawValue)) }
            let spec = try sv.describe("b").spec
            #expect(spec.policy.maxRestarts == 7)
            #expect(spec.env.keys.contains("COLOR"))
            #expect(try sv.describe("a").spec.policy.killTimeout == .milliseconds(1500))
        }
    }

    @Test func appsComeBackAfterADaemonAndAppCrash() throws {
        try withSupervisor { (sv: Supervisor) throws in
            try sv.ok("start", testchild, "--name", "a", "--", "forever")
            try sv.ok("start", testchild, "--name", "b", "--", "forever")
            let before = try sv.list()
            // A reboot, seen from sv.db: svd and the apps die at once.
            for pid in sv.daemonPids() { kill(pid, SIGKILL) }
            for info in before { if let pid = info.pid { kill(-pid.rawValue, SIGKILL) } }
            #expect(eventually { sv.daemonPids().isEmpty && before.allSatisfy { !isAlive($0.pid?.rawValue ?? 0) } })
            var after: [AppInfo] = []
            #expect(try eventually(within: 3) {
                after = try sv.list()
                return after.count == 2 && after.allSatisfy { $0.status == .online }
            })
            #expect(after.map(\.id) == before.map(\.id))
        }
    }

    /// A pid in sv.db that now belongs to someone else (another boot, or another start time) is
    /// left alone.
    @Test(arguments: ["another boot", "another start time"])
    func strangerWithARecordedPidIsLeftAlone(variant: String) throws {
        try withSupervisor { (sv: Supervisor) throws in
            try sv.ok("start", testchild, "--name", "a", "--", "forever")
            let old = try sv.app("a")?.pid
            for pid in sv.daemonPids() { kill(pid, SIGKILL) }
            if let old { kill(-old.rawValue, SIGKILL) }
            #expect(eventually { sv.daemonPids().isEmpty })
            // An unrelated session leader running the same program.
            let stranger = try sv.launchProgram("/usr/bin/setsid", [testchild, "forever"])
            defer {
                kill(stranger, SIGKILL)
                var status: Int32 = 0
                waitpid(stranger, &status, 0)
            }
            #expect(eventually { (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(stranger)/exe")) == testchild })
            let db = try Database(path: sv.home + "/sv.db")
            let ticks = Self.startTicks(stranger)
            let boot = variant == "another boot" ? "'00000000-0000-0000-0000-000000000000'" : "bootID"
            let start = variant == "another boot" ? ticks : ticks + 1
            try db.execute(
                "UPDATE run SET pid = \(stranger), startTicks = \(start), exe = '\(testchild)', bootID = \(boot) WHERE endedAt IS NULL")
            #expect(try eventually(within: 3) { try sv.app("a")?.status == .online })
            #expect(isAlive(stranger))
        }
    }

    static func startTicks(_ pid: Int32) -> Int64 {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8), let close = stat.lastIndex(of: ")") else {
            return 0
        }
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        return Int64(fields[19]) ?? 0
    }

    @Test func sigtermKeepsDesiredStatesForTheNextStart() throws {
        try withSupervisor { (sv: Supervisor) throws in
            try sv.ok("start", testchild, "--name", "a", "--", "forever")
            try sv.ok("start", testchild, "--name", "b", "--", "forever")
            try sv.ok("stop", "b")
            let pid = try sv.app("a")?.pid
            for d in sv.daemonPids() { kill(d, SIGTERM) }
            #expect(eventually { sv.daemonPids().isEmpty })
            if let pid { #expect(!isAlive(pid.rawValue)) }
            let after = try sv.list()
            #expect(after.first { $0.name == "a" }?.status == .online)
            #expect(after.first { $0.name == "b" }?.status == .stopped)
        }
    }

    @Test func killStopsForGood() throws {
        try withSupervisor { (sv: Supervisor) throws in
            try sv.ok("start", testchild, "--name", "a", "--", "forever")
            try sv.ok("kill")
            let after = try sv.list()
            #expect(after.count == 1)
            #expect(after.first?.status == .stopped)
            #expect(after.first?.desired == .stopped)
        }
    }

    @Test func idsAreNeverReused() throws {
        try withSupervisor { (sv: Supervisor) throws in
            try sv.ok("start", testchild, "--name", "a", "--", "forever")
            try sv.ok("start", testchild, "--name", "b", "--", "forever")
            try sv.ok("delete", "b")
            for pid in sv.daemonPids() { kill(pid, SIGKILL) }
            #expect(eventually { sv.daemonPids().isEmpty })
            try sv.ok("start", testchild, "--name", "c", "--", "forever")
            #expect(try sv.app("c")?.id == AppID(3))
        }
    }

    @Test func historySurvivesTheDaemon() throws {
        try withSupervisor { (sv: Supervisor) throws in
            try sv.ok("start", testchild, "--name", "crash", "--max-restarts", "3", "--", "exit", "2")
            #expect(try eventually { try sv.app("crash")?.status == .errored })
            let runs = try sv.describe("crash").runs
            try sv.ok("kill")
            let again = try sv.describe("crash").runs
            #expect(again == runs)
            #expect(again.count == 3)
            #expect(again.allSatisfy { $0.exitCode == 2 })
        }
    }
}

@Suite(.serialized, .timeLimit(.minutes(2)))
struct SavedSetTests {
    @Test func killThenResurrectBringsTheSavedSetBackOnce() throws {
        try withSupervisor { (sv: Supervisor) throws in
            let app = try sv.file("env.js", "setInterval(() => {}, 1000);")
            try sv.ok("start", app, "--name", "web", "--env", "PORT=8080", "--kill-timeout", "2500", "--", "--verbose", "x y")
            try sv.ok("start", testchild, "--name", "worker", "--cwd", "/tmp", "--", "forever")
            try sv.ok("start", testchild, "--name", "idle", "--", "forever")
            try sv.ok("stop", "idle")
            #expect(try sv.ok("save").contains("saved 2 apps"))
            let saved = try String(contentsOfFile: sv.home + "/saved.json", encoding: .utf8)
            #expect(saved.contains("\"web\""))
            #expect(!saved.contains("\"idle\""))
            let mode = try FileManager.default.attributesOfItem(atPath: sv.home + "/saved.json")[.posixPermissions] as? Int
            #expect(mode == 0o600)  // it holds the apps' environment

            try sv.ok("kill")
            #expect(try sv.list().allSatisfy { $0.status == .stopped })  // nothing came back by itself
            let first = try sv.ok("resurrect")
            #expect(first.contains("web (id 1): started"))
            #expect(first.contains("worker (id 2): started"))
            let second = try sv.ok("resurrect")
            #expect(second.contains("web (id 1): already online"))
            let apps = try sv.list()
            #expect(apps.count == 3)  // no duplicate
            #expect(apps.filter { $0.status == .online }.map(\.name).sorted() == ["web", "worker"])
            let web = try sv.describe("web").spec
            #expect(web.env.keys.contains("PORT"))
            #expect(web.args == ["--verbose", "x y"])
            #expect(web.policy.killTimeout == .milliseconds(2500))
            #expect(try sv.describe("worker").spec.cwd == "/tmp")
        }
    }

    /// A db made anew (the old one lost) next to saved.json: resurrect creates the saved apps.
    @Test func resurrectFallsBackToSavedJSON() throws {
        try withSupervisor { (sv: Supervisor) throws in
            try sv.ok("start", testchild, "--name", "keep", "--max-restarts", "9", "--", "forever")
            try sv.ok("save")
            try sv.ok("kill")
            for suffix in ["", "-wal", "-shm"] { unlink(sv.home + "/sv.db" + suffix) }
            #expect(try sv.list().isEmpty)
            #expect(try sv.ok("resurrect").contains("keep (id 1): created and started"))
            #expect(try sv.app("keep")?.status == .online)
            #expect(try sv.describe("keep").spec.policy.maxRestarts == 9)
        }
    }
}
