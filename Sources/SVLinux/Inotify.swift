import CShims
import Glibc
import SystemPackage

/// One inotify instance (`inotify_init1(2)`), non-blocking: svd's watches for every app.
public struct Inotify: ~Copyable {
    public let fd: FileDescriptor

    /// What a directory is watched for: its entries changing, and itself going away.
    public static let directoryMask = UInt32(
        IN_CREATE | IN_DELETE | IN_MODIFY | IN_CLOSE_WRITE | IN_MOVED_FROM | IN_MOVED_TO | IN_ATTRIB | IN_DELETE_SELF
            | IN_MOVE_SELF | IN_ONLYDIR)

    public struct Event: Sendable, Equatable {
        public var wd: Int32
        public var mask: UInt32
        public var name: String

        public func has(_ flag: Int32) -> Bool { mask & UInt32(bitPattern: flag) != 0 }
        public var isDirectory: Bool { has(Int32(bitPattern: UInt32(IN_ISDIR))) }
        public var isOverflow: Bool { has(Int32(IN_Q_OVERFLOW)) }
    }

    public init() throws(SyscallError) {
        fd = FileDescriptor(rawValue: try syscall("inotify_init1") { inotify_init1(Int32(IN_NONBLOCK | IN_CLOEXEC)) })
    }

    deinit { _ = try? fd.close() }

    /// Watches the directory at `path`; the kernel gives one descriptor per directory (inode),
    /// the same one again for a directory already watched.
    public func add(directory path: String) -> Result<Int32, Errno> {
        let wd = inotify_add_watch(fd.rawValue, path, Self.directoryMask)
        return wd >= 0 ? .success(wd) : .failure(Errno(rawValue: errno))
    }

    public func remove(_ wd: Int32) { _ = inotify_rm_watch(fd.rawValue, wd) }

    /// Reads what is pending (nil when nothing is) into `buffer` and parses the events.
    public func read(into buffer: UnsafeMutableRawBufferPointer) -> [Event]? {
        var n: Int
        repeat { n = Glibc.read(fd.rawValue, buffer.baseAddress, buffer.count) } while n < 0 && errno == EINTR
        guard n > 0 else { return nil }
        var events: [Event] = []
        var offset = 0
        let header = MemoryLayout<inotify_event>.size
        while offset + header <= n {
            let base = buffer.baseAddress! + offset
            let wd = base.loadUnaligned(as: Int32.self)
            let mask = base.loadUnaligned(fromByteOffset: 4, as: UInt32.self)
            let length = Int(base.loadUnaligned(fromByteOffset: 12, as: UInt32.self))
            let nameBytes = UnsafeRawBufferPointer(start: base + header, count: min(length, n - offset - header))
            let name = String(decoding: nameBytes.prefix { $0 != 0 }, as: UTF8.self)
            events.append(Event(wd: wd, mask: mask, name: name))
            offset += header + length
        }
        return events
    }

    /// `/proc/sys/fs/inotify/max_user_watches`, for the message when it is reached.
    public static var maxUserWatches: String {
        guard let bytes = Files.readSmall("/proc/sys/fs/inotify/max_user_watches") else { return "?" }
        return String(decoding: bytes.prefix { $0 != 0x0A }, as: UTF8.self)
    }
}

/// The entries of a directory: names and whether each is a directory (`d_type`, or `lstat`
/// where the file system does not say). Symbolic links are not followed.
public enum Directory {
    public struct Entry: Sendable {
        public var name: String
        public var isDirectory: Bool
    }

    public static func entries(_ path: String) -> [Entry]? {
        guard let directory = opendir(path) else { return nil }
        defer { closedir(directory) }
        var out: [Entry] = []
        while let entry = readdir(directory) {
            let name = String(decoding: Self.name(of: entry), as: UTF8.self)
            if name == "." || name == ".." { continue }
            var isDirectory = entry.pointee.d_type == UInt8(DT_DIR)
            if entry.pointee.d_type == UInt8(DT_UNKNOWN) {
                var info = stat()
                isDirectory = lstat(path + "/" + name, &info) == 0 && info.st_mode & S_IFMT == S_IFDIR
            }
            out.append(Entry(name: name, isDirectory: isDirectory))
        }
        return out
    }

    /// The name of a `readdir` entry, read in place: the kernel's record ends after the name's
    /// NUL, so copying the whole `d_name` array (256 bytes) can read past the end of its buffer
    /// (svd crashed so, once in some hundred scans of /proc).
    public static func name(of entry: UnsafeMutablePointer<dirent>) -> UnsafeRawBufferPointer {
        let offset = MemoryLayout<dirent>.offset(of: \dirent.d_name)!
        let start = UnsafeRawPointer(entry) + offset
        return UnsafeRawBufferPointer(start: start, count: strlen(start.assumingMemoryBound(to: CChar.self)))
    }

    public enum Kind: Sendable { case missing, directory, symlink, other }

    /// What is at `path`, without following a symbolic link.
    public static func kind(_ path: String) -> Kind {
        var info = stat()
        guard lstat(path, &info) == 0 else { return .missing }
        switch info.st_mode & S_IFMT {
        case S_IFDIR: return .directory
        case S_IFLNK: return .symlink
        default: return .other
        }
    }

    /// Whether `path` names a directory, following symbolic links.
    public static func isDirectory(_ path: String) -> Bool {
        var info = stat()
        return stat(path, &info) == 0 && info.st_mode & S_IFMT == S_IFDIR
    }

    /// `fnmatch(3)` without flags: `*` also matches `/`.
    public static func matches(_ pattern: String, _ text: String) -> Bool { fnmatch(pattern, text, 0) == 0 }
}
