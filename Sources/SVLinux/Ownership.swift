import Glibc
import SVCore
import SystemPackage

/// Trust nothing you do not own (STYLE.md 27b, docs/security.md). A root svd pointed at another
/// user's directory (`sudo -E`, a sudo that keeps HOME) would otherwise run that user's planted
/// `sv.db` as root, append to files their symlinks name, and send its requests, secrets included,
/// to a socket they made. ssh's StrictModes is the model: refuse, and say why and the fix.
public enum Ownership {
    /// Why the directory at `path` cannot be used as ours (owned by another uid, writable by its
    /// group or others, a symlink, not a directory), or nil when it can or does not exist.
    /// Wraps `lstat(2)`.
    public static func directoryProblem(_ path: String) -> String? {
        var info = stat()
        guard lstat(path, &info) == 0 else { return nil }  // missing: it is made ours
        let facts = OwnershipRules.Facts(
            isSymlink: info.st_mode & S_IFMT == S_IFLNK, isDirectory: info.st_mode & S_IFMT == S_IFDIR, owner: info.st_uid,
            mode: info.st_mode)
        return OwnershipRules.directoryProblem(path, facts, me: geteuid(), describe: describe(uid:))
    }

    /// Why the open file `fd` (at `path`) cannot be one of svd's log or state files: a regular
    /// file of svd's uid with one link, or `/dev/null`. Checked with `fstat(2)` after the open,
    /// never with `stat` before it (the file could change in between).
    public static func fileProblem(_ fd: FileDescriptor, _ path: String) -> String? {
        var info = stat()
        guard fstat(fd.rawValue, &info) == 0 else { return "\(path): \(Errno(rawValue: errno).message)" }
        switch info.st_mode & S_IFMT {
        case S_IFREG:
            if let problem = ownerProblem(info, path) { return problem }
            if info.st_nlink > 1 { return "\(path) has other hard links: refused (a log file has one name)" }
            return nil
        case S_IFCHR where isDevNull(info.st_rdev):
            return nil
        case S_IFIFO:
            return "\(path) is a FIFO: a log path must be a file (or /dev/null)"
        case S_IFCHR where isatty(fd.rawValue) == 1:
            return "\(path) is a terminal: a log path must be a file (or /dev/null)"
        default:
            return "\(path) is not a regular file: a log path must be a file (or /dev/null)"
        }
    }

    /// Why the file at `path`, if there is one, cannot be one of svd's own files in its home (a
    /// regular file of its uid, not a symlink): `sv.db` and its `-wal` and `-shm`, checked before
    /// SQLite opens them. Wraps `lstat(2)`; the home itself is ours and closed to others, so
    /// nothing can swap the file after the check.
    public static func ownFileProblem(_ path: String) -> String? {
        var info = stat()
        guard lstat(path, &info) == 0 else { return nil }
        let kind = info.st_mode & S_IFMT
        if kind == S_IFLNK { return "\(path) is a symbolic link: refused (svd follows no link in its home)" }
        if kind != S_IFREG { return "\(path) is not a regular file" }
        return ownerProblem(info, path)
    }

    /// Why a file or directory described by `info` is not ours, or nil.
    static func ownerProblem(_ info: stat, _ path: String) -> String? {
        let me = geteuid()
        guard info.st_uid != me else { return nil }
        return OwnershipRules.foreignOwner(path, owner: describe(uid: info.st_uid), me: describe(uid: me))
    }

    /// "uid 1000 (deploy)".
    public static func describe(uid: uid_t) -> String {
        var entry = passwd()
        var result: UnsafeMutablePointer<passwd>?
        var buffer = [CChar](repeating: 0, count: 4096)
        guard getpwuid_r(uid, &entry, &buffer, buffer.count, &result) == 0, let found = result, let name = found.pointee.pw_name
        else { return "uid \(uid)" }
        return "uid \(uid) (\(String(cString: name)))"
    }

    /// `/dev/null` is character device 1:3.
    static func isDevNull(_ device: dev_t) -> Bool {
        let major = (device >> 8) & 0xfff
        let minor = (device & 0xff) | ((device >> 12) & 0xfff00)
        return major == 1 && minor == 3
    }
}
