import Foundation
import SVCore
import SVProtocol
import Testing

/// `--watch` (issue 7) with a real svd, real files and inotify.
@Suite(.serialized, .timeLimit(.minutes(3)))
struct WatchTests {
    func write(_ path: String, _ text: String = "x") { try? text.write(toFile: path, atomically: false, encoding: .utf8) }

    func restarts(_ sv: Supervisor, _ name: String = "w") -> Int { (try? sv.app(name)?.restarts) ?? -1 }

    /// A watched app in `<work>/src`, quiet time `delay` ms; returns the folder.
    func startWatched(_ sv: Supervisor, delay: Int = 300, extra: [String] = []) throws -> String {
        let folder = sv.work + "/src"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let result = try sv.run(
            ["start", testchild, "--name", "w", "--cwd", folder, "--watch", "--watch-delay", String(delay)] + extra + ["--", "forever"])
        #expect(result.status == 0, "\(result.stderr)")
        // Watching is set up right after the start's iteration: describe says so.
        #expect(eventually { (try? sv.ok("describe", "w"))?.contains("watching") == true })
        return folder
    }

    @Test func aChangeRestartsOnceAfterTheQuietTime() throws {
        try withSupervisor { (sv: Supervisor) throws in
            let folder = try startWatched(sv)
            let before = Date()
            write(folder + "/app.js")
            #expect(eventually(within: 1.3) { restarts(sv) == 1 })
            #expect(Date().timeIntervalSince(before) >= 0.3)  // not before the quiet time
            #expect(try sv.describe("w").info.lastDecision == "restarted: file changed: \(folder)/app.js")
            #expect(!eventually(within: 1) { restarts(sv) > 1 })
        }
    }

    @Test func aBurstGivesOneRestart() throws {
        try withSupervisor { (sv: Supervisor) throws in
            let folder = try startWatched(sv)
            let start = Date()
            for n in 0..<100 { write(folder + "/file\(n % 10).js", "\(n)") }
            #expect(Date().timeIntervalSince(start) < 0.2)
            #expect(eventually(within: 1.5) { restarts(sv) == 1 })
            #expect(!eventually(within: 1) { restarts(sv) > 1 })
        }
    }

    @Test func aNewSubdirectoryIsWatched() throws {
        try withSupervisor { (sv: Supervisor) throws in
            let folder = try startWatched(sv, delay: 200)
            try FileManager.default.createDirectory(atPath: folder + "/lib/deep", withIntermediateDirectories: true)
            #expect(eventually(within: 1.5) { restarts(sv) == 1 })  // the new folder is a change itself
            write(folder + "/lib/deep/util.js")
            #expect(eventually(within: 1.5) { restarts(sv) == 2 })
            #expect(try sv.describe("w").info.lastDecision.contains("lib/deep/util.js"))
        }
    }

    @Test func ignoredPathsAndOwnLogsRestartNothing() throws {
        try withSupervisor { (sv: Supervisor) throws in
            let folder = sv.work + "/src"
            try FileManager.default.createDirectory(atPath: folder + "/node_modules/pkg", withIntermediateDirectories: true)
            try FileManager.default.createDirectory(atPath: folder + "/.git", withIntermediateDirectories: true)
            try FileManager.default.createDirectory(atPath: folder + "/cache", withIntermediateDirectories: true)
            // Its own log inside the watched folder, written every 50 ms.
            let ticker = try sv.file("ticker.js", "setInterval(() => console.log('tick'), 50);")
            let result = try sv.run([
                "start", ticker, "--name", "w", "--cwd", folder, "--watch", "--watch-delay", "200", "--ignore-watch", "*.tmp",
                "--ignore-watch", "cache/*", "-o", folder + "/out.log",
            ])
            #expect(result.status == 0, "\(result.stderr)")
            #expect(eventually { (try? sv.ok("describe", "w"))?.contains("watching") == true })
            write(folder + "/node_modules/pkg/index.js")
            write(folder + "/.git/HEAD")
            write(folder + "/notes.tmp")
            write(folder + "/cache/blob")
            #expect(!eventually(within: 1.2) { restarts(sv) != 0 })
            // A real change still counts.
            write(folder + "/index.js")
            #expect(eventually(within: 1.5) { restarts(sv) == 1 })
        }
    }

    @Test func deletingTheWatchedFolderKeepsTheAppAndWatchingResumes() throws {
        try withSupervisor { (sv: Supervisor) throws in
            let folder = try startWatched(sv, delay: 200)
            try FileManager.default.createDirectory(atPath: folder + "/lib", withIntermediateDirectories: true)
            #expect(eventually(within: 2) { restarts(sv) == 1 })
            write(folder + "/lib/a.js")
            write(folder + "/b.js")
            #expect(eventually(within: 2) { restarts(sv) == 2 })
            // `rm -rf` of the root, files and all: its deletions do not restart the app.
            try FileManager.default.removeItem(atPath: folder)
            #expect(eventually { (try? sv.ok("describe", "w"))?.contains("watch root missing") == true })
            #expect(!eventually(within: 0.8) { restarts(sv) != 2 })
            #expect(try sv.app("w")?.status == .online)
            #expect(try sv.run(["ping"]).status == 0)
            // It comes back (a deploy made it again): its files count, watching goes on.
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
            write(folder + "/server.js")
            #expect(eventually(within: 2) { restarts(sv) >= 3 })
            let after = restarts(sv)
            write(folder + "/server.js", "again")
            #expect(eventually(within: 2) { restarts(sv) == after + 1 })
        }
    }

    @Test func flippingASymlinkedCwdRestarts() throws {
        try withSupervisor { (sv: Supervisor) throws in
            let releases = sv.work + "/releases"
            for n in 1...2 { try FileManager.default.createDirectory(atPath: "\(releases)/\(n)", withIntermediateDirectories: true) }
            let current = sv.work + "/current"
            try FileManager.default.createSymbolicLink(atPath: current, withDestinationPath: releases + "/1")
            let result = try sv.run(["start", testchild, "--name", "w", "--cwd", current, "--watch", "--watch-delay", "200", "--", "forever"])
            #expect(result.status == 0, "\(result.stderr)")
            #expect(eventually { (try? sv.ok("describe", "w"))?.contains("watching") == true })
            // A deploy's atomic flip: a new link renamed over the old one.
            try FileManager.default.createSymbolicLink(atPath: sv.work + "/next", withDestinationPath: releases + "/2")
            #expect(rename(sv.work + "/next", current) == 0)
            #expect(eventually(within: 1.5) { restarts(sv) == 1 })
            // The new release is the one watched now.
            write(releases + "/2/app.js")
            #expect(eventually(within: 1.5) { restarts(sv) == 2 })
            write(releases + "/1/app.js")
            #expect(!eventually(within: 0.8) { restarts(sv) > 2 })
        }
    }

    @Test func stopStopsWatchingAndRestartWatchTurnsItOn() throws {
        try withSupervisor { (sv: Supervisor) throws in
            let folder = try startWatched(sv, delay: 200)
            try sv.ok("stop", "w")
            write(folder + "/app.js")
            #expect(!eventually(within: 0.8) { (try? sv.app("w")?.status) != .stopped })
            #expect(try sv.ok("describe", "w").contains("paused"))
            // An app started without --watch: restart --watch turns it on.
            try FileManager.default.createDirectory(atPath: sv.work + "/other", withIntermediateDirectories: true)
            try sv.ok("start", testchild, "--name", "plain", "--cwd", sv.work + "/other", "--", "forever")
            try sv.ok("restart", "plain", "--watch")
            #expect(eventually { (try? sv.ok("describe", "plain"))?.contains("watching") == true })
            let before = restarts(sv, "plain")
            write(sv.work + "/other/x.js")
            #expect(eventually(within: 2) { restarts(sv, "plain") == before + 1 })
        }
    }

    /// The kernel's watch limit reached: said clearly (the sysctl to raise), apps supervised.
    @Test func theWatchLimitIsReportedAndSupervisionGoesOn() throws {
        let limitPath = "/proc/sys/fs/inotify/max_user_watches"
        let old = try #require(try? String(contentsOfFile: limitPath, encoding: .utf8)).trimmingCharacters(in: .whitespacesAndNewlines)
        try #require(access(limitPath, W_OK) == 0, "lowering \(limitPath) needs root (CI runs as root)")
        try withSupervisor { (sv: Supervisor) throws in
            let folder = sv.work + "/big"
            for n in 0..<40 { try FileManager.default.createDirectory(atPath: "\(folder)/d\(n)", withIntermediateDirectories: true) }
            try "8".write(toFile: limitPath, atomically: false, encoding: .utf8)
            defer { try? old.write(toFile: limitPath, atomically: false, encoding: .utf8) }
            let result = try sv.run(["start", testchild, "--name", "w", "--cwd", folder, "--watch", "--", "forever"])
            #expect(result.status == 0, "\(result.stderr)")
            #expect(eventually { (try? sv.ok("describe", "w"))?.contains("fs.inotify.max_user_watches") == true })
            try old.write(toFile: limitPath, atomically: false, encoding: .utf8)
            #expect(try sv.app("w")?.status == .online)
            #expect((try? String(contentsOfFile: sv.home + "/svd.log", encoding: .utf8))?.contains("sysctl fs.inotify.max_user_watches=") == true)
            try sv.ok("start", testchild, "--name", "other", "--", "forever")
            #expect(try sv.app("other")?.status == .online)
        }
    }

    /// IN_Q_OVERFLOW: events were lost, so it counts as a change and the trees are read again.
    @Test func aQueueOverflowIsAChangeAndWatchingGoesOn() throws {
        let queuePath = "/proc/sys/fs/inotify/max_queued_events"
        let old = try #require(try? String(contentsOfFile: queuePath, encoding: .utf8)).trimmingCharacters(in: .whitespacesAndNewlines)
        try #require(access(queuePath, W_OK) == 0, "lowering \(queuePath) needs root (CI runs as root)")
        try withSupervisor { (sv: Supervisor) throws in
            // The limit applies to inotify instances made after it: svd makes its own at the
            // first watching app.
            try "16".write(toFile: queuePath, atomically: false, encoding: .utf8)
            defer { try? old.write(toFile: queuePath, atomically: false, encoding: .utf8) }
            let folder = try startWatched(sv, delay: 200)
            try old.write(toFile: queuePath, atomically: false, encoding: .utf8)
            // svd stopped while 60 changes happen: its queue of 16 overflows.
            let svd = try #require(sv.daemonPids().first)
            kill(svd, SIGSTOP)
            for n in 0..<60 { write(folder + "/f\(n).js") }
            kill(svd, SIGCONT)
            #expect(eventually(within: 3) { restarts(sv) == 1 })
            #expect((try? String(contentsOfFile: sv.home + "/svd.log", encoding: .utf8))?.contains("event queue overflowed") == true)
            write(folder + "/after.js")
            #expect(eventually(within: 3) { restarts(sv) == 2 })
        }
    }
}
