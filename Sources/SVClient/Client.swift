import CShims
import Glibc
import SVCore
import SVProtocol

/// A connection to svd, started on demand (cli.md, Daemon).
final class Client {
    let fd: Int32
    /// Replies may be large (`list` of 1,000 apps); svd caps a client's queue at 32 MiB.
    private var buffer = LineBuffer(limit: 32 << 20)
    private var pending: [[UInt8]] = []
    private var nextID = 1

    private init(fd: Int32) { self.fd = fd }
    deinit { close(fd) }

    /// `$SV_HOME`, default `~/.sv`. getenv, not the whole environment: building that dictionary
    /// was 13 % of `sv list`'s instructions.
    static var home: String {
        if let home = getenv("SV_HOME") { return String(cString: home) }
        return (getenv("HOME").map { String(cString: $0) } ?? "/root") + "/.sv"
    }
    static var socketPath: String { home + "/svd.sock" }

    /// Connects to the running svd (of `socket`, default this SV_HOME's), or nil when none answers.
    /// Nothing is sent to an SV_HOME or an svd that is not the caller's (STYLE.md 27b): the home
    /// must be the caller's and closed to others, and the socket's peer the caller or root.
    static func connectIfRunning(socket: String? = nil) throws -> Client? {
        if socket == nil, let problem = System.directoryProblem(home) { throw CLIError(problem) }
        let socketPath = socket ?? Self.socketPath
        let fd = System.connectUnix(socketPath)
        if fd >= 0 {
            let peer = sv_peer_uid(fd)
            guard peer >= 0, UInt32(peer) == geteuid() || peer == 0 else {
                close(fd)
                let owner = peer >= 0 ? System.describe(uid: UInt32(peer)) : "an unknown user"
                throw CLIError("\(socketPath) is served by \(owner), not by you or root: refused, nothing was sent (is SV_HOME another user's?)")
            }
            return Client(fd: fd)
        }
        switch errno {
        case ENOENT, ECONNREFUSED: return nil
        case ENAMETOOLONG: throw CLIError("the socket path \(socketPath) is too long for a Unix socket (use a shorter SV_HOME)")
        case EACCES: throw CLIError("cannot reach \(socketPath): permission denied (is it another user's SV_HOME?)")
        default: throw CLIError("cannot connect to \(socketPath): \(System.errorText(errno))")
        }
    }

    /// Connects, starting svd first when the socket does not answer.
    static func connectOrStart() throws -> Client {
        if let client = try connectIfRunning() { return client }
        try startDaemon()
        // The daemon reported ready (or another one holds the lock and is about to listen): poll
        // the socket with a deadline.
        let deadline = System.monotonicSeconds + 10
        var lastStart = System.monotonicSeconds
        while System.monotonicSeconds < deadline {
            if let client = try connectIfRunning() { return client }
            // The lock's holder may have been an svd on its way out (after `sv kill`, its socket
            // is gone before its lock): once it has exited, a new one must be started.
            if System.monotonicSeconds - lastStart > 0.5 {
                try startDaemon()
                lastStart = System.monotonicSeconds
            }
            var pause = timespec(tv_sec: 0, tv_nsec: 2_000_000)  // poll interval while svd binds
            nanosleep(&pause, nil)
        }
        throw CLIError("svd did not answer on \(socketPath) within 10 s (see \(home)/svd.log)")
    }

    /// Runs `svd` (beside `sv` first, then PATH) and waits for it to report ready. When
    /// `sv startup` installed a unit for this SV_HOME and systemd runs, systemd starts it: the
    /// two never race (design.md §7c).
    private static func startDaemon() throws {
        if let marker = Files.readText(home + "/startup.unit"), System.kind(of: "/run/systemd/system") == .directory {
            // "scope name path"; a marker whose unit file is gone is stale and ignored.
            let words = marker.split(whereSeparator: { $0 == " " || $0 == "\n" }).map(String.init)
            if words.count == 3, System.kind(of: words[2]) != .missing {
                let (scope, name) = (words[0], words[1])
                if scope == "system" && getuid() != 0 {
                    throw CLIError("svd is not running; the system unit \(name) starts it: run `sudo systemctl start \(name)`")
                }
                if scope == "user" && getenv("XDG_RUNTIME_DIR") == nil {
                    throw CLIError("svd is not running; the user unit \(name) starts it, but there is no user bus here (log in as the user, or run `systemctl --user start \(name)` there)")
                }
                try StartupUnit.run(scope == "user" ? ["systemctl", "--user", "start", name] : ["systemctl", "start", name])
                return
            }
        }
        let svd: String
        if let directory = System.executableDirectory, System.isExecutable(directory + "/svd") {
            svd = directory + "/svd"
        } else if let found = System.findInPath("svd", path: getenv("PATH").map { String(cString: $0) }) {
            svd = found
        } else {
            throw CLIError("cannot find svd beside sv or in PATH (reinstall with Scripts/install)")
        }
        // svd gets sv's environment without a service manager's variables: an svd started from
        // inside another service must not notify it or log to its journal.
        let environment = CapturedEnvironment.filter(System.environment).map { "\($0.key)=\($0.value)" }
        guard try System.runAndWait(svd, [svd], environment: environment) == 0 else {
            throw CLIError("svd failed to start (see the line above and \(home)/svd.log)")
        }
    }

    /// Sends one request and waits for its reply.
    func send(_ request: Request) throws -> JSON {
        let id = nextID
        nextID += 1
        var line = RequestFrame(id: id, request: request).json.serializedBytes
        line.append(0x0A)
        var offset = 0
        while offset < line.count {
            let n = line[offset...].withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
            if n < 0 {
                if errno == EINTR { continue }
                let reason = System.errorText(errno)
                // svd may have answered why it closed the connection (an oversized request).
                if let line = try? readLine(), let reply = try? Reply(json: try JSON.parse(line)),
                    case .failure(let error) = reply.outcome
                {
                    throw CLIError(error.message, code: error.code.rawValue)
                }
                throw CLIError("lost the connection to svd: \(reason)")
            }
            offset += n
        }
        while true {
            let frame = try readLine()
            let reply: Reply
            do { reply = try Reply(json: try JSON.parse(frame)) } catch {
                throw CLIError("svd sent a reply sv cannot read (\(error)); run `sv update`")
            }
            guard reply.id == id || reply.id == 0 else { continue }
            switch reply.outcome {
            case .success(let result): return result
            case .failure(let error): throw CLIError(error.message, code: error.code.rawValue)
            }
        }
    }

    private func readLine() throws -> [UInt8] {
        var chunk = [UInt8](repeating: 0, count: 65536)
        while pending.isEmpty {
            let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n < 0 {
                if errno == EINTR { continue }
                throw CLIError("lost the connection to svd: \(System.errorText(errno))")
            }
            if n == 0 { throw CLIError("svd closed the connection before replying (see \(Client.home)/svd.log)") }
            do {
                pending = try chunk[0..<n].withUnsafeBytes { (bytes) throws(ProtocolError) in try buffer.append(bytes) }
            } catch {
                throw CLIError("svd sent an oversized reply")
            }
        }
        return pending.removeFirst()
    }
}
