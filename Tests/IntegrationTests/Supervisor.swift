import CShims
import Foundation
import SVCore
import SVProtocol
import Testing

/// The directory of the test binary, where SwiftPM also puts `sv`, `svd` and `testchild`.
let binDirectory: String = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().deletingLastPathComponent().path
let svPath = binDirectory + "/sv"
let svdPath = binDirectory + "/svd"
let testchild = binDirectory + "/testchild"

/// The result of one `sv` command.
struct CommandResult: Sendable {
    var status: Int32
    var stdout: String
    var stderr: String
}

/// A real svd in a temporary SV_HOME, driven by the real sv (STYLE.md 33). Stops everything it
/// started when the test ends.
final class Supervisor: Sendable {
    let home: String
    let work: String

    init() throws {
        var template = Array("/tmp/svt-XXXXXX".utf8CString)
        guard let made = mkdtemp(&template) else { throw CLIFailure("mkdtemp failed") }
        let root = String(cString: made)
        home = root + "/h"
        work = root + "/w"
        try FileManager.default.createDirectory(atPath: work, withIntermediateDirectories: true)
    }

    /// A supervisor whose SV_HOME is `home` (for a home on a file system the test mounted).
    init(home: String) throws {
        self.home = home
        var template = Array("/tmp/svt-XXXXXX".utf8CString)
        guard let made = mkdtemp(&template) else { throw CLIFailure("mkdtemp failed") }
        work = String(cString: made) + "/w"
        try FileManager.default.createDirectory(atPath: work, withIntermediateDirectories: true)
    }

    var environment: [String: String] {
        var env = ProcessInfo.processInfo.environment
        env["SV_HOME"] = home
        return env
    }

    /// Runs `sv` with `arguments` and waits for it.
    @discardableResult
    func sv(_ arguments: String..., cwd: String? = nil) throws -> CommandResult { try run(arguments, cwd: cwd) }

    func run(
        _ arguments: [String], cwd: String? = nil, environment: [String: String]? = nil, program: String = svPath,
        stdin: String? = nil
    ) throws -> CommandResult {
        try launch(arguments, cwd: cwd, environment: environment, program: program, stdin: stdin).wait()
    }

    /// Starts `sv` without waiting for it: posix_spawn, output to files (Foundation's Process
    /// loses child exits on Linux, design.md §3).
    func launch(
        _ arguments: [String], cwd: String? = nil, environment: [String: String]? = nil, program: String = svPath,
        stdin: String? = nil
    ) throws -> Running {
        let stamp = "\(getpid())-\(UInt64.random(in: 0...UInt64.max))"
        let outPath = work + "/.out-" + stamp
        let errPath = work + "/.err-" + stamp
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, stdin ?? "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, outPath, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        posix_spawn_file_actions_addopen(&actions, 2, errPath, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        sv_spawn_file_actions_addchdir(&actions, cwd ?? work)
        let argv = ([program] + arguments).map { strdup($0) } + [nil]
        let envp = (environment ?? self.environment).map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer {
            for pointer in argv { free(pointer) }
            for pointer in envp { free(pointer) }
        }
        var pid: pid_t = 0
        let rc = posix_spawn(&pid, program, &actions, nil, argv, envp)
        guard rc == 0 else { throw CLIFailure("posix_spawn \(program): \(String(cString: strerror(rc)))") }
        return Running(pid: pid, outPath: outPath, errPath: errPath)
    }

    /// Starts any program (output discarded); the caller reaps it.
    func launchProgram(_ path: String, _ arguments: [String], environment: [String: String]? = nil) throws -> pid_t {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0)
        let argv = ([path] + arguments).map { strdup($0) } + [nil]
        let envp: [UnsafeMutablePointer<CChar>?]? = environment.map { $0.map { strdup("\($0.key)=\($0.value)") } + [nil] }
        defer {
            for pointer in argv { free(pointer) }
            for pointer in envp ?? [] { free(pointer) }
        }
        var pid: pid_t = 0
        let rc = envp.map { envp in posix_spawn(&pid, path, &actions, nil, argv, envp) } ?? posix_spawn(&pid, path, &actions, nil, argv, environ)
        guard rc == 0 else { throw CLIFailure("posix_spawn \(path): \(String(cString: strerror(rc)))") }
        return pid
    }

    /// Runs a program to its end; returns its exit code.
    func launchAndWait(_ path: String, _ arguments: [String]) throws -> Int32 {
        let pid = try launchProgram(path, arguments)
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        return (status & 0x7f) == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
    }

    /// Runs `sv` and requires exit 0.
    @discardableResult
    func ok(_ arguments: String...) throws -> String {
        let result = try run(arguments)
        guard result.status == 0 else {
            throw CLIFailure("sv \(arguments.joined(separator: " ")) exited \(result.status): \(result.stderr)")
        }
        return result.stdout
    }

    func list() throws -> [AppInfo] {
        try JSONCoder.decode([AppInfo].self, from: try ok("jlist"))
    }

    func app(_ name: String) throws -> AppInfo? { try list().first { $0.name == name } }

    func describe(_ target: String) throws -> AppDetail {
        let details = try JSONCoder.decode([AppDetail].self, from: try ok("describe", target, "--json"))
        guard let first = details.first else { throw CLIFailure("describe \(target) returned nothing") }
        return first
    }

    /// Writes a file under the work directory; returns its path.
    @discardableResult
    func file(_ name: String, _ contents: String, executable: Bool = false) throws -> String {
        let path = work + "/" + name
        try contents.write(toFile: path, atomically: true, encoding: .utf8)
        if executable { try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: path) }
        return path
    }

    /// The svd serving this home, from its lock file's holders in /proc.
    func daemonPids() -> [Int32] {
        var pids: [Int32] = []
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        for entry in entries {
            guard let pid = Int32(entry) else { continue }
            guard let exe = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(pid)/exe"),
                exe.hasSuffix("/svd")
            else { continue }
            guard let environ = FileManager.default.contents(atPath: "/proc/\(pid)/environ") else { continue }
            let variables = environ.split(separator: 0).map { String(decoding: $0, as: UTF8.self) }
            if variables.contains("SV_HOME=\(home)") { pids.append(pid) }
        }
        return pids
    }

    /// Stops every app and the daemon; kills what would be left; removes the directories.
    func tearDown() {
        _ = try? run(["kill"])
        for pid in daemonPids() { kill(pid, SIGKILL) }
        try? FileManager.default.removeItem(atPath: (home as NSString).deletingLastPathComponent)
    }
}

/// An `sv` command under way.
struct Running {
    let pid: pid_t
    let outPath: String
    let errPath: String

    func wait() -> CommandResult {
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        let out = (try? String(contentsOfFile: outPath, encoding: .utf8)) ?? ""
        let err = (try? String(contentsOfFile: errPath, encoding: .utf8)) ?? ""
        unlink(outPath)
        unlink(errPath)
        // WIFEXITED / WEXITSTATUS, by hand: the macros are not importable.
        let code = (status & 0x7f) == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
        return CommandResult(status: code, stdout: out, stderr: err)
    }
}

struct CLIFailure: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// Runs `body` with a fresh supervisor, torn down afterwards whatever happens.
func withSupervisor(_ body: (Supervisor) throws -> Void) throws {
    let supervisor = try Supervisor()
    defer { supervisor.tearDown() }
    try body(supervisor)
}

/// Polls `condition` until it holds or the deadline passes (STYLE.md 36).
func eventually(within seconds: Double = 5, _ condition: () throws -> Bool) rethrows -> Bool {
    let deadline = Date().addingTimeInterval(seconds)
    while Date() < deadline {
        if try condition() { return true }
        usleep(5_000)  // poll interval
    }
    return try condition()
}

func isAlive(_ pid: Int32) -> Bool {
    guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
        let close = stat.lastIndex(of: ")")
    else { return false }
    let state = stat[stat.index(close, offsetBy: 2)]
    return state != "Z"
}
