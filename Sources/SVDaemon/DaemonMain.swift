import CShims
import Glibc
import Logging
import SVCore
import SVLinux
import SVProtocol
import SVStore
import SystemPackage

/// svd's start steps (design.md §1), in order. The caller has blocked the handled signals as its
/// first statement (`SVDaemon.blockSignals()`), before any thread exists.
public enum SVDaemonMain {
    /// Blocks every signal svd reads from its signalfd. Call first thing in `main`.
    public static func blockSignals() {
        try? SignalFD.block(Daemon.handledSignals)
    }

    public static func run(arguments: [String], environment: [String: String]) -> Int32 {
        var foreground = false
        var reexec: Int32?
        var check: [String: Int] = [:]
        var isCheck = false
        var rest = Array(arguments.dropFirst())
        while !rest.isEmpty {
            let argument = rest.removeFirst()
            func number() -> Int? { rest.isEmpty ? nil : Int(rest.removeFirst()) }
            switch argument {
            case "--foreground": foreground = true
            case "--reexec":
                guard let fd = number() else {
                    writeError("svd: --reexec needs a descriptor\n")
                    return 64
                }
                reexec = Int32(fd)
            case "--check-upgrade": isCheck = true
            case "--protocol", "--schema", "--handover":
                guard let value = number() else {
                    writeError("svd: \(argument) needs a number\n")
                    return 64
                }
                check[argument] = value
            case "--version":
                print("svd \(svVersion)")
                return 0
            case "--help", "-h":
                print(
                    """
                    usage: svd [--foreground]

                    The sv supervisor daemon. `sv` starts it on demand; `svd --foreground` runs it attached
                    (what `sv startup`'s unit runs). State lives in $SV_HOME (default ~/.sv).
                    """)
                return 0
            default:
                writeError("svd: unknown argument '\(argument)' (try svd --help)\n")
                return 64
            }
        }
        if isCheck { return checkUpgrade(check) }
        if let reexec { return runAdopted(handover: reexec, environment: environment) }

        // Descriptors inherited from whoever started svd (a test runner, a shell) are not ours:
        // held open, they would keep the caller's pipes alive and leak into apps.
        _ = sv_close_range_from(3)
        reopenStandardDescriptors()
        // Every disposition to the default: an inherited SIG_IGN for SIGCHLD would auto-reap
        // children and lose their exits, and ignored signals would reach every app (sv_spawn
        // resets only SIGPIPE, the one svd ignores).
        sv_reset_signal_dispositions()
        signal(SIGPIPE, SIG_IGN)
        let appNofile = Files.raiseNofileLimit()
        let appUmask = umask(0o077)

        guard let root = environment["SV_HOME"] ?? environment["HOME"].map({ $0 + "/.sv" }) else {
            writeError("svd: neither SV_HOME nor HOME is set\n")
            return 1
        }
        let home = StateDirectory(root: root)
        // Own your home (STYLE.md 27b): checked before it is made or its mode set, and again
        // after (a directory made by someone else meanwhile).
        for directory in [home.root, home.logs] {
            if let problem = Ownership.directoryProblem(directory) {
                writeError("svd: \(problem)\n")
                return 1
            }
            do { try Files.ensureDirectory(directory, mode: 0o700) } catch {
                writeError("svd: cannot create \(directory): \(error.errno.message)\n")
                return 1
            }
            if let problem = Ownership.directoryProblem(directory) {
                writeError("svd: \(problem)\n")
                return 1
            }
        }

        var report: Int32 = -1
        if !foreground {
            report = sv_daemonize()
            if report < 0 {
                writeError("svd: fork: \(Errno(rawValue: errno).message)\n")
                return 1
            }
        }
        func fail(_ message: String) -> Int32 {
            if report >= 0 {
                var bytes = Array(message.utf8)
                _ = bytes.withUnsafeMutableBytes { write(report, $0.baseAddress, $0.count) }
            } else {
                writeError(message)
            }
            return 1
        }

        let lock: FileDescriptor
        do {
            guard let held = try Files.lockExclusive(home.lock) else {
                if report >= 0 {
                    _ = write(report, "L", 1)  // another svd serves this SV_HOME: the caller connects to it
                    return 0
                }
                return fail("svd: another svd already serves \(home.root)\n")
            }
            lock = held
        } catch {
            return fail("svd: cannot lock \(home.lock): \(error.errno.message)\n")
        }

        if let problem = Ownership.fileProblem(lock, home.lock) { return fail("svd: \(problem)\n") }
        let logFD: Int32
        do { logFD = try Files.openAppend(home.daemonLog).rawValue } catch {
            return fail("svd: cannot open \(home.daemonLog): \(error.errno.message)\n")
        }
        if let problem = Ownership.fileProblem(FileDescriptor(rawValue: logFD), home.daemonLog) { return fail("svd: \(problem)\n") }
        let systemd = Systemd.loadIfUnderSystemd(environment)
        let journal = Systemd.stderrIsJournal(environment) ? systemd : nil
        LoggingSystem.bootstrap { _ in DaemonLogHandler(fd: logFD, journal: journal) }
        let log = Logger(label: "svd")

        do { try Reaper.becomeSubreaper() } catch {
            return fail("svd: \(error)\n")
        }

        let opened: StoreOpening.Opened
        switch StoreOpening.open(home, log: log) {
        case .success(let result): opened = result
        case .failure(let failure):
            log.critical("\(failure.message)")
            return fail("svd: \(failure.message)\n")
        }
        let store = opened.store
        let daemon: Daemon
        do {
            daemon = try Daemon(home: home, log: log, lock: lock, store: store, appNofileSoft: appNofile, appUmask: appUmask)
        } catch {
            return fail("svd: cannot serve \(home.socket): \(error)\n")
        }
        // The marker of a running svd: still there, the previous one crashed (or was killed).
        let previous = Files.readSmall(home.runningMarker, following: false).map { String(decoding: $0, as: UTF8.self) }
        if let previous {
            let pid = previous.split(separator: " ").first.map(String.init) ?? "?"
            log.warning("the previous svd (pid \(pid)) ended without shutting down: stopping what it left running, then restoring")
        }
        Files.writeSmall(home.runningMarker, Array("\(getpid()) \(SystemClock.wallNow.milliseconds)\n".utf8))
        do {
            if opened.movedAside != nil {
                daemon.recoverFromSavedSet()
            } else {
                try daemon.restore(previousCrashed: previous != nil)
            }
        } catch {
            return fail("svd: cannot read the apps in \(home.database): \(error.message)\n")
        }
        daemon.flushStore()
        daemon.systemd = systemd
        daemon.announceReady()
        log.info("svd \(svVersion) started, pid \(getpid()), serving \(home.root)")
        if report >= 0 {
            _ = write(report, "R", 1)
            close(report)
            // Detached: nothing of the caller's terminal or pipes stays open in svd. Its stdout and
            // stderr go to svd.log, so that a crash's last words (a Swift fatal error) are kept.
            let null = open("/dev/null", O_RDWR | O_CLOEXEC)
            if null >= 0 {
                dup2(null, 0)
                close(null)
            }
            dup2(logFD, 1)
            dup2(logFD, 2)
        }
        let code = daemon.run()
        log.info("svd exiting")
        unlink(home.runningMarker)
        return code
    }

    /// `svd --check-upgrade`: run by the svd being replaced. Accepts when this image speaks the
    /// same protocol, knows the schema (it migrates forward, never back) and reads the handover.
    static func checkUpgrade(_ values: [String: Int]) -> Int32 {
        let theirs = (values["--protocol"] ?? 0, values["--schema"] ?? 0, values["--handover"] ?? 0)
        if theirs.0 != protocolVersion {
            print("svd \(svVersion) speaks protocol \(protocolVersion), not \(theirs.0)")
            return 1
        }
        if theirs.1 > Store.migrations.count {
            print("svd \(svVersion) knows schema \(Store.migrations.count), older than \(theirs.1)")
            return 1
        }
        if theirs.2 != Daemon.handoverVersion {
            print("svd \(svVersion) reads handover \(Daemon.handoverVersion), not \(theirs.2)")
            return 1
        }
        print("svd \(svVersion) accepts protocol \(theirs.0), schema \(theirs.1), handover \(theirs.2)")
        return 0
    }

    /// The new image after `sv update`'s fexecve: same pid, same lock and socket, the apps
    /// adopted from the handover in `fd` (a memfd). Descriptors are kept: they are the apps'.
    static func runAdopted(handover fd: Int32, environment: [String: String]) -> Int32 {
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { break }
            bytes += chunk[0..<n]
        }
        close(fd)
        guard let root = environment["SV_HOME"] ?? environment["HOME"].map({ $0 + "/.sv" }) else { return 1 }
        let home = StateDirectory(root: root)
        guard let logFD = try? Files.openAppend(home.daemonLog).rawValue else { return 1 }
        let systemd = Systemd.loadIfUnderSystemd(environment)
        let journal = Systemd.stderrIsJournal(environment) ? systemd : nil
        LoggingSystem.bootstrap { _ in DaemonLogHandler(fd: logFD, journal: journal) }
        let log = Logger(label: "svd")
        guard let state = try? JSON.parse(bytes), let listenerFD = state["listener"]?.intValue,
            let lockFD = state["lock"]?.intValue
        else {
            log.critical("after update: the handover of the previous svd cannot be read; exiting (the next command starts svd again)")
            return 1
        }
        sv_reset_signal_dispositions()
        signal(SIGPIPE, SIG_IGN)
        let listener = FileDescriptor(rawValue: Int32(listenerFD))
        let lock = FileDescriptor(rawValue: Int32(lockFD))
        _ = sv_set_cloexec(listener.rawValue, 1)
        _ = sv_set_cloexec(lock.rawValue, 1)
        let store: Store
        var recovering = false
        switch StoreOpening.open(home, log: log) {
        case .success(let opened):
            store = opened.store
            if opened.movedAside != nil {
                // The rows are gone: nothing to adopt from. The handed-over processes are stopped
                // (never two instances), then the apps come back from saved.json.
                log.critical("after update: sv.db was corrupt and moved aside; stopping the apps and recovering from saved.json")
                for entry in state["apps"]?.arrayValue ?? [] where entry["phase"]?.stringValue == "running" {
                    if let pid = entry["pid"]?.intValue { Reaper.signalGroup(ProcessID(Int32(pid)), .kill) }
                }
                recovering = true
            }
        case .failure(let failure):
            log.critical("after update: \(failure.message)")
            return 1
        }
        let nofile = state["appNofile"]?.intValue ?? 0
        let daemon: Daemon
        do {
            daemon = try Daemon(
                home: home, log: log, lock: lock, store: store, appNofileSoft: nofile > 0 ? UInt64(nofile) : nil,
                appUmask: mode_t(state["appUmask"]?.intValue ?? 0o022), inheritedListener: listener)
            if recovering {
                for entry in state["apps"]?.arrayValue ?? [] {
                    for fd in (entry["pipes"]?.arrayValue ?? []) + [entry["ipc"] ?? .null] {
                        if let raw = fd.intValue { close(Int32(raw)) }
                    }
                }
                daemon.execGeneration = Int(state["execGeneration"]?.intValue ?? 0) + 1
                daemon.recoverFromSavedSet()
            } else {
                try daemon.adopt(state)
            }
        } catch {
            log.critical("after update: cannot take over: \(error)")
            return 1
        }
        daemon.flushStore()
        daemon.systemd = systemd
        daemon.announceReady()  // READY=1 and STATUS= again after an in-place update
        let code = daemon.run()
        log.info("svd exiting")
        unlink(home.runningMarker)
        return code
    }

    /// Makes sure fds 0–2 are open (on /dev/null), so no later descriptor takes their place.
    static func reopenStandardDescriptors() {
        for fd: Int32 in 0...2 where fcntl(fd, F_GETFD) < 0 {
            let null = open("/dev/null", O_RDWR)
            if null >= 0 && null != fd {
                dup2(null, fd)
                close(null)
            }
        }
    }

    static func writeError(_ message: String) {
        var bytes = Array(message.utf8)
        _ = bytes.withUnsafeMutableBytes { write(2, $0.baseAddress, $0.count) }
    }
}
