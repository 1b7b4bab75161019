import Foundation
import SVCore
import SVProtocol
import Testing

/// `sv update` (design.md §5): same pid, apps untouched and still supervised, generation + 1.
@Suite(.serialized, .timeLimit(.minutes(2)))
struct UpdateTests {
    @Test func updateToAnotherVersionKeepsEverything() throws {
        guard let alt = ProcessInfo.processInfo.environment["SV_ALT_SVD"], FileManager.default.isExecutableFile(atPath: alt)
        else {
            Issue.record("SV_ALT_SVD is not set: run the tests with Scripts/test, which builds that svd")
            return
        }
        try withSupervisor { (sv: Supervisor) throws in
            let app = try sv.file("ticker.js", "let n = 0; setInterval(() => console.log('tick ' + n++), 20);")
            try sv.ok("start", app)
            try sv.ok("start", testchild, "--name", "crash", "--", "exit", "1")
            let before = try JSONCoder.decode(PingInfo.self, from: try sv.ok("ping", "--json"))
            let ticker = try sv.app("ticker")?.pid
            let descriptorsBefore = Self.descriptors(of: before.pid)
            // A newer sv and its svd, side by side in another directory.
            let newer = sv.work + "/newer"
            try FileManager.default.createDirectory(atPath: newer, withIntermediateDirectories: true)
            try FileManager.default.copyItem(atPath: svPath, toPath: newer + "/sv")
            try FileManager.default.copyItem(atPath: alt, toPath: newer + "/svd")
            let result = try sv.run(["update"], program: newer + "/sv")
            #expect(result.status == 0, "\(result.stderr)")
            #expect(result.stdout.contains("0.1.0 → 0.1.0-alt"))

            let after = try JSONCoder.decode(PingInfo.self, from: try sv.ok("ping", "--json"))
            #expect(after.version == "0.1.0-alt")
            #expect(after.execGeneration == before.execGeneration + 1)
            #expect(after.pid == before.pid)
            // Only what svd needs came through, and all of it is close-on-exec again.
            let descriptorsAfter = Self.descriptors(of: after.pid)
            #expect(descriptorsAfter.count == descriptorsBefore.count)
            #expect(descriptorsAfter.allSatisfy { $0.closeOnExec }, "\(descriptorsAfter.filter { !$0.closeOnExec })")
            #expect(try sv.app("ticker")?.pid == ticker)
            #expect(try sv.app("ticker")?.status == .online)
            // Output is still captured.
            let log = sv.home + "/logs/ticker-out.log"
            let size = { (try? FileManager.default.attributesOfItem(atPath: log)[.size] as? Int) ?? 0 }
            let now = size()
            #expect(eventually { size() > now })
            // Exits are still seen: the app killed after the update is restarted, the crash loop goes on.
            if let ticker { kill(ticker.rawValue, SIGKILL) }
            #expect(try eventually { let info = try sv.app("ticker"); return info?.pid != nil && info?.pid != ticker })
            let restarts = try sv.app("crash")?.restarts ?? 0
            #expect(try eventually { (try sv.app("crash")?.restarts ?? 0) > restarts })
        }
    }

    /// svd's descriptors (0-2 excepted) and whether each is close-on-exec (`/proc/PID/fdinfo`).
    /// svd's descriptors above 2, without the /proc files `list` keeps open for running apps
    /// (opened again by the first list after an update; a crash-looping app may have none).
    static func descriptors(of pid: Int32) -> [(fd: Int, closeOnExec: Bool)] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/fd")) ?? []
        let kept = { (fd: Int) in
            ((try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(pid)/fd/\(fd)")) ?? "").hasPrefix("/proc/")
        }
        return names.compactMap(Int.init).filter { $0 > 2 && !kept($0) }.sorted().map { fd in
            let info = (try? String(contentsOfFile: "/proc/\(pid)/fdinfo/\(fd)", encoding: .utf8)) ?? ""
            let flags = info.split(separator: "\n").first { $0.hasPrefix("flags:") }
                .flatMap { Int($0.split(separator: "\t").last ?? "", radix: 8) } ?? 0
            return (fd, flags & 0o2000000 != 0)
        }
    }

    @Test func updateWithoutADaemonStartsNothing() throws {
        try withSupervisor { (sv: Supervisor) throws in
            #expect(try sv.ok("update").contains("not running"))
            #expect(sv.daemonPids().isEmpty)
        }
    }

    @Test func checkUpgradeRefusesAnotherProtocol() throws {
        try withSupervisor { (sv: Supervisor) throws in
            let result = try sv.run(["--check-upgrade", "--protocol", "99", "--schema", "1", "--handover", "1"], program: svdPath)
            #expect(result.status == 1)
            #expect(result.stdout.contains("protocol"))
            let ok = try sv.run(["--check-upgrade", "--protocol", "1", "--schema", "1", "--handover", "1"], program: svdPath)
            #expect(ok.status == 0)
        }
    }
}
