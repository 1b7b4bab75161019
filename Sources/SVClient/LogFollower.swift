import Glibc
import SVCore

/// Follows log files with inotify until ^C: new lines as they are written, across rotations
/// (the file renamed to `.1`, a new one created) and flushes (the file truncated). Watches the
/// directories, not the files, so a file that appears later is seen too.
final class LogFollower {
    private struct Followed {
        var file: LogFile
        var fd: Int32
        var offset: Int64
        var carry: [UInt8] = []
    }

    private var followed: [String: Followed] = [:]
    private var byDirectory: [Int32: String] = [:]
    private let inotify: Int32
    private var printer: LinePrinter
    private let refresh: (() -> [LogFile])?

    init(files: [LogFile], printer: LinePrinter, refresh: (() -> [LogFile])?) throws {
        self.printer = printer
        self.refresh = refresh
        inotify = inotify_init1(Int32(IN_CLOEXEC))
        guard inotify >= 0 else { throw CLIError("cannot follow logs: inotify_init1: \(System.errorText(errno))") }
        for file in files { try add(file, fromEnd: true) }
    }

    deinit {
        for entry in followed.values where entry.fd >= 0 { close(entry.fd) }
        close(inotify)
    }

    private func add(_ file: LogFile, fromEnd: Bool) throws {
        guard followed[file.path] == nil else { return }
        let directory = Self.directory(of: file.path)
        if !byDirectory.values.contains(directory) {
            let mask = UInt32(IN_MODIFY | IN_CREATE | IN_MOVED_TO | IN_MOVED_FROM | IN_DELETE)
            let wd = inotify_add_watch(inotify, directory, mask)
            if wd < 0 {
                if errno == ENOSPC {
                    throw CLIError("cannot follow \(directory): the inotify watch limit is reached (raise fs.inotify.max_user_watches)")
                }
                throw CLIError("cannot follow \(directory): \(System.errorText(errno))")
            }
            byDirectory[wd] = directory
        }
        var entry = Followed(file: file, fd: -1, offset: 0)
        entry.fd = open(file.path, O_RDONLY | O_CLOEXEC)
        if entry.fd >= 0, fromEnd {
            var info = stat()
            if fstat(entry.fd, &info) == 0 { entry.offset = Int64(info.st_size) }
        }
        followed[file.path] = entry
    }

    static func directory(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        return slash == path.startIndex ? "/" : String(path[..<slash])
    }

    /// Reads inotify events and prints what was written, forever.
    func run() throws {
        var buffer = [UInt8](repeating: 0, count: 64 * 1024)
        while true {
            let n = buffer.withUnsafeMutableBytes { read(inotify, $0.baseAddress, $0.count) }
            if n < 0 {
                if errno == EINTR { continue }
                throw CLIError("reading inotify events: \(System.errorText(errno))")
            }
            var offset = 0
            var changed: [String] = []
            var appeared = false
            while offset + 16 <= n {
                let (wd, mask, length) = buffer.withUnsafeBytes { raw -> (Int32, UInt32, Int) in
                    (raw.load(fromByteOffset: offset, as: Int32.self), raw.load(fromByteOffset: offset + 4, as: UInt32.self),
                     Int(raw.load(fromByteOffset: offset + 12, as: UInt32.self)))
                }
                let nameBytes = buffer[(offset + 16)..<(offset + 16 + length)].prefix { $0 != 0 }
                offset += 16 + length
                if mask & UInt32(IN_Q_OVERFLOW) != 0 {
                    changed += Array(followed.keys)  // events were lost: read everything that is there
                    continue
                }
                guard let directory = byDirectory[wd] else { continue }
                let path = directory + "/" + String(decoding: nameBytes, as: UTF8.self)
                if mask & UInt32(IN_MOVED_FROM | IN_DELETE) != 0, var entry = followed[path], entry.fd >= 0 {
                    // Rotation: the old file is now `.1`; what was written to it before the move still counts.
                    drain(&entry)
                    close(entry.fd)
                    entry.fd = -1
                    followed[path] = entry
                } else if mask & UInt32(IN_CREATE | IN_MOVED_TO) != 0 {
                    if var entry = followed[path] {
                        if entry.fd >= 0 { close(entry.fd) }
                        entry.fd = open(path, O_RDONLY | O_CLOEXEC)
                        entry.offset = 0
                        followed[path] = entry
                        changed.append(path)
                    } else if path.hasSuffix(".log") {
                        appeared = true
                    }
                } else if mask & UInt32(IN_MODIFY) != 0, followed[path] != nil {
                    changed.append(path)
                }
            }
            if appeared, let refresh {
                for file in refresh() where followed[file.path] == nil { try add(file, fromEnd: false) }
                changed += Array(followed.keys)
            }
            for path in Set(changed) {
                guard var entry = followed[path] else { continue }
                drain(&entry)
                followed[path] = entry
            }
        }
    }

    /// Prints what the file holds past the offset; a file shorter than the offset was flushed.
    private func drain(_ entry: inout Followed) {
        guard entry.fd >= 0 else { return }
        var info = stat()
        if fstat(entry.fd, &info) == 0 && Int64(info.st_size) < entry.offset {
            entry.offset = 0
            entry.carry.removeAll()
        }
        var chunk = [UInt8](repeating: 0, count: 64 * 1024)
        while true {
            let n = chunk.withUnsafeMutableBytes { pread(entry.fd, $0.baseAddress, $0.count, off_t(entry.offset)) }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { break }
            entry.offset += Int64(n)
            entry.carry += chunk[0..<n]
            while let newline = entry.carry.firstIndex(of: 0x0A) {
                printer.print(String(decoding: entry.carry[..<newline], as: UTF8.self), of: entry.file)
                entry.carry.removeSubrange(...newline)
            }
        }
    }
}
