import Glibc
import SVCore
import SVLinux
import SVProtocol
import SVStore

/// What each request does. A reply that must wait for processes (stop, restart, delete, kill)
/// returns nil and leaves a `Waiter`.
extension Daemon {
    func handle(_ request: Request, client: Int, requestID: Int) -> Result<JSON, ReplyError>? {
        do {
            let changesState: Bool
            switch request {
            case .hello, .ping, .list, .listRows, .describe, .signal, .flush, .reloadLogs, .environment: changesState = false
            case .update, .start, .startExisting, .stop, .restart, .delete, .reset, .kill, .save, .resurrect, .scale:
                changesState = true
            }
            if changesState && isShuttingDown {
                throw ReplyError(.failed, "svd is shutting down; run the command again once it has exited")
            }
            // `kill` must work whatever the disk: it stops apps, it creates nothing.
            if changesState, request.command != "kill", let problem = storeProblemAfterProbe() {
                throw ReplyError(
                    .failed,
                    "cannot save state in \(store.path): \(problem); apps stay supervised, but nothing changes until it is writable (free some disk space)")
            }
            switch request {
            case .hello:
                return .success(.object(JSONObject([
                    ("version", .string(svVersion)), ("protocolVersion", .int(Int64(protocolVersion))),
                    ("pid", .int(Int64(getpid()))),
                ])))
            case .ping:
                let info = PingInfo(
                    version: svVersion, pid: getpid(), uptimeMs: (SystemClock.now - startedAt).milliseconds,
                    execGeneration: execGeneration, wakeups: wakeups, apps: apps.count)
                return .success(try JSONCoder.encode(info))
            case .update(let path):
                return .success(try beginUpdate(svdPath: path))
            case .start(var arguments):
                if let shared = arguments.sharedCapturedEnv {
                    let env = interned(shared)
                    for index in arguments.specs.indices where arguments.specs[index].capturedEnv.isEmpty {
                        arguments.specs[index].capturedEnv = env
                    }
                }
                if arguments.ecosystem == true {
                    return try startEcosystem(
                        arguments.specs, createOnly: arguments.createOnly == true, client: client, requestID: requestID)
                }
                return .success(try start(arguments))
            case .startExisting(let targets):
                let found = try resolve(targets)
                for app in found where app.machine.process == nil { feed(app, .startRequested) }
                return .success(appInfos(found))
            case .stop(let targets):
                return wait(for: try resolve(targets), event: .stopRequested, client: client, requestID: requestID)
            case .restart(let arguments):
                let found = try resolve(arguments.targets)
                var changed: [(App, AppSpec)] = []
                for app in found where arguments.updatedEnv != nil || arguments.watch == true {
                    var spec = app.machine.spec
                    if let env = arguments.updatedEnv { spec.capturedEnv = interned(CapturedEnvironment.filter(env)) }
                    if arguments.watch == true && spec.watch == nil { spec.watch = [] }
                    try Self.validate(spec)
                    changed.append((app, spec))
                }
                for (app, spec) in changed { reconfigure(app, spec) }
                return wait(for: found, event: .restartRequested, client: client, requestID: requestID)
            case .delete(let targets):
                let found = try resolve(targets)
                // The reply names what was deleted: by the time it goes out, the apps are gone.
                let deleted = JSON.array(found.map { .object(JSONObject([("id", .int(Int64($0.id.rawValue))), ("name", .string($0.name))])) })
                for app in found { feed(app, .deleteRequested) }
                waiters.append(Waiter(client: client, request: requestID, apps: found.map(\.id), then: .reply(deleted)))
                return nil
            case .reset(let targets):
                let found = try resolve(targets)
                for app in found { feed(app, .resetRequested) }
                return .success(appInfos(found))
            case .list:
                return .success(appInfos(Array(apps.values)))
            case .listRows:
                let now = SystemClock.now
                let ticks = ProcFS.uptimeTicks()
                let all = apps.values.sorted { $0.id < $1.id }
                let totals = processTotals(of: all)
                return .success(.array(all.map { $0.row(now: now, uptimeTicks: ticks, totals: totals).json }))
            case .describe(let targets):
                let found = try resolve(targets)
                let now = SystemClock.now
                let ticks = ProcFS.uptimeTicks()
                var details: [JSON] = []
                let totals = processTotals(of: found)
                for app in found.sorted(by: { $0.id < $1.id }) {
                    var spec = app.machine.spec
                    // Env values are never sent unless asked (describe --env comes with issue 6): keys only.
                    spec.capturedEnv = spec.capturedEnv.mapValues { _ in "" }
                    spec.env = spec.env.mapValues { _ in "" }
                    let detail = AppDetail(
                        info: app.info(now: now, uptimeTicks: ticks, totals: totals), spec: spec, runs: app.runs, messages: app.messages)
                    var json = try JSONCoder.encode(detail)
                    if case .object(var object) = json {
                        object["droppedLogBytes"] = .int(app.stdout.droppedBytes + app.stderr.droppedBytes)
                        if let error = app.stdout.lastError ?? app.stderr.lastError { object["lastLogError"] = .string(error) }
                        if let watch = watcher?.status(of: app.id) { object["watch"] = watch }
                        if let next = cronNext[app.id] { object["nextCronRestartAtMs"] = .int(next * 1000) }
                        json = .object(object)
                    }
                    details.append(json)
                }
                return .success(.array(details))
            case .signal(let signal, let targets):
                let found = try resolve(targets)
                var signalled: [App] = []
                for app in found {
                    if let process = app.machine.process, Reaper.signalProcess(process.pid, signal) { signalled.append(app) }
                }
                guard !signalled.isEmpty else {
                    throw ReplyError(.failed, "no process to signal: \(targets.map(\.description).joined(separator: ", ")) not running")
                }
                log.info("\(signal.name) sent to \(signalled.map { "\($0.name) (id \($0.id))" }.joined(separator: ", "))")
                return .success(appInfos(signalled))
            case .environment(let targets):
                // Values only when asked for: a command of the app's own user (SO_PEERCRED).
                var out: [JSON] = []
                for app in try resolve(targets) {
                    var env = JSONObject()
                    for (key, value) in app.machine.spec.mergedEnv.sorted(by: { $0.key < $1.key }) { env[key] = .string(value) }
                    out.append(.object(JSONObject([("id", .int(Int64(app.id.rawValue))), ("name", .string(app.name)), ("env", .object(env))])))
                }
                return .success(.array(out))
            case .flush(let targets):
                let found = targets.isEmpty ? Array(apps.values) : try resolve(targets)
                for app in found {
                    app.stdout.drain(using: buffer)
                    app.stderr.drain(using: buffer)
                    app.stdout.truncate()
                    app.stderr.truncate()
                }
                log.info("flushed the logs of \(found.count) apps")
                return .success(appInfos(found))
            case .reloadLogs:
                var reopened = 0
                var failures: [String] = []
                for app in apps.values {
                    for stream in [app.stdout, app.stderr] {
                        if stream.reopen() { reopened += 1 } else { failures.append(stream.lastError ?? stream.path) }
                    }
                }
                log.info("reopened \(reopened) log files\(failures.isEmpty ? "" : "; failed: \(failures.joined(separator: ", "))")")
                if !failures.isEmpty { throw ReplyError(.failed, "reopened \(reopened) log files; failed: \(failures.joined(separator: "; "))") }
                return .success(.object(JSONObject([("reopened", .int(Int64(reopened)))])))
            case .save:
                return .success(try save())
            case .resurrect:
                return .success(try resurrect())
            case .scale(let arguments):
                return try scale(arguments, client: client, requestID: requestID)
            case .kill:
                log.info("kill requested: stopping every app for good, then exiting")
                let ids = apps.keys.sorted()
                beginShutdown(event: .stopRequested)
                waiters.append(Waiter(client: client, request: requestID, apps: ids, then: .replyKilled))
                return nil
            }
        } catch let error as ReplyError {
            return .failure(error)
        } catch {
            return .failure(ReplyError(.failed, "\(error)"))
        }
    }

    /// The store's problem, if it persists: a write of every app's row tells (and resyncs what
    /// the failed batches dropped).
    private func storeProblemAfterProbe() -> String? {
        guard storeProblem != nil else { return nil }
        for id in apps.keys { pendingWrites.append(.app(id)) }
        flushStore()
        return storeProblem
    }

    private func wait(for found: [App], event: AppEvent, client: Int, requestID: Int) -> Result<JSON, ReplyError>? {
        for app in found { feed(app, event) }
        waiters.append(Waiter(client: client, request: requestID, apps: found.map(\.id), then: .replyApps))
        return nil
    }

    /// The one validation (AppSpec.validate) as svd's reply: every spec a request brings.
    static func validate(_ spec: AppSpec) throws(ReplyError) {
        do { try spec.validate() } catch { throw ReplyError(.badRequest, "cannot start '\(spec.name)': \(error)") }
    }

    /// The apps `targets` name (a name, else a namespace), in id order, each once. An unknown
    /// target is an error.
    func resolve(_ targets: [Target]) throws(ReplyError) -> [App] {
        var found: [AppID: App] = [:]
        for target in targets {
            let matches: [App]
            switch target {
            case .all: matches = Array(apps.values)
            case .id(let id): matches = apps[id].map { [$0] } ?? []
            case .name(let name):
                // A name, else a namespace (pm2's `restart NAMESPACE`).
                matches = apps.values.filter { $0.name == name }.nilIfEmpty
                    ?? apps.values.filter { $0.machine.spec.namespace == name }
            }
            if matches.isEmpty && target != .all {
                throw ReplyError(.notFound, "no app matches '\(target)' (run 'sv list' to see names and ids)")
            }
            for app in matches { found[app.id] = app }
        }
        return found.values.sorted { $0.id < $1.id }
    }

    /// An ecosystem file's apps: each one started if missing, started again if stopped, restarted
    /// if up, always with the file's options (pm2's `start FILE`, `startOrRestart`). An
    /// `instances` key in the file scales the name to it; without one the count stays.
    private func startEcosystem(_ specs: [AppSpec], createOnly: Bool, client: Int, requestID: Int) throws(ReplyError)
        -> Result<JSON, ReplyError>?
    {
        for spec in specs {
            if let problem = AppName.problem(with: spec.name) {
                throw ReplyError(.badRequest, "invalid name '\(spec.name)': \(problem)")
            }
            try Self.validate(spec)
        }
        var results: [JSON] = []
        var removed: [App] = []
        for spec in specs {
            var spec = spec
            spec.capturedEnv = interned(spec.capturedEnv)
            let existing = instances(named: spec.name)
            if createOnly {
                // An import never touches an app that exists.
                if let first = existing.first {
                    results.append(Self.instanceOutcome("exists, left as it is:", first))
                } else {
                    results += try addInstances(of: spec, count: spec.instanceCount, start: false).map {
                        Self.instanceOutcome("imported", $0)
                    }
                }
                continue
            }
            if existing.isEmpty {
                results += try addInstances(of: spec, count: spec.instanceCount, start: true).map {
                    Self.instanceOutcome("started", $0)
                }
                continue
            }
            let wanted = spec.instances ?? existing.count
            spec.instances = wanted
            for app in existing.prefix(wanted) {
                reconfigure(app, spec)
                if app.machine.process != nil || app.machine.status == .waitingRestart {
                    feed(app, .restartRequested)
                    results.append(Self.instanceOutcome("restarted", app))
                } else {
                    feed(app, .startRequested)
                    results.append(Self.instanceOutcome("started", app))
                }
            }
            if existing.count < wanted {
                results += try addInstances(of: spec, count: wanted - existing.count, start: true).map {
                    Self.instanceOutcome("started", $0)
                }
            }
            let extra = removeInstances(of: spec.name, keeping: wanted)
            results += extra.map { Self.instanceOutcome("deleted", $0) }
            removed += extra
        }
        guard !removed.isEmpty else { return .success(.array(results)) }
        waiters.append(Waiter(client: client, request: requestID, apps: removed.map(\.id), then: .reply(.array(results))))
        return nil
    }

    private func start(_ arguments: StartArguments) throws(ReplyError) -> JSON {
        var started: [App] = []
        for spec in arguments.specs {
            if let problem = AppName.problem(with: spec.name) {
                throw ReplyError(.badRequest, "invalid name '\(spec.name)': \(problem)")
            }
            let sameName = instances(named: spec.name)
            let isUp: (App) -> Bool = { app in
                switch app.machine.status {
                case .online, .launching, .stopping, .waitingRestart: return true
                case .stopped, .errored: return false
                }
            }
            if !arguments.force, let running = sameName.first(where: isUp) {
                throw ReplyError(
                    .conflict,
                    "'\(spec.name)' is already \(running.machine.status.rawValue) (id \(running.id)); use --force to start another, or 'sv restart \(spec.name)'"
                )
            }
            try Self.validate(spec)
            if !arguments.force, !sameName.isEmpty {
                // pm2 starts a stopped app of that name again, with the options given now; a
                // count given now (-i) scales it.
                var spec = spec
                spec.capturedEnv = interned(spec.capturedEnv)
                let wanted = spec.instances ?? sameName.count
                spec.instances = wanted
                _ = removeInstances(of: spec.name, keeping: wanted)  // stopped: gone at once
                for app in sameName.prefix(wanted) {
                    reconfigure(app, spec)
                    feed(app, .startRequested)
                    started.append(app)
                }
                if sameName.count < wanted {
                    started += try addInstances(of: spec, count: wanted - sameName.count, start: true)
                }
                continue
            }
            started += try addInstances(of: spec, count: spec.instanceCount, start: true)
        }
        return appInfos(started)
    }
}

extension Array {
    var nilIfEmpty: Self? { isEmpty ? nil : self }
}
