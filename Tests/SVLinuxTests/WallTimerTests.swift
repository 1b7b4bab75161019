import Glibc
import SVLinux
import Testing

/// The cron timer: a CLOCK_REALTIME timerfd that wakes with ECANCELED when the clock is set.
@Suite struct WallTimerTests {
    func readable(_ fd: Int32, within ms: Int32) -> Bool {
        var entry = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        return poll(&entry, 1, ms) == 1
    }

    @Test func firesAtItsWallTime() throws {
        let timer = try WallTimerFD()
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        timer.arm(atSecond: Int64(now.tv_sec) + 1)
        let woke = readable(timer.fd.rawValue, within: 2500)
        #expect(woke)
        let fired = timer.acknowledge()
        #expect(fired)
    }

    @Test func settingTheClockCancelsIt() throws {
        let timer = try WallTimerFD()
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        timer.arm(atSecond: Int64(now.tv_sec) + 3600)
        let early = readable(timer.fd.rawValue, within: 0)
        #expect(!early)
        // Setting the clock to what it reads (a step of a few microseconds) is a set all the same.
        clock_gettime(CLOCK_REALTIME, &now)
        try #require(clock_settime(CLOCK_REALTIME, &now) == 0, "setting the clock needs CAP_SYS_TIME (CI runs as root)")
        let woke = readable(timer.fd.rawValue, within: 1000)
        #expect(woke)
        let fired = timer.acknowledge()
        #expect(!fired)  // ECANCELED: compute the schedule again
        timer.arm(atSecond: nil)
    }
}
