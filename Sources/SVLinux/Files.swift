import CShims
import Glibc
import SystemPackage

/// File and directory operations svd needs, each naming its call in errors.
public enum Files {
    /// Creates `path` as a directory with `mode` if missing, and sets that mode. Wraps `mkdir(2)`, `chmod(2)`.
    public static func ensureDirectory(_ path: String, mode: mode_t) throws(SyscallError) {
        if mkdir(path, mode) != 0 && errno != EEXIST {
            throw SyscallError(call: "mkdir \(path)", errno: Errno(rawValue: errno))
        }
        _ = try syscall("chmod \(path)") { chmod(path, mode) }
    }

    /// Opens `path` for appending, creating it 0600 (regular files, `/dev/null`). Wraps `open(2)`.
    public static func openAppend(_ path: String) throws(SyscallError) -> FileDescriptor {
        FileDescriptor(rawValue: try syscall("open \(path)") { sv_open_append(path) })
    }

    /// Opens `path` read-write, creating it, and takes an exclusive `flock(2)` without waiting.
    /// Nil when another process holds it.
    public static func lockExclusive(_ path: String) throws(SyscallError) -> FileDescriptor? {
        let fd = FileDescriptor(
            rawValue: try syscall("open \(path)") { open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o600) })
        if sv_flock_exclusive_nb(fd.rawValue) == 0 { return fd }
        let code = errno
        fd.closeQuietly()
        if code == EWOULDBLOCK { return nil }
        throw SyscallError(call: "flock \(path)", errno: Errno(rawValue: code))
    }

    /// Reads a whole small file (procfs, sysfs); nil if it cannot be read.
    public static func readSmall(_ path: String, limit: Int = 65536) -> [UInt8]? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { Glibc.close(fd) }
        var out: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while out.count < limit {
            let n = chunk.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { break }
            out.append(contentsOf: chunk[0..<n])
        }
        return out
    }

    /// Whether `path` exists (any kind). Wraps `access(2)`.
    public static func exists(_ path: String) -> Bool { access(path, F_OK) == 0 }

    /// Raises the soft NOFILE limit to the hard one; returns the previous soft limit.
    public static func raiseNofileLimit() -> UInt64? {
        var limit = rlimit()
        guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 else { return nil }
        let previous = UInt64(limit.rlim_cur)
        limit.rlim_cur = limit.rlim_max
        _ = setrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
        return previous
    }
}
