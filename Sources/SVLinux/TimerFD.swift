import CShims
import Glibc
import SVCore
import SystemPackage

/// One monotonic timer descriptor, armed at the earliest deadline of svd's timer heap.
/// Wraps `timerfd_create(2)` and `timerfd_settime(2)` with `TFD_TIMER_ABSTIME`.
public struct TimerFD: ~Copyable {
    public let fd: FileDescriptor
    public private(set) var armedAt: Instant?

    public init() throws(SyscallError) {
        fd = FileDescriptor(
            rawValue: try syscall("timerfd_create") { timerfd_create(CLOCK_MONOTONIC, Int32(TFD_CLOEXEC | TFD_NONBLOCK)) })
    }

    deinit { _ = try? fd.close() }

    /// Arms at `deadline` (absolute), or disarms with nil. A no-op when already armed there.
    public mutating func arm(at deadline: Instant?) {
        guard deadline != armedAt else { return }
        armedAt = deadline
        // An instant at or before zero would disarm: one nanosecond fires at once instead.
        let ns = deadline.map { max($0.nanoseconds, 1) } ?? 0
        // timerfd_settime fails only on bad arguments, which ours are not.
        _ = sv_timerfd_arm_abs(fd.rawValue, ns)
    }

    /// Consumes the expiration count after the descriptor became readable.
    public mutating func acknowledge() {
        var expirations: UInt64 = 0
        _ = read(fd.rawValue, &expirations, 8)
        armedAt = nil
    }
}

/// The daemon's clock: monotonic for deadlines, wall for what people read (STYLE.md 4).
public enum SystemClock {
    public static var now: Instant { Instant(nanoseconds: sv_monotonic_ns()) }
    public static var wallNow: WallTime { WallTime(nanoseconds: sv_realtime_ns()) }
}

/// A wall-clock timer (`CLOCK_REALTIME`, `TFD_TIMER_ABSTIME | TFD_TIMER_CANCEL_ON_SET`): for
/// cron schedules, which name wall times. When the clock is set (by hand, or NTP stepping it),
/// the kernel wakes it with ECANCELED so the schedule is computed again.
public struct WallTimerFD: ~Copyable {
    public let fd: FileDescriptor

    public init() throws(SyscallError) {
        fd = FileDescriptor(
            rawValue: try syscall("timerfd_create") { timerfd_create(CLOCK_REALTIME, Int32(TFD_CLOEXEC | TFD_NONBLOCK)) })
    }

    deinit { _ = try? fd.close() }

    /// Arms at `seconds` since the epoch (wall time), or disarms with nil.
    public func arm(atSecond seconds: Int64?) {
        _ = sv_timerfd_arm_realtime(fd.rawValue, seconds.map { max($0, 1) * 1_000_000_000 } ?? 0)
    }

    /// After the descriptor became readable: true when it expired, false when the wall clock
    /// was set (or nothing was pending).
    public func acknowledge() -> Bool {
        var expirations: UInt64 = 0
        return read(fd.rawValue, &expirations, 8) == 8
    }
}
