import SVCore
import SVLinux

/// `--watch` in the loop (docs/watch.md): the Watcher says which apps saw a change; each
/// restarts once its changes have been quiet for `watch_delay`.
extension Daemon {
    /// What `app` should watch now: nothing unless it has `--watch` and is desired online.
    func watchConfig(of app: App) -> Watcher.Config? {
        let spec = app.machine.spec
        guard let roots = spec.watch, app.machine.desired == .online else { return nil }
        return Watcher.Config(
            roots: roots.isEmpty ? [spec.cwd] : roots, ignore: AppSpec.defaultIgnoreWatch + (spec.ignoreWatch ?? []),
            logPaths: [app.stdout.path, app.stderr.path])
    }

    /// Brings every app's watches in line with its options and desired state.
    func reconcileWatches() {
        let wanted = apps.values.map { ($0.id, watchConfig(of: $0)) }
        guard watcher != nil || wanted.contains(where: { $0.1 != nil }) else { return }
        if watcher == nil {
            do {
                let made = try Watcher()
                try epoll.add(made.inotify.fd, for: .readable, token: Token(.inotify, 0).rawValue)
                watcher = made
            } catch {
                log.error("cannot watch files (\(error)): --watch has no effect")
                return
            }
        }
        guard let watcher else { return }
        let hadProblem = watcher.limitProblem != nil
        for (id, config) in wanted {
            watcher.set(id, config)
            if config == nil { watchPending[id] = nil }
        }
        for id in watcher.watches.keys where apps[id] == nil {
            watcher.remove(id)
            watchPending[id] = nil
        }
        if !hadProblem, let problem = watcher.limitProblem { log.error("\(problem)") }
    }

    func handleWatchEvents() {
        guard let watcher else { return }
        let now = SystemClock.now
        let hadProblem = watcher.limitProblem != nil
        let overflows = watcher.overflows
        let changes = watcher.drain(using: buffer)
        if watcher.overflows > overflows {
            log.warning("the inotify event queue overflowed (fs.inotify.max_queued_events): every watching app counts as changed; trees read again")
        }
        for (id, path) in changes {
            guard let app = apps[id], app.machine.desired == .online else { continue }
            let delay = app.machine.spec.watchDelayMs.map { Duration.milliseconds($0) } ?? AppSpec.defaultWatchDelay
            // A burst gives one restart: the quiet time starts again at every change; the
            // first path of the burst is the reason.
            watchPending[id] = (now + delay, watchPending[id]?.path ?? path)
        }
        if !hadProblem, let problem = watcher.limitProblem { log.error("\(problem)") }
        armWatchTimer()
    }

    func handleWatchTimer() {
        watchTimer?.acknowledge()
        let now = SystemClock.now
        for (id, pending) in watchPending.sorted(by: { $0.key < $1.key }) where pending.deadline <= now {
            watchPending[id] = nil
            guard let app = apps[id] else { continue }
            // The changes were the root going away (`rm -rf`): the app stays as it is until the
            // root is back (then its files count as a change).
            if let missing = watcher?.watches[id]?.missingRoots, !missing.isEmpty {
                log.info("\(app.name) (id \(app.id)): watch root \(missing.sorted().joined(separator: ", ")) is gone: not restarting until it is back")
                continue
            }
            log.info("\(app.name) (id \(app.id)): file changed: \(pending.path): restarting")
            feed(app, .restartDue(reason: "file changed: \(pending.path)"))
        }
        armWatchTimer()
    }

    private func armWatchTimer() {
        guard let earliest = watchPending.values.map(\.deadline).min() else {
            watchTimer?.arm(at: nil)
            return
        }
        if watchTimer == nil {
            watchTimer = registeredTimer(.watchDelay, for: "the watch delay (--watch restarts are lost)")
            if watchTimer == nil { return }
        }
        watchTimer?.arm(at: earliest)
    }
}
