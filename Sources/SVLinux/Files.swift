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

    /// Opens `path` for appending, creating it 0600 (regular files, `/dev/null`), never through a
    /// symlink (`O_NOFOLLOW`: ELOOP). Wraps `open(2)`; the caller checks what it opened
    /// (`Ownership.fileProblem`).
    public static func openAppend(_ path: String) throws(SyscallError) -> FileDescriptor {
        FileDescriptor(rawValue: try syscall("open \(path)") { sv_open_append(path) })
    }

    /// `openAppend` relative to a directory descriptor (`openat(2)`), for rotation: every step
    /// of one rotation works in the directory opened at its start.
    public static func openAppend(_ name: String, in directory: FileDescriptor) throws(SyscallError) -> FileDescriptor {
        FileDescriptor(rawValue: try syscall("open \(name)") { sv_openat_append(directory.rawValue, name) })
    }

    /// Opens the directory of `path` for `*at` calls (`O_DIRECTORY`); with the base name.
    public static func openParent(of path: String) -> (FileDescriptor, String)? {
        guard let slash = path.utf8.lastIndex(of: UInt8(ascii: "/")) else { return nil }
        let directory = String(path[..<slash]).isEmpty ? "/" : String(path[..<slash])
        let base = String(path[path.index(after: slash)...])
        let fd = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0, !base.isEmpty else {
            if fd >= 0 { Glibc.close(fd) }
            return nil
        }
        return (FileDescriptor(rawValue: fd), base)
    }

    /// Opens `path` read-write, creating it, and takes an exclusive `flock(2)` without waiting.
    /// Nil when another process holds it.
    public static func lockExclusive(_ path: String) throws(SyscallError) -> FileDescriptor? {
        let fd = FileDescriptor(
            rawValue: try syscall("open \(path)") { open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0o600) })
        if sv_flock_exclusive_nb(fd.rawValue) == 0 { return fd }
        let code = errno
        fd.closeQuietly()
        if code == EWOULDBLOCK { return nil }
        throw SyscallError(call: "flock \(path)", errno: Errno(rawValue: code))
    }

    /// Reads a whole small file (procfs, sysfs); nil if it cannot be read. With `following`
    /// false, a symlink is not followed (files in svd's home).
    public static func readSmall(_ path: String, limit: Int = 65536, following: Bool = true) -> [UInt8]? {
        let fd = open(path, O_RDONLY | O_CLOEXEC | (following ? 0 : O_NOFOLLOW))
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

    /// Writes `path` so that a crash leaves the old file or the new one, never a mix (STYLE.md 29):
    /// `path.new`, fsync, rename, fsync of the directory.
    public static func writeAtomically(_ path: String, contents: [UInt8]) throws(SyscallError) {
        let temporary = path + ".new"
        let fd = try syscall("open \(temporary)") {
            open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0o600)
        }
        var offset = 0
        do {
            while offset < contents.count {
                let n = try syscall("write \(temporary)") {
                    contents[offset...].withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
                }
                offset += n
            }
            _ = try syscall("fsync \(temporary)") { fsync(fd) }
        } catch {
            Glibc.close(fd)
            unlink(temporary)
            throw error
        }
        Glibc.close(fd)
        _ = try syscall("rename \(temporary)") { rename(temporary, path) }
        let slash = path.utf8.lastIndex(of: UInt8(ascii: "/")).map { path.utf8.distance(from: path.utf8.startIndex, to: $0) } ?? 0
        // A prefix of valid UTF-8 cut at a '/' byte is valid UTF-8: the String init cannot fail.
        let directory = slash > 0 ? String(path.utf8.prefix(slash))! : "."
        let dirfd = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if dirfd >= 0 {
            _ = fsync(dirfd)
            Glibc.close(dirfd)
        }
    }

    /// Writes a small file in place, without fsync (a marker that matters only while this boot
    /// lasts); never through a symlink. Best effort: false when it cannot.
    @discardableResult
    public static func writeSmall(_ path: String, _ contents: [UInt8]) -> Bool {
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0o600)
        guard fd >= 0 else { return false }
        defer { Glibc.close(fd) }
        return contents.withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) } == contents.count
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
