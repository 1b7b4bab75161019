import CShims
import Glibc
import SVCore
import SVLinux
import SVProtocol
import SVStore
import SystemPackage

/// `sv update` (design.md §5): svd re-executes itself in place, same pid, so the apps stay its
/// children. The new image gets every app's descriptors and state through a memfd, adopts them,
/// reaps what exited during the exec, and never runs the orphan check on them.
extension Daemon {
    /// The version of the state handed to the next image; `--check-upgrade` refuses others.
    static let handoverVersion = 1

    /// Checks the new svd, answers the client, and leaves the exec for the end of this iteration.
    func beginUpdate(svdPath: String) throws(ReplyError) -> JSON {
        if pendingExec != nil { throw ReplyError(.conflict, "an update is already under way") }
        if let busy = appBlockingExec() {
            throw ReplyError(.conflict, "\(busy.name) (id \(busy.id)) is stopping; run `sv update` again in a moment")
        }
        let fd = open(svdPath, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else {
            throw ReplyError(.failed, "cannot open \(svdPath): \(Errno(rawValue: errno).message)")
        }
        let version: String
        do {
            // The file checked is the file exec'd: through the descriptor, not the path.
            version = try checkUpgrade(path: "/proc/\(getpid())/fd/\(fd)", shownAs: svdPath)
        } catch {
            close(fd)
            throw error
        }
        pendingExec = PendingExec(fd: fd, path: svdPath, version: version)
        log.info("updating in place: svd \(svVersion) → \(version) (\(svdPath))")
        return .object(JSONObject([
            ("from", .string(svVersion)), ("to", .string(version)), ("pid", .int(Int64(getpid()))),
            ("execGeneration", .int(Int64(execGeneration))),
        ]))
    }

    /// An app whose state cannot be handed over (a stop under way), if any.
    func appBlockingExec() -> App? {
        apps.values.first { app in
            switch app.machine.phase {
            case .stopping, .launching: return true
            case .stopped, .running, .waitingRestart, .errored: return false
            }
        }
    }

    /// Runs `path --check-upgrade` (at most 5 s): its version when it accepts this protocol,
    /// schema and handover; the reason otherwise.
    private func checkUpgrade(path: String, shownAs shown: String) throws(ReplyError) -> String {
        guard let out = try? Pipe.make(nonblockingRead: false),
            let null = try? FileDescriptor.open("/dev/null", .readWrite, options: .closeOnExec)
        else { throw ReplyError(.failed, "cannot run \(path) --check-upgrade: no descriptors left") }
        defer { null.closeQuietly() }
        let arguments = [
            path, "--check-upgrade", "--protocol", String(protocolVersion), "--schema", String(Store.migrations.count),
            "--handover", String(Self.handoverVersion),
        ]
        let request = SpawnRequest(
            path: path, argv: [shown] + arguments.dropFirst(), environment: [], cwd: "/", descriptors: [null, out.write, out.write])
        let spawned = Spawner.spawn(request)
        out.write.closeQuietly()
        defer { out.read.closeQuietly() }
        guard case .success(let pid) = spawned else {
            if case .failure(let error) = spawned { throw ReplyError(.failed, "cannot run \(shown): \(error)") }
            throw ReplyError(.failed, "cannot run \(shown)")
        }
        var text: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        let deadline = SystemClock.now + .seconds(5)
        var timedOut = false
        while text.count < 65536 {
            // The loop waits here, briefly: a check that hangs is killed after 5 s.
            let left = (deadline - SystemClock.now).milliseconds
            var entry = pollfd(fd: out.read.rawValue, events: Int16(POLLIN), revents: 0)
            if left <= 0 || poll(&entry, 1, Int32(max(left, 0))) == 0 {
                timedOut = true
                break
            }
            let n = chunk.withUnsafeMutableBytes { Glibc.read(out.read.rawValue, $0.baseAddress, $0.count) }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { break }
            text += chunk[0..<n]
        }
        // The check must exit by the deadline too (it may close its output and linger).
        var status: Int32 = 0
        while waitpid(pid.rawValue, &status, WNOHANG) == 0 {
            if timedOut || SystemClock.now >= deadline {
                timedOut = true
                Reaper.signalGroup(pid, .kill)
                while waitpid(pid.rawValue, &status, 0) < 0 && errno == EINTR {}
                break
            }
            var none = pollfd(fd: -1, events: 0, revents: 0)
            _ = poll(&none, 0, 5)  // until the deadline, 5 ms at a time
        }
        if timedOut { throw ReplyError(.failed, "\(shown) --check-upgrade did not answer within 5 s") }
        let answer = String(decoding: text, as: UTF8.self).split(separator: "\n").first.map(String.init) ?? ""
        guard status == 0 else {
            throw ReplyError(.failed, "\(shown) refuses to take over: \(answer.isEmpty ? "exit status \(status)" : answer)")
        }
        // "svd 0.2.0 accepts protocol 1, schema 1, handover 1"
        let words = answer.split(separator: " ")
        return words.count > 1 ? String(words[1]) : "?"
    }

    /// Hands everything to the new image: state to a memfd, the descriptors it needs kept open,
    /// then fexecve. On failure svd goes on as it was.
    func performExec(_ exec: PendingExec) {
        // Checked again: this iteration's other events may have started a stop or a shutdown.
        if let busy = appBlockingExec() {
            log.warning("update skipped: \(busy.name) (id \(busy.id)) began stopping; run `sv update` again")
            close(exec.fd)
            return
        }
        if isShuttingDown || exitAfterReplyTo != nil {
            log.warning("update skipped: svd is shutting down")
            close(exec.fd)
            return
        }
        flushStore()
        if let problem = storeProblem {
            log.error("update skipped: sv.db cannot be written (\(problem)); the new svd would adopt stale rows")
            close(exec.fd)
            return
        }
        for id in Array(clients.keys) { drop(id) }
        var kept: [FileDescriptor] = [listener, lock]
        var appStates: [JSON] = []
        for app in apps.values.sorted(by: { $0.id < $1.id }) {
            let machine = app.machine
            var object = JSONObject()
            object["id"] = .int(Int64(app.id.rawValue))
            object["desired"] = .string(machine.desired.rawValue)
            object["restarts"] = .int(Int64(machine.restarts))
            object["unstableRuns"] = .int(Int64(machine.unstableRuns))
            object["lastRun"] = .int(Int64(machine.lastRun.rawValue))
            object["lastTimer"] = .int(Int64(machine.latestTimer.rawValue))
            object["lastDecision"] = .string(machine.lastDecision)
            object["messages"] = .int(Int64(app.messages))
            let pipes = [app.stdin.read, app.stdin.write, app.stdout.pipe.read, app.stdout.pipe.write,
                         app.stderr.pipe.read, app.stderr.pipe.write]
            object["pipes"] = .array(pipes.map { .int(Int64($0.rawValue)) })
            kept += pipes
            if let channel = app.ipc {
                object["ipc"] = .int(Int64(channel.socket.rawValue))
                object["ipcRun"] = .int(Int64(channel.run.rawValue))
                kept.append(channel.socket)
            }
            switch machine.phase {
            case .running(let run):
                object["phase"] = .string("running")
                object["pid"] = .int(Int64(run.pid.rawValue))
                object["run"] = .int(Int64(run.id.rawValue))
                object["sinceNs"] = .int(run.since.nanoseconds)
                object["ready"] = .bool(run.isReady)
                object["startedAtMs"] = .int(app.startedAt?.milliseconds ?? 0)
            case .waitingRestart(let timer, let at):
                object["phase"] = .string("waitingRestart")
                object["timer"] = .int(Int64(timer.rawValue))
                object["atNs"] = .int(at.nanoseconds)
            case .errored: object["phase"] = .string("errored")
            case .stopped: object["phase"] = .string("stopped")
            case .stopping, .launching:
                preconditionFailure("exec while \(app.name) is \(machine.phase): beginUpdate refuses that")
            }
            appStates.append(.object(object))
        }
        let state = JSON.object(JSONObject([
            ("handover", .int(Int64(Self.handoverVersion))), ("execGeneration", .int(Int64(execGeneration))),
            ("listener", .int(Int64(listener.rawValue))), ("lock", .int(Int64(lock.rawValue))),
            ("startedAtNs", .int(startedAt.nanoseconds)), ("wakeups", .int(Int64(wakeups))),
            ("appUmask", .int(Int64(appUmask))), ("appNofile", .int(Int64(appNofileSoft ?? 0))),
            ("apps", .array(appStates)),
        ]))
        let memfd = sv_memfd_create("svd-handover")  // close-on-exec until cleared below
        guard memfd >= 0 else {
            log.error("update failed: memfd_create: \(Errno(rawValue: errno).message); svd goes on")
            close(exec.fd)
            return
        }
        let bytes = state.serializedBytes
        var offset = 0
        while offset < bytes.count {
            let n = bytes[offset...].withUnsafeBytes { Glibc.write(memfd, $0.baseAddress, $0.count) }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { break }
            offset += n
        }
        guard offset == bytes.count, lseek(memfd, 0, SEEK_SET) == 0 else {
            log.error("update skipped: the handover could not be written: \(Errno(rawValue: errno).message)")
            close(memfd)
            close(exec.fd)
            return
        }
        // Only these survive the exec (design.md §5); everything else is close-on-exec.
        var cleared = true
        for fd in kept + [FileDescriptor(rawValue: memfd)] where sv_set_cloexec(fd.rawValue, 0) != 0 { cleared = false }
        guard cleared else {
            for fd in kept { _ = sv_set_cloexec(fd.rawValue, 1) }
            log.error("update skipped: fcntl: \(Errno(rawValue: errno).message)")
            close(memfd)
            close(exec.fd)
            return
        }
        log.info("exec \(exec.path) (handover of \(apps.count) apps)")
        let argv = [exec.path, "--reexec", String(memfd)]
        let result: Int32 = withCStrings(argv) { argv in sv_fexecve(exec.fd, argv) }
        // Still here: the exec failed. Put things back and go on.
        let reason = Errno(rawValue: errno).message
        for fd in kept { _ = sv_set_cloexec(fd.rawValue, 1) }
        close(memfd)
        close(exec.fd)
        log.error("update failed: fexecve \(exec.path): \(reason) (\(result)); svd \(svVersion) goes on")
    }
}

/// An exec waiting for the end of the loop iteration (the reply goes out first).
struct PendingExec {
    let fd: Int32
    let path: String
    let version: String
}
