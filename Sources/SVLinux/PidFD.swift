import CShims
import Glibc
import SVCore
import SystemPackage

/// A process handle that cannot be confused with a later process of the same pid.
/// Wraps `pidfd_open(2)` and `pidfd_send_signal(2)`.
public final class PidFD {
    public let fd: FileDescriptor

    /// Opens `pid`; nil when it is gone.
    public init?(_ pid: ProcessID) {
        let raw = sv_pidfd_open(pid.rawValue)
        guard raw >= 0 else { return nil }
        fd = FileDescriptor(rawValue: raw)
    }

    deinit { fd.closeQuietly() }

    /// Signals exactly this process (never a newer one with its pid).
    @discardableResult
    public func send(_ signal: Signal) -> Bool { sv_pidfd_send_signal(fd.rawValue, signal.rawValue) == 0 }

    /// Whether the process has exited (the pidfd is readable).
    public var hasExited: Bool {
        var entry = pollfd(fd: fd.rawValue, events: Int16(POLLIN), revents: 0)
        return poll(&entry, 1, 0) > 0
    }
}
