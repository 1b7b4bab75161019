import Glibc
import SVCore
import SVLinux
import SVProtocol
import SVStore
import SystemPackage

/// The one exhaustive switch over `AppEffect` (STYLE.md 2). It decides no policy.
extension Daemon {
    func perform(_ effects: [AppEffect], for app: App) {
        for effect in effects {
            switch effect {
            case .spawn(let run):
                spawn(app, run: run)
            case .signalGroup(let pid, let signal):
                if let leftover = app.leftover, leftover.leader == pid.rawValue {
                    signalLeftover(app, signal)
                } else {
                    Reaper.signalGroup(pid, signal)
                }
            case .armTimer(let id, let at):
                let key = TimerKey(app: app.id, timer: id)
                timers.insert(PendingTimer(deadline: at, key: key))
                liveTimers.insert(key)
            case .cancelTimer(let id):
                let key = TimerKey(app: app.id, timer: id)
                if liveTimers.remove(key) != nil { cancelledTimers.insert(key) }
            case .recordRunEnded(let run, let status, let escalated, let decision):
                let now = SystemClock.wallNow
                app.recordEnd(run: run, status: status, escalated: escalated, decision: decision, at: now)
                pendingWrites.append(
                    .runEnded(app: app.id, run: run, at: now, status: status, escalated: escalated, decision: decision))
                closeIPCIfOf(app, run: run)
                log.info("\(app.name) (id \(app.id)): \(status)\(escalated ? " after SIGKILL" : ""); \(decision)")
            case .recordDecision(let decision):
                log.info("\(app.name) (id \(app.id)): \(decision)")
            case .remove:
                remove(app)
            }
        }
    }

    private func closeIPCIfOf(_ app: App, run: RunID) {
        if let channel = app.ipc, channel.run == run { closeIPC(app) }
    }

    /// Spawns a run: the fork child does everything between fork and exec (design.md §1).
    /// Nothing else happens between the reaped exit that led here and this call.
    private func spawn(_ app: App, run: RunID) {
        let spec = app.machine.spec
        var descriptors = [app.stdin.read, app.stdout.pipe.write, app.stderr.pipe.write]
        var environment = spec.environment(instance: app.instance)
        environment["SV_APP_NAME"] = spec.name
        environment["SV_APP_ID"] = app.id.description
        // With SV_APP_ID, the mark of this home's runs: the next svd finds a run whose row was
        // never committed (a crash right after the spawn) by it (Leftovers.swift).
        environment[Self.markHome] = home.root
        environment[Self.markRun] = String(run.rawValue)
        // pm2's names, which migrated apps read.
        environment["pm_id"] = app.id.description
        environment["name"] = spec.name
        var childIPC: FileDescriptor?
        if spec.isNode {
            closeIPC(app)
            if let (mine, theirs) = try? SocketPair.make() {
                try? mine.setNonblocking()
                app.ipc = IPCChannel(socket: mine, run: run)
                try? epoll.add(mine, for: .readable, token: Token(.ipc, app.id.rawValue).rawValue)
                childIPC = theirs
                descriptors.append(theirs)
                environment["NODE_CHANNEL_FD"] = String(descriptors.count - 1)
                environment["NODE_CHANNEL_SERIALIZATION_MODE"] = "json"
            }
        }
        var request = SpawnRequest(
            path: spec.executable, argv: spec.argv, environment: environment.map { "\($0.key)=\($0.value)" },
            cwd: spec.cwd, descriptors: descriptors)
        request.umask = appUmask
        request.nofileSoft = appNofileSoft
        let result = Spawner.spawn(request)
        childIPC?.closeQuietly()
        switch result {
        case .success(let pid):
            appsByPid[pid] = app.id
            app.lastSpawnError = nil
            let now = SystemClock.wallNow
            app.recordStart(run: run, pid: pid, at: now)
            feed(app, .spawned(pid: pid, run: run))
            // After the spawn: the /proc readings the orphan check needs, then the row.
            pendingWrites.append(.runStarted(runRow(app: app, run: run, pid: pid, at: now)))
        case .failure(let error):
            closeIPC(app)
            app.lastSpawnError = error.description
            let now = SystemClock.wallNow
            app.recordStart(run: run, pid: ProcessID(0), at: now)
            pendingWrites.append(.runStarted(RunRow(
                appID: Int64(app.id.rawValue), run: Int64(run.rawValue), pid: 0, bootID: bootID, startTicks: 0, exe: nil,
                startedAtMs: now.milliseconds)))
            log.warning("\(app.name) (id \(app.id)): cannot start: \(error.description)")
            feed(app, .spawnFailed(reason: "cannot start: \(error.description)", run: run))
        }
    }

    /// Forgets a deleted app and closes what svd held for it.
    func remove(_ app: App) {
        dropLeftover(of: app)
        closeIPC(app)
        epoll.remove(app.stdout.pipe.read)
        epoll.remove(app.stderr.pipe.read)
        // What is still in the pipes belongs in the log.
        app.stdout.drain(using: buffer)
        app.stderr.drain(using: buffer)
        app.stdout.close()
        app.stderr.close()
        app.stdin.close()
        app.closeProcessFiles()
        apps[app.id] = nil
        pendingRefresh = .all
        pendingWrites.append(.deleteApp(app.id))
        log.info("\(app.name) (id \(app.id)): deleted")
    }

    /// Creates a new instance, not started yet: its row first (the id comes from sv.db and is
    /// never reused), then its pipes and files. With `instanceSuffix` (its name has several
    /// instances), the log files are `<name>-<id>-out.log`: one writer per file (design.md §7).
    func createApp(spec: AppSpec, instance: Int = 0, instanceSuffix: Bool = false) throws(ReplyError) -> App {
        try Self.validate(spec)
        // The row and its log paths (which need the id) in one transaction: never a half row.
        var rowID: Int64 = 0
        var paths = ("", "")
        let specJSON = spec.json.serialized
        do {
            try store.transaction { () throws(StoreError) in
                rowID = try store.insertApp(
                    name: spec.name, spec: specJSON, desired: Desired.stopped.rawValue, outLog: "", errLog: "",
                    instance: Int64(instance))
                let base = instanceSuffix ? "\(spec.name)-\(rowID)" : spec.name
                // A path given with -o/-e gets the id too (`api-3.log`), as pm2 does: one writer per file.
                func given(_ path: String?) -> String? {
                    path.map { instanceSuffix ? Self.withID(rowID, in: $0) : $0 }
                }
                paths = (
                    given(spec.outFile) ?? home.logPath(name: base, stream: "out"),
                    given(spec.errorFile) ?? home.logPath(name: base, stream: "err")
                )
                try store.updateApp(
                    AppRow(
                        id: rowID, name: spec.name, spec: specJSON, desired: Desired.stopped.rawValue, restarts: 0,
                        unstableRuns: 0, outLog: paths.0, errLog: paths.1, instance: Int64(instance)))
            }
        } catch {
            storeProblem = error.message
            throw ReplyError(.failed, "cannot save the new app in \(store.path): \(error.message)")
        }
        let id = AppID(Int(rowID))
        do {
            let app = try createApp(
                spec: spec, restoring: id, instance: instance, outPath: paths.0, errPath: paths.1, isNew: true)
            pendingWrites.append(.app(id))
            return app
        } catch {
            try? store.deleteApp(id: rowID)
            throw error
        }
    }

    /// What to say when svd has no descriptor left (EMFILE): the limit, and what each app costs
    /// (docs/security.md: 10 per instance, 11 for a Node app).
    static var descriptorLimitReached: String {
        var limit = rlimit()
        let value = getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 ? String(limit.rlim_cur) : "?"
        return "svd has reached its limit of \(value) open descriptors (NOFILE; each app holds 10, 11 for a Node app): raise the hard limit (LimitNOFILE= in the unit, or ulimit -Hn before svd starts) or run fewer apps"
    }

    /// `path` with `-ID` before its extension (`/var/log/api.log` → `/var/log/api-3.log`); a
    /// device such as /dev/null is shared and stays as it is.
    static func withID(_ id: Int64, in path: String) -> String {
        if path.hasPrefix("/dev/") { return path }
        let slash = path.lastIndex(of: "/").map { path.index(after: $0) } ?? path.startIndex
        let base = path[slash...]
        if let dot = base.lastIndex(of: "."), dot != base.startIndex {
            return String(path[..<dot]) + "-\(id)" + String(path[dot...])
        }
        return path + "-\(id)"
    }

    /// The app (and stream) already writing the regular file `fd` is open on, if any.
    func logOwner(of fd: FileDescriptor) -> String? {
        var wanted = stat()
        guard fstat(fd.rawValue, &wanted) == 0, wanted.st_mode & S_IFMT == S_IFREG else { return nil }
        let key = FileKey(device: UInt64(wanted.st_dev), inode: UInt64(wanted.st_ino))
        // The streams remember their file's key: no stat per app (1,000 apps made this quadratic).
        for app in apps.values {
            if app.stdout.fileKey == key { return "\(app.name) (id \(app.id), stdout)" }
            if app.stderr.fileKey == key { return "\(app.name) (id \(app.id), stderr)" }
        }
        return nil
    }

    /// `env` itself, or an equal environment svd already holds (sharing its storage).
    func interned(_ env: [String: String]) -> [String: String] {
        if let known = environments.first(where: { $0 == env }) { return known }
        environments.append(env)
        if environments.count > 8 { environments.removeFirst() }
        return env
    }

    /// Opens an app's pipes and log files and registers it in the loop, under a known id.
    func createApp(
        spec: AppSpec, restoring id: AppID, instance: Int, outPath: String, errPath: String,
        inherited: (Pipe, Pipe, Pipe)? = nil, isNew: Bool = false
    ) throws(ReplyError) -> App {
        func open(_ path: String) throws(ReplyError) -> FileDescriptor {
            // A FIFO or a terminal would block the only thread on open or write (design.md §7).
            var info = stat()
            if stat(path, &info) == 0 && info.st_mode & S_IFMT == S_IFIFO {
                throw ReplyError(.badRequest, "\(path) is a FIFO: a log path must be a file (or /dev/null)")
            }
            let fd: FileDescriptor
            do { fd = try Files.openAppend(path) } catch {
                if error.errno == .tooManySymbolicLinkLevels {
                    throw ReplyError(.badRequest, "\(path) is a symbolic link: svd follows no link to a log file (give the real path)")
                }
                if error.errno == .tooManyOpenFiles { throw ReplyError(.failed, "cannot open log file \(path): \(Self.descriptorLimitReached)") }
                throw ReplyError(.failed, "cannot open log file \(path): \(error.errno.message) (check the directory and its permissions)")
            }
            // What was opened, checked after the open (STYLE.md 27b): a regular file of svd's
            // uid with one name, or /dev/null.
            if let problem = Ownership.fileProblem(fd, path) {
                fd.closeQuietly()
                throw ReplyError(.badRequest, problem)
            }
            // One writer per file (device, inode): two apps appending to one file would interleave
            // and rotate it under each other (design.md §7). Devices such as /dev/null are shared.
            if isNew, let owner = logOwner(of: fd) {
                fd.closeQuietly()
                throw ReplyError(.conflict, "\(path) is already the log of \(owner); give this app its own -o/-e path")
            }
            return fd
        }
        let outFile = try open(outPath)
        let errFile: FileDescriptor
        do { errFile = try open(errPath) } catch {
            outFile.closeQuietly()
            throw error
        }
        var made: [Pipe] = []
        do {
            if let inherited {
                made = [inherited.0, inherited.1, inherited.2]
            } else {
                made.append(try Pipe.make(nonblockingRead: false))
                made.append(try Pipe.make(nonblockingRead: true))
                made.append(try Pipe.make(nonblockingRead: true))
            }
        } catch {
            for pipe in made { pipe.close() }
            outFile.closeQuietly()
            errFile.closeQuietly()
            if error.errno == .tooManyOpenFiles { throw ReplyError(.failed, "cannot create pipes: \(Self.descriptorLimitReached)") }
            throw ReplyError(.failed, "cannot create pipes: \(error.description)")
        }
        let pipes = (made[0], made[1], made[2])
        var spec = spec
        spec.capturedEnv = interned(spec.capturedEnv)
        let app = App(
            id: id, instance: instance, spec: spec, stdin: pipes.0,
            stdout: LogStream(
                pipe: pipes.1, path: outPath, file: outFile, maxSize: spec.logMaxSize, keep: spec.logKeepCount,
                timestamps: spec.timestampFormat),
            stderr: LogStream(
                pipe: pipes.2, path: errPath, file: errFile, maxSize: spec.logMaxSize, keep: spec.logKeepCount,
                timestamps: spec.timestampFormat))
        if outPath == errPath {
            app.stderr.rotates = false
            app.stdout.companion = app.stderr
        }
        try? epoll.add(app.stdout.pipe.read, for: .readable, token: Token(.stdout, id.rawValue).rawValue)
        try? epoll.add(app.stderr.pipe.read, for: .readable, token: Token(.stderr, id.rawValue).rawValue)
        apps[id] = app
        pendingRefresh = .all
        return app
    }
}
