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
}
