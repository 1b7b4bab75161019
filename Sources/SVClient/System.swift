import Glibc
import SVCore

/// The few facts about the caller's process and files the CLI needs, without Foundation.
enum System {
    static var environment: [String: String] {
        var out: [String: String] = [:]
        var cursor = environ
        while let entry = cursor.pointee {
            let text = String(cString: entry)
            if let equals = text.utf8.firstIndex(of: UInt8(ascii: "=")) {
                out[String(text[..<equals])] = String(text[text.index(after: equals)...])
            }
            cursor += 1
        }
        return out
    }

    static var currentDirectory: String {
        var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        guard getcwd(&buffer, buffer.count) != nil else { return "/" }
        return buffer.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }  // getcwd filled it
    }

    /// `path` made absolute against `base`, with "." and ".." resolved lexically.
    static func absolute(_ path: String, base: String) -> String {
        let joined = path.hasPrefix("/") ? path : base + "/" + path
        var parts: [Substring] = []
        for part in joined.split(separator: "/") {
            if part == "." { continue }
            if part == ".." {
                _ = parts.popLast()
                continue
            }
            parts.append(part)
        }
        return "/" + parts.joined(separator: "/")
    }

    enum FileKind { case missing, regular, directory, other }

    static func kind(of path: String) -> FileKind {
        var info = stat()
        guard stat(path, &info) == 0 else { return .missing }
        switch info.st_mode & S_IFMT {
        case S_IFREG: return .regular
        case S_IFDIR: return .directory
        default: return .other
        }
    }

    static func isExecutable(_ path: String) -> Bool { access(path, X_OK) == 0 }

    static func errorText(_ code: Int32) -> String { String(cString: strerror(code)) }

    /// The absolute path of `program` found in `PATH` (or itself when it has a slash).
    static func findInPath(_ program: String, path: String?) -> String? {
        if program.contains("/") { return isExecutable(program) ? absolute(program, base: currentDirectory) : nil }
        for directory in (path ?? "/usr/local/bin:/usr/bin:/bin").split(separator: ":") where !directory.isEmpty {
            let candidate = String(directory) + "/" + program
            if kind(of: candidate) == .regular && isExecutable(candidate) {
                return absolute(candidate, base: currentDirectory)
            }
        }
        return nil
    }

    /// The directory of the running `sv` binary (`/proc/self/exe`).
    static var executableDirectory: String? {
        var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        let n = readlink("/proc/self/exe", &buffer, buffer.count - 1)
        guard n > 0 else { return nil }
        let path = String(decoding: buffer[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
        guard let slash = path.lastIndex(of: "/") else { return nil }
        return String(path[..<slash])
    }

    static func writeStderr(_ text: String) {
        var bytes = Array(text.utf8)
        _ = bytes.withUnsafeMutableBytes { write(2, $0.baseAddress, $0.count) }
    }

    static var isTerminal: Bool { isatty(1) == 1 }

    /// Runs `command` and returns its exit code, stdout and stderr (through temporary files, so
    /// neither pipe can fill and block).
    static func capture(_ command: [String]) throws -> (Int32, [UInt8], String) {
        let stamp = "\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        let outPath = "/tmp/.sv-capture-\(stamp).out"
        let errPath = "/tmp/.sv-capture-\(stamp).err"
        defer {
            unlink(outPath)
            unlink(errPath)
        }
        let code = try runAndWait(command[0], command, output: (outPath, errPath))
        return (code, Files.readBytes(outPath) ?? [], Files.readText(errPath) ?? "")
    }

    /// Runs `program` with `arguments` (argv[0] included) and waits: its exit code, or 128 +
    /// the signal that ended it. `environment` defaults to sv's own; `output` redirects stdout
    /// and stderr to files (stdin then /dev/null), else they are inherited.
    static func runAndWait(
        _ program: String, _ arguments: [String], environment: [String]? = nil, output: (String, String)? = nil
    ) throws -> Int32 {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        if let (out, err) = output {
            posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
            posix_spawn_file_actions_addopen(&actions, 1, out, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
            posix_spawn_file_actions_addopen(&actions, 2, err, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        }
        let argv: [UnsafeMutablePointer<CChar>?] = arguments.map { strdup($0) } + [nil]
        let envp: [UnsafeMutablePointer<CChar>?]? = environment.map { $0.map { strdup($0) } + [nil] }
        defer {
            for pointer in argv { free(pointer) }
            for pointer in envp ?? [] { free(pointer) }
        }
        var pid: pid_t = 0
        let rc = envp.map { posix_spawn(&pid, program, &actions, nil, argv, $0) } ?? posix_spawn(&pid, program, &actions, nil, argv, environ)
        guard rc == 0 else { throw CLIError("cannot run \(program): \(errorText(rc))") }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        // WIFEXITED / WEXITSTATUS / WTERMSIG are macros Swift cannot call.
        return status & 0x7f == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
    }

    static var monotonicSeconds: Double {
        var spec = timespec()
        clock_gettime(CLOCK_MONOTONIC, &spec)
        return Double(spec.tv_sec) + Double(spec.tv_nsec) / 1e9
    }

    /// A blocking, close-on-exec connection to a Unix socket; -1 with errno set.
    /// Why the directory at `path` cannot be the caller's home (OwnershipRules), or nil.
    static func directoryProblem(_ path: String) -> String? {
        var info = stat()
        guard lstat(path, &info) == 0 else { return nil }
        let facts = OwnershipRules.Facts(
            isSymlink: info.st_mode & S_IFMT == S_IFLNK, isDirectory: info.st_mode & S_IFMT == S_IFDIR, owner: info.st_uid,
            mode: info.st_mode)
        return OwnershipRules.directoryProblem(path, facts, me: geteuid(), describe: describe(uid:))
    }

    /// "uid 1000 (deploy)".
    static func describe(uid: UInt32) -> String {
        guard let entry = getpwuid(uid), let name = entry.pointee.pw_name else { return "uid \(uid)" }
        return "uid \(uid) (\(String(cString: name)))"
    }

    static func connectUnix(_ path: String) -> Int32 {
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        guard bytes.count < MemoryLayout.size(ofValue: address.sun_path) else {
            errno = ENAMETOOLONG
            return -1
        }
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            for (i, byte) in bytes.enumerated() { raw[i] = byte }
        }
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { return -1 }
        let length = socklen_t(MemoryLayout<sockaddr_un>.size)
        var rc: Int32
        repeat {
            rc = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, length) } }
        } while rc < 0 && errno == EINTR
        if rc < 0 {
            let saved = errno
            close(fd)
            errno = saved
            return -1
        }
        return fd
    }
}
