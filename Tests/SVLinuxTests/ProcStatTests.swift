import Glibc
import SVCore
import SVLinux
import Testing

/// `/proc/PID/stat` parsing: fields counted from the last ')' of the command name.
@Suite struct ProcStatTests {
    func parse(_ text: String) -> ProcFS.Stat? {
        let bytes = Array(text.utf8)
        return bytes.withUnsafeBufferPointer { ProcFS.parseStat($0) }
    }

    @Test func fieldsAfterATrickyCommandName() throws {
        // A name with spaces and a ") (" inside, as a program may set with prctl.
        let line = "4242 (my ) (app x) S 1 4242 4242 0 -1 4194560 300 0 0 0 17 5 0 0 20 0 1 0 123456 10000000 2560 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0\n"
        let stat = try #require(parse(line))
        #expect(stat.state == UInt8(ascii: "S"))
        #expect(stat.parent == 1)
        #expect(stat.group == 4242)
        #expect(stat.session == 4242)
        #expect(stat.utime == 17)
        #expect(stat.stime == 5)
        #expect(stat.startTicks == 123456)
        #expect(stat.rssPages == 2560)
    }

    @Test func truncatedOrGarbageIsNil() {
        #expect(parse("no parenthesis here") == nil)
        #expect(parse("1 (x) R 0") == nil)
    }

    @Test func readsThisProcess() throws {
        let usage = try #require(ProcFS.usage(of: ProcessID(getpid())))
        #expect(usage.residentBytes > 0)
        #expect(usage.sessionID == getsid(0))
        #expect(ProcFS.stat(of: getpid())?.parent == getppid())
    }

    /// Kept-open stat and children files show the process as it is at each read.
    @Test func leaderFilesAreReadAfresh() throws {
        let files = try #require(ProcFS.LeaderFiles(pid: getpid()))
        defer { files.close() }
        #expect(ProcFS.stat(reading: files.stat)?.session == getsid(0))
        // A child appears in the main thread's children file, read again through the same fd.
        var pid: pid_t = 0
        let argv: [UnsafeMutablePointer<CChar>?] = [strdup("/bin/sleep"), strdup("30"), nil]
        defer { for pointer in argv { free(pointer) } }
        #expect(posix_spawn(&pid, "/bin/sleep", nil, nil, argv, environ) == 0)
        let totals = ProcFS.treeTotals(of: [(getpid(), files)])[getpid()]
        kill(pid, SIGKILL)
        var status: Int32 = 0
        waitpid(pid, &status, 0)
        // posix_spawn runs from this (test) thread, which may not be the main one: the child is
        // counted only when it is the main thread's; the leader always is.
        #expect((totals?.processes ?? 0) >= 1)
        #expect((totals?.residentBytes ?? 0) > 0)
    }
}
