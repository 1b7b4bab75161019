import CShims
import Glibc
import SVCore
import SVLinux
import SystemPackage
import Testing

@Suite(.serialized) struct SpawnTests {
    @Test func exitCodeIsReported() throws {
        let before = openDescriptors()
        let (pid, out) = try spawnChild(["exit", "3"])
        #expect(waitExit(pid) == .code(3))
        out.read.closeQuietly()
        #expect(openDescriptors() == before)
    }

    @Test func childLeadsItsOwnSession() throws {
        let (pid, out) = try spawnChild(["sleep", "5000"])
        defer { out.read.closeQuietly() }
        #expect(sv_getsid(pid.rawValue) == pid.rawValue)
        #expect(getpgid(pid.rawValue) == pid.rawValue)
        Reaper.signalGroup(pid, .kill)
        #expect(waitExit(pid) == .signal(.kill))
    }

    @Test func missingExecutableFailsWithENOENT() throws {
        let request = SpawnRequest(path: "/nonexistent/app", argv: ["/nonexistent/app"], environment: [], cwd: "/", descriptors: [])
        guard case .failure(let error) = Spawner.spawn(request) else {
            Issue.record("spawn of a missing file succeeded")
            return
        }
        #expect(error.description == "/nonexistent/app: No such file or directory")
    }

    @Test func nonExecutableFileFailsWithEACCES() throws {
        let path = "/tmp/sv-noexec-\(getpid())"
        let fd = try FileDescriptor.open(path, .writeOnly, options: [.create, .truncate], permissions: [.ownerReadWrite])
        fd.closeQuietly()
        defer { unlink(path) }
        let request = SpawnRequest(path: path, argv: [path], environment: [], cwd: "/", descriptors: [])
        guard case .failure(let error) = Spawner.spawn(request) else {
            Issue.record("spawn of a non-executable file succeeded")
            return
        }
        #expect(error.description == "\(path): Permission denied")
    }

    @Test func missingCwdIsReported() throws {
        let request = SpawnRequest(path: testchild, argv: [testchild], environment: [], cwd: "/nonexistent-dir", descriptors: [])
        guard case .failure(let error) = Spawner.spawn(request) else {
            Issue.record("spawn into a missing cwd succeeded")
            return
        }
        #expect(error.description == "cwd /nonexistent-dir: No such file or directory")
    }

    /// A child's descriptors are exactly 0, 1, 2 and the declared extras, however many svd holds.
    @Test func childGetsExactlyTheLayout() throws {
        var held: [Int32] = []
        for _ in 0..<1100 { held.append(open("/dev/null", O_RDONLY)) }  // not close-on-exec on purpose
        defer { for fd in held { close(fd) } }
        let (pid, out) = try spawnChild(["fds"])
        #expect(readLines(out.read, count: 1) == ["0 1 2"])
        #expect(waitExit(pid) == .code(0))
        out.read.closeQuietly()

        let (a, b) = try SocketPair.make()
        defer {
            a.closeQuietly()
            b.closeQuietly()
        }
        let (pid2, out2) = try spawnChild(["fds"], extras: [b])
        #expect(readLines(out2.read, count: 1) == ["0 1 2 3"])
        #expect(waitExit(pid2) == .code(0))
        out2.read.closeQuietly()
    }

    /// svd holds thousands of descriptors with 1,000 apps while apps get the soft limit svd found
    /// (1024): the child must place its descriptors before it lowers the limit.
    @Test func lowNofileLimitWithManyHeldDescriptors() throws {
        var held: [Int32] = []
        for _ in 0..<1100 { held.append(open("/dev/null", O_RDONLY | O_CLOEXEC)) }
        defer { for fd in held { close(fd) } }
        let out = try Pipe.make(nonblockingRead: true)
        defer { out.read.closeQuietly() }
        var request = SpawnRequest(
            path: testchild, argv: [testchild, "fds"], environment: [], cwd: "/",
            descriptors: [out.write, out.write, out.write])
        request.nofileSoft = 256
        let pid = try Spawner.spawn(request).get()
        out.write.closeQuietly()
        #expect(readLines(out.read, count: 1) == ["0 1 2"])
        #expect(waitExit(pid) == .code(0))
    }

    /// A grandchild dies with its app's group.
    @Test func grandchildDiesWithTheGroup() throws {
        let (pid, out) = try spawnChild(["grandchild", "60000", "forever"])
        defer { out.read.closeQuietly() }
        let lines = readLines(out.read, count: 1)
        guard let grandchild = lines.first.flatMap({ Int32($0.split(separator: " ").last ?? "") }) else {
            Issue.record("no grandchild pid in \(lines)")
            return
        }
        Reaper.signalGroup(pid, .int)
        #expect(waitExit(pid) == .signal(.int))
        #expect(eventually { isGone(grandchild) })
    }

    /// The leader exits by itself: the kill signal to the group, sent while the zombie holds the
    /// group id, reaches the grandchild (design.md §1).
    @Test func leftoversOfAnExitedLeaderAreKilled() throws {
        let (pid, out) = try spawnChild(["grandchild", "60000", "sleep", "100", "exit", "0"])
        defer { out.read.closeQuietly() }
        let lines = readLines(out.read, count: 1)
        guard let grandchild = lines.first.flatMap({ Int32($0.split(separator: " ").last ?? "") }) else {
            Issue.record("no grandchild pid in \(lines)")
            return
        }
        // Wait until the leader is a zombie, then signal its group before reaping.
        #expect(eventually { isGone(pid.rawValue) })
        #expect(Reaper.groupExists(pid))
        Reaper.signalGroup(pid, .int)
        #expect(waitExit(pid) == .code(0))
        #expect(eventually { isGone(grandchild) })
    }

    @Test func fiftyChildrenExitingAtOnceAreAllReaped() throws {
        var pids: [ProcessID] = []
        var pipes: [Pipe] = []
        for _ in 0..<50 {
            let (pid, out) = try spawnChild(["sleep", "150", "exit", "7"])
            pids.append(pid)
            pipes.append(out)
        }
        defer { for pipe in pipes { pipe.read.closeQuietly() } }
        var reaped: [ProcessID: SVCore.ExitStatus] = [:]
        #expect(eventually {
            for pid in pids where reaped[pid] == nil { if let status = Reaper.reap(pid) { reaped[pid] = status } }
            return reaped.count == 50
        })
        #expect(reaped.values.allSatisfy { $0 == .code(7) })
    }

    /// Linux constants duplicated in Swift are pinned against the C values (STYLE.md 21).
    @Test func signalNumbersMatchC() {
        #expect(Signal.int.rawValue == SIGINT)
        #expect(Signal.term.rawValue == SIGTERM)
        #expect(Signal.kill.rawValue == SIGKILL)
        #expect(Signal.hup.rawValue == SIGHUP)
        #expect(Signal.usr2.rawValue == SIGUSR2)
        #expect(Signal(parsing: "CHLD")?.rawValue == SIGCHLD)
    }
}
