import CShims
import Glibc
import SVCore

/// Collects exited children: `waitid(WNOWAIT)` to peek, `waitpid(2)` to reap (STYLE.md 20).
public enum Reaper {
    /// An exited child not yet reaped (its pid and group id stay reserved), or nil.
    public static func peek() -> ProcessID? {
        let pid = sv_peek_exited()
        return pid > 0 ? ProcessID(pid) : nil
    }

    /// Reaps `pid`, returning how it ended; nil if it is not an exited child.
    public static func reap(_ pid: ProcessID) -> ExitStatus? {
        var status: Int32 = 0
        while true {
            let result = waitpid(pid.rawValue, &status, WNOHANG)
            if result == pid.rawValue { return decode(status) }
            if result == -1 && errno == EINTR { continue }
            return nil
        }
    }

    static func decode(_ status: Int32) -> ExitStatus {
        if sv_wifsignaled(status) != 0 { return .signal(Signal(sv_wtermsig(status))) }
        return .code(sv_wexitstatus(status))
    }

    /// Whether any process remains in the group `pgid`. Wraps `kill(2)` with signal 0.
    public static func groupExists(_ pgid: ProcessID) -> Bool {
        kill(-pgid.rawValue, 0) == 0 || errno == EPERM
    }

    /// Sends `signal` to the process group led by `pgid`; false if it is gone. Wraps `kill(2)`.
    @discardableResult
    public static func signalGroup(_ pgid: ProcessID, _ signal: Signal) -> Bool {
        kill(-pgid.rawValue, signal.rawValue) == 0
    }

    /// Sends `signal` to one process. Wraps `kill(2)`.
    @discardableResult
    public static func signalProcess(_ pid: ProcessID, _ signal: Signal) -> Bool {
        kill(pid.rawValue, signal.rawValue) == 0
    }

    /// Makes svd the reaper of its orphaned grandchildren. Wraps `prctl(PR_SET_CHILD_SUBREAPER)`.
    public static func becomeSubreaper() throws(SyscallError) {
        _ = try syscall("prctl") { sv_set_child_subreaper() }
    }
}
