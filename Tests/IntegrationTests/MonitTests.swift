import Foundation
import SVCore
import SVProtocol
import Testing

/// `sv monit` in a real terminal: tmux, driven with send-keys, read with capture-pane.
@Suite(.serialized, .timeLimit(.minutes(2)))
struct MonitTests {
    static let tmux = ["/usr/bin/tmux", "/usr/local/bin/tmux"].first { FileManager.default.isExecutableFile(atPath: $0) }

    @Test func dashboardKeysResizeAndQuit() throws {
        let tmux = try #require(Self.tmux, "tmux is needed (Scripts/test installs it)")
        try withSupervisor { (sv: Supervisor) throws in
            try sv.ok("start", testchild, "--name", "alpha", "--", "print", "hello from alpha", "forever")
            try sv.ok("start", testchild, "--name", "beta", "--", "forever")
            let server = "svmonit-\(getpid())"
            @discardableResult func run(_ arguments: String...) throws -> CommandResult { try sv.run(["-L", server] + arguments, program: tmux) }
            func screen() -> String { (try? run("capture-pane", "-p", "-t", "monit"))?.stdout ?? "" }
            let command = "SV_HOME='\(sv.home)' '\(svPath)' monit; echo MONIT-EXIT=$?; sleep 60"
            #expect(try run("new-session", "-d", "-s", "monit", "-x", "120", "-y", "30", command).status == 0)
            // The pane's shell (and its sleep) and the server: all gone when the test ends.
            let panePid = Int32((try? run("display-message", "-p", "-t", "monit", "#{pane_pid}"))?.stdout
                .trimmingCharacters(in: .whitespacesAndNewlines) ?? "")
            let serverPid = Int32((try? run("display-message", "-p", "#{pid}"))?.stdout.trimmingCharacters(in: .whitespacesAndNewlines) ?? "")
            defer {
                if let panePid { kill(-panePid, SIGKILL); kill(panePid, SIGKILL) }
                _ = try? run("kill-server")
                if let serverPid { kill(serverPid, SIGKILL) }
            }
            #expect(eventually(within: 10) { screen().contains("sv monit") && screen().contains("beta") })
            var shown = screen()
            #expect(shown.contains("alpha") && shown.contains("online"), "\(shown)")
            #expect(shown.contains("logs of alpha (id 1)") && shown.contains("hello from alpha"), "\(shown)")
            // ↓ selects beta, r restarts it.
            try run("send-keys", "-t", "monit", "Down")
            #expect(eventually { screen().contains("logs of beta (id 2)") })
            try run("send-keys", "-t", "monit", "r")
            #expect(eventually { (try? sv.app("beta")?.restarts) == 1 })
            #expect(eventually { screen().contains("restarting beta (id 2)") })
            // s stops it; l hides the logs.
            try run("send-keys", "-t", "monit", "s")
            #expect(eventually { (try? sv.app("beta")?.status) == .stopped })
            try run("send-keys", "-t", "monit", "l")
            #expect(eventually { !screen().contains("logs of") })
            // Resized: redrawn to the new width at once.
            try run("resize-window", "-t", "monit", "-x", "60", "-y", "20")
            #expect(eventually { screen().contains("sv monit") && screen().split(separator: "\n").allSatisfy { $0.count <= 60 } })
            // q quits and gives the screen back: the shell's line, no dashboard.
            try run("send-keys", "-t", "monit", "q")
            #expect(eventually { screen().contains("MONIT-EXIT=0") })
            shown = screen()
            #expect(!shown.contains("sv monit"), "\(shown)")
        }
    }

    @Test func refusesWithoutATerminal() throws {
        try withSupervisor { (sv: Supervisor) throws in
            let result = try sv.run(["monit"])
            #expect(result.status == 1)
            #expect(result.stderr.contains("sv monit needs a terminal"))
        }
    }
}
