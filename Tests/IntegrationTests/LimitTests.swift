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
