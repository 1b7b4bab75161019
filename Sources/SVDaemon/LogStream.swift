import CShims
import Glibc
import SVCore
import SVLinux
import SVProtocol
import SystemPackage

/// One output stream of an app: the pipe svd reads, and the file it appends to (design.md §7).
/// A failing write never blocks the app: the bytes are dropped and counted. With `--time` every
/// line gets a timestamp; a file past `--log-max-size` is rotated (`.1` … `.N`).
final class LogStream {
    let pipe: Pipe
    let path: String
    private(set) var file: FileDescriptor
    private(set) var droppedBytes: Int64 = 0
    private(set) var lastError: String?
    /// Bytes in the current file (fstat at open, then counted).
    private(set) var size: Int64 = 0
    /// A regular file (rotated) rather than a device such as /dev/null (never rotated).
    private(set) var isRegularFile = false
    /// The file's (device, inode), for the one-writer-per-file check without a stat per app.
    private(set) var fileKey: FileKey?
    var maxSize: ByteSize
    var keep: Int
    var timestamps: LogDateFormat?
    /// When both streams of an app share one file, only stdout rotates it, and then reopens
    /// stderr too (they would rename the file under each other).
    var rotates = true
    weak var companion: LogStream?
    private var prefixer = LinePrefixer()
    /// Raised once, when the app first fills its budget: fewer wake-ups for a busy app.
    private var pipeEnlarged = false
    static let busyPipeSize: Int32 = 1 << 20
    private var stamp = TimestampCache()

    init(pipe: Pipe, path: String, file: FileDescriptor, maxSize: ByteSize, keep: Int, timestamps: LogDateFormat?) {
        self.pipe = pipe
        self.path = path
        self.file = file
        self.maxSize = maxSize
        self.keep = keep
        self.timestamps = timestamps
        measure()
    }

    /// Most bytes read from one pipe per loop iteration: a flooding app cannot starve the others
    /// (the descriptor stays ready, so the rest comes at the next iteration).
    static let budgetPerIteration = 256 * 1024

    /// Moves what the pipe holds to the file, through svd's one shared buffer.
    func drain(using buffer: UnsafeMutableRawBufferPointer) {
        var moved = 0
        var prefixed: [UInt8] = []
        while moved < Self.budgetPerIteration {
            let count: Int
            do {
                guard let n = try pipe.read.readAvailable(into: buffer), n > 0 else { return }
                count = n
            } catch {
                lastError = error.description
                return
            }
            moved += count
            let chunk = UnsafeRawBufferPointer(rebasing: buffer[0..<count])
            if let format = timestamps {
                prefixed.removeAll(keepingCapacity: true)
                prefixed.reserveCapacity(count + 64)
                prefixer.process(chunk, into: &prefixed, prefix: stamp.prefix(format))
                prefixed.withUnsafeBytes { write($0) }
            } else {
                write(chunk)
            }
        }
        // The budget ran out: a busy app. A 1 MiB pipe (within the user's pipe budget, else
        // the kernel refuses and nothing changes) lets it write on while other work runs.
        if !pipeEnlarged {
            pipeEnlarged = true
            _ = sv_set_pipe_size(pipe.read.rawValue, Self.busyPipeSize)
        }
    }

    /// Appends `bytes`, rotating on the way: a large read is cut at the first line end past
    /// `--log-max-size`, so a file ends near the limit, not a whole read (up to 64 KiB) beyond it.
    private func write(_ bytes: UnsafeRawBufferPointer) {
        var rest = bytes
        while rotates && isRegularFile && !rest.isEmpty && size + Int64(rest.count) >= maxSize.bytes {
            let room = max(Int(maxSize.bytes - size), 0)
            let cut = rest[room...].firstIndex(of: 0x0A).map { $0 + 1 } ?? rest.count
            guard append(UnsafeRawBufferPointer(rebasing: rest[..<cut])) else { return }
            rest = UnsafeRawBufferPointer(rebasing: rest[cut...])
            if size >= maxSize.bytes { rotate() }
        }
        _ = append(rest)
    }

    /// Writes all of `bytes`; false (counted as dropped, the error kept) when the file refuses.
    private func append(_ bytes: UnsafeRawBufferPointer) -> Bool {
        var rest = bytes
        while !rest.isEmpty {
            do {
                let n = try file.writeAvailable(rest)
                if n == 0 {
                    droppedBytes += Int64(rest.count)
                    lastError = "write would block"
                    return false
                }
                size += Int64(n)
                rest = UnsafeRawBufferPointer(rebasing: rest[n...])
            } catch {
                droppedBytes += Int64(rest.count)
                lastError = "\(path): \(error.errno.message)"
                return false
            }
        }
        return true
    }

    /// `path` → `path.1` → … → `path.keep`; the oldest is dropped, a new `path` opened. Every
    /// step works in the directory opened at the start (`renameat`, `openat` with O_NOFOLLOW):
    /// a directory or link swapped in meanwhile is not followed. When the file cannot be moved,
    /// it grows on (with the error in `describe`) rather than rotating at every write.
    func rotate() {
        guard let (directory, base) = Files.openParent(of: path) else {
            lastError = "rotate \(path): \(Errno(rawValue: errno).message)"
            size = 0
            return
        }
        defer { directory.closeQuietly() }
        let dir = directory.rawValue
        unlinkat(dir, base + ".\(keep)", 0)
        if keep > 1 {
            for n in stride(from: keep - 1, through: 1, by: -1) { renameat(dir, base + ".\(n)", dir, base + ".\(n + 1)") }
        }
        let moved = keep > 0 ? renameat(dir, base, dir, base + ".1") : unlinkat(dir, base, 0)
        guard moved == 0 else {
            lastError = "rotate \(path): \(Errno(rawValue: errno).message)"
            size = 0  // next try after another --log-max-size
            return
        }
        if !reopen(in: directory, base) { size = 0 }
        _ = companion?.reopen()
    }

    /// Opens `path` again (after an external logrotate moved it: `sv reload-logs`): never
    /// through a symlink, and only a regular file of svd's uid or /dev/null (STYLE.md 27b).
    @discardableResult
    func reopen() -> Bool { reopen(in: nil, path) }

    private func reopen(in directory: FileDescriptor?, _ name: String) -> Bool {
        let fresh: FileDescriptor
        do throws(SyscallError) {
            if let directory { fresh = try Files.openAppend(name, in: directory) } else { fresh = try Files.openAppend(path) }
        } catch {
            lastError = "reopen \(path): \(error.errno.message)"
            return false
        }
        if let problem = Ownership.fileProblem(fresh, path) {
            fresh.closeQuietly()
            lastError = "reopen \(path): \(problem)"
            return false
        }
        file.closeQuietly()
        file = fresh
        measure()
        return true
    }

    /// Empties the file in place (`sv flush`): the app's descriptors stay valid, O_APPEND writes
    /// land at the new end.
    func truncate() {
        if isRegularFile && ftruncate(file.rawValue, 0) != 0 {
            lastError = "truncate \(path): \(Errno(rawValue: errno).message)"
        }
        size = 0
    }

    private func measure() {
        var info = stat()
        guard fstat(file.rawValue, &info) == 0 else { return }
        isRegularFile = info.st_mode & S_IFMT == S_IFREG
        size = Int64(info.st_size)
        fileKey = isRegularFile ? FileKey(device: UInt64(info.st_dev), inode: UInt64(info.st_ino)) : nil
    }

    func close() {
        pipe.close()
        file.closeQuietly()
    }
}

/// A file's identity: two paths to one file have the same key.
struct FileKey: Hashable {
    let device: UInt64
    let inode: UInt64
}

/// The timestamp text, formatted once per second and reused (design.md §7), or once per
/// millisecond when the pattern shows them; asked once per read, not per line.
struct TimestampCache {
    private var key: Int = -1
    private var text: [UInt8] = []

    mutating func prefix(_ format: LogDateFormat) -> [UInt8] {
        var spec = timespec()
        clock_gettime(CLOCK_REALTIME, &spec)
        let now = format.hasMilliseconds ? spec.tv_sec * 1000 + spec.tv_nsec / 1_000_000 : spec.tv_sec
        if now == key { return text }
        key = now
        var seconds = spec.tv_sec
        var parts = tm()
        localtime_r(&seconds, &parts)
        let time = CalendarTime(
            year: Int(parts.tm_year) + 1900, month: Int(parts.tm_mon) + 1, day: Int(parts.tm_mday), hour: Int(parts.tm_hour),
            minute: Int(parts.tm_min), second: Int(parts.tm_sec), millisecond: Int(spec.tv_nsec / 1_000_000),
            utcOffset: Int(parts.tm_gmtoff))
        text = Array((format.format(time) + ": ").utf8)
        return text
    }
}

/// svd's end of a Node app's IPC channel: one JSON value per line (json serialization mode).
/// svd reads and records; it never writes (invalid JSON would kill the child).
final class IPCChannel {
    let socket: FileDescriptor
    let run: RunID
    var lines = LineBufferWrapper()

    init(socket: FileDescriptor, run: RunID) {
        self.socket = socket
        self.run = run
    }
}

/// The channel's framing: lines up to 1 MiB; longer ones are dropped.
struct LineBufferWrapper {
    var buffer = LineBuffer()
    mutating func append(_ bytes: UnsafeRawBufferPointer) -> [[UInt8]] {
        do {
            return try buffer.append(bytes)
        } catch {
            buffer = LineBuffer()
            return []
        }
    }
}
