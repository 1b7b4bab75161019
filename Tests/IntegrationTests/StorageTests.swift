import Foundation
import SVCore
import SVProtocol
import SVStore
import Testing

/// Bad storage at start (design.md §5, docs/state.md): never a silent empty start.
@Suite(.serialized, .timeLimit(.minutes(2)))
struct StorageTests {
    /// Two apps saved and desired online, svd stopped with SIGTERM (desired states kept).
    func prepare(_ sv: Supervisor) throws {
        try sv.ok("start", testchild, "--name", "a", "--", "forever")
        try sv.ok("start", testchild, "--name", "b", "--", "forever")
        try sv.ok("save")
        for pid in sv.daemonPids() { kill(pid, SIGTERM) }
        #expect(eventually { sv.daemonPids().isEmpty })
    }

    func movedAside(_ sv: Supervisor) -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: sv.home)) ?? []).filter { $0.hasPrefix("sv.db.corrupt-") }
    }

    func expectRecovered(_ sv: Supervisor) throws {
        let apps = try sv.list()
        #expect(apps.map(\.name).sorted() == ["a", "b"])
        #expect(apps.allSatisfy { $0.status == .online })
        #expect(movedAside(sv).contains { !$0.hasSuffix("-wal") && !$0.hasSuffix("-shm") })
        let log = (try? String(contentsOfFile: sv.home + "/svd.log", encoding: .utf8)) ?? ""
        #expect(log.contains("is corrupt"))
    }

    @Test func overwrittenHeaderIsMovedAsideAndAppsRecovered() throws {
        try withSupervisor { (sv: Supervisor) throws in
            try prepare(sv)
            let handle = try #require(FileHandle(forWritingAtPath: sv.home + "/sv.db"))
            handle.write(Data(repeating: 0x41, count: 100))
            try handle.close()
            try expectRecovered(sv)
        }
    }

    @Test func truncatedMidPageIsMovedAsideAndAppsRecovered() throws {
        try withSupervisor { (sv: Supervisor) throws in
            try prepare(sv)
            // Fold the WAL into the file first, so the truncation cuts real pages.
            let db = try Database(path: sv.home + "/sv.db")
            try db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            let size = (try FileManager.default.attributesOfItem(atPath: sv.home + "/sv.db")[.size] as? Int) ?? 0
            #expect(size > 8192)
            truncate(sv.home + "/sv.db", off_t(4096 + 1000))
            try expectRecovered(sv)
        }
    }

    @Test func notADatabaseIsMovedAsideAndAppsRecovered() throws {
        try withSupervisor { (sv: Supervisor) throws in
            try prepare(sv)
            for suffix in ["", "-wal", "-shm"] { unlink(sv.home + "/sv.db" + suffix) }
            try "just some text, not SQLite\n".write(toFile: sv.home + "/sv.db", atomically: false, encoding: .utf8)
            try expectRecovered(sv)
        }
    }

    /// A -wal that does not belong to the database is ignored by SQLite: the apps come back from
    /// the db itself.
    @Test func staleWALDoesNotLoseTheApps() throws {
        try withSupervisor { (sv: Supervisor) throws in
            try prepare(sv)
            try Data(repeating: 0x5A, count: 40_000).write(to: URL(fileURLWithPath: sv.home + "/sv.db-wal"))
            let apps = try sv.list()
            #expect(apps.map(\.name).sorted() == ["a", "b"])
            #expect(apps.allSatisfy { $0.status == .online })
        }
    }

    @Test func newerSchemaStopsWithOneLine() throws {
        try withSupervisor { (sv: Supervisor) throws in
            try prepare(sv)
            try Database(path: sv.home + "/sv.db").execute("PRAGMA user_version = 99")
            let result = try sv.sv("list")
            #expect(result.status == 1)
            #expect(result.stderr.contains(sv.home + "/sv.db"))
            #expect(result.stderr.contains("newer"))
            #expect(movedAside(sv).isEmpty)  // a newer svd's data is never touched
        }
    }

    @Test func readOnlyDatabaseStopsWithOneLine() throws {
        try withSupervisor { (sv: Supervisor) throws in
            try prepare(sv)
            let path = sv.home + "/sv.db"
            // As root, permissions do not stop writes: the immutable attribute does.
            let made = getuid() == 0 ? (try sv.launchAndWait("/usr/bin/chattr", ["+i", path])) : chmod(path, 0o400)
            #expect(made == 0)
            defer { if getuid() == 0 { _ = try? sv.launchAndWait("/usr/bin/chattr", ["-i", path]) } }
            let result = try sv.sv("list")
            #expect(result.status == 1)
            #expect(result.stderr.contains("read-only"))
            #expect(result.stderr.contains(path))
        }
    }

    /// quick_check stays fast with a long history (design.md §5): 10,000 runs.
    @Test func quickCheckIsFastWithTenThousandRuns() throws {
        try withSupervisor { (sv: Supervisor) throws in
            try prepare(sv)
            let db = try Database(path: sv.home + "/sv.db")
            try db.execute(
                """
                WITH RECURSIVE n(i) AS (SELECT 1000 UNION ALL SELECT i + 1 FROM n WHERE i < 11000)
                INSERT INTO run (appID, run, pid, bootID, startTicks, exe, startedAt, endedAt, exitCode, decision)
                SELECT 1, i, 1, 'b', 1, '/x', i, i + 1, 1, 'exit code 1 after 3 ms' FROM n;
                """)
            try sv.ok("ping")
            let log = (try? String(contentsOfFile: sv.home + "/svd.log", encoding: .utf8)) ?? ""
            let line = log.split(separator: "\n").last { $0.contains("quick_check ok in") }
            let ms = line.flatMap { Int($0.split(separator: " ").dropLast().last ?? "") } ?? 99999
            #expect(ms < 500, "quick_check took \(ms) ms")
        }
    }
}

/// A full disk under sv.db at run time (design.md §5): svd keeps supervising from memory and fails
/// only the commands that change state, with a clear line; once there is room again, they work.
@Suite(.serialized, .timeLimit(.minutes(2)))
struct FullDiskTests {
    @Test(.enabled(if: getuid() == 0, "mounting a small tmpfs needs root"))
    func fullDiskKeepsAppsSupervised() throws {
        var template = Array("/tmp/svfull-XXXXXX".utf8CString)
        guard let made = mkdtemp(&template) else { throw CLIFailure("mkdtemp failed") }
        let mountPoint = String(cString: made)
        let sv = try Supervisor(home: mountPoint + "/h")
        let probe = try sv.launchAndWait("/bin/mount", ["-t", "tmpfs", "-o", "size=2m", "tmpfs", mountPoint])
        try #require(probe == 0, "mount failed")
        defer {
            sv.tearDown()
            _ = try? sv.launchAndWait("/bin/umount", ["-l", mountPoint])
            rmdir(mountPoint)
        }
        try sv.ok("start", testchild, "--name", "a", "--", "forever")
        // Fill the file system.
        let filler = mountPoint + "/filler"
        _ = try sv.launchAndWait("/bin/dd", ["if=/dev/zero", "of=\(filler)", "bs=64k", "count=100"])
        // A change of state is refused with one clear line...
        var refused: CommandResult?
        for n in 0..<50 {
            let result = try sv.sv("start", testchild, "--name", "b\(n)", "--", "forever")
            if result.status != 0 {
                refused = result
                break
            }
        }
        #expect(refused?.stderr.contains("sv.db") == true)
        #expect(refused?.stderr.split(separator: "\n").count == 1)
        // ...while the app is still supervised: killed, it comes back.
        guard let pid = try sv.app("a")?.pid else {
            Issue.record("no pid")
            return
        }
        kill(pid.rawValue, SIGKILL)
        #expect(try eventually { let info = try sv.app("a"); return info?.pid != nil && info?.pid != pid })
        // Room again: commands work.
        unlink(filler)
        #expect(try eventually { try sv.sv("start", testchild, "--name", "c", "--", "forever").status == 0 })
        #expect(try sv.app("c")?.status == .online)
    }
}
