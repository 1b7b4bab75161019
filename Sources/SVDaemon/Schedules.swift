import SVCore
import SVLinux

/// Cron restarts (`--cron-restart`, docs/limits.md): one wall-clock timer for every app,
/// armed at the earliest next firing, computed in local time (`TimeZoneRules`) and again
/// whenever the wall clock is set.
extension Daemon {
    /// After apps were created, removed or given new options (`.all`), or changed state.
    func applyOptions(_ refresh: Refresh) {
        if refresh.contains(.cron) { rescheduleCron() }
        if refresh.contains(.memorySampler) { armMemorySampler() }
        if refresh.contains(.watches) { reconcileWatches() }
    }

    /// New options for an app's next run (its schedules and watches follow).
    func reconfigure(_ app: App, _ spec: AppSpec) {
        app.apply(spec)
        pendingRefresh = .all
    }

    /// A monotonic timer registered in the loop under `kind`; nil, logged, when the kernel
    /// refuses one (the memory sampler's, the watch delay's).
    func registeredTimer(_ kind: Token.Kind, for what: String) -> TimerFD? {
        do {
            let timer = try TimerFD()
            try epoll.add(timer.fd, for: .readable, token: Token(kind, 0).rawValue)
            return timer
        } catch {
            log.error("cannot create the timer of \(what): \(error)")
            return nil
        }
    }

    /// Every app's next firing after now; the timer armed at the earliest.
    func rescheduleCron() {
        let now = SystemClock.wallNow.nanoseconds / 1_000_000_000
        cronNext = [:]
        for app in apps.values {
            guard let text = app.machine.spec.cronRestart else { continue }
            guard let schedule = try? CronSchedule(parsing: text) else {
                log.error("\(app.name) (id \(app.id)): cron_restart '\(text)' cannot be read: no cron restarts")
                continue
            }
            if let next = schedule.next(after: now, in: localZone.rules) { cronNext[app.id] = next }
        }
        guard let earliest = cronNext.values.min() else {
            cronTimer?.arm(atSecond: nil)
            return
        }
        if cronTimer == nil {
            if !zoneLogged {
                log.info("cron times are local times of \(localZone.source)")
                zoneLogged = true
            }
            do {
                let timer = try WallTimerFD()
                try epoll.add(timer.fd, for: .readable, token: Token(.cron, 0).rawValue)
                cronTimer = consume timer
            } catch {
                log.error("cannot create the cron timer (\(error)): no cron restarts")
                return
            }
        }
        cronTimer?.arm(atSecond: earliest)
    }

    /// The timer fired (restart what is due), or the wall clock was set (compute again).
    func handleCronTimer() {
        guard let fired = cronTimer?.acknowledge() else { return }
        let now = SystemClock.wallNow.nanoseconds / 1_000_000_000
        if fired {
            for (id, due) in cronNext.sorted(by: { $0.key < $1.key }) where due <= now {
                guard let app = apps[id], app.machine.desired == .online, let text = app.machine.spec.cronRestart else {
                    continue
                }
                log.info("\(app.name) (id \(app.id)): cron \(text): restarting")
                feed(app, .restartDue(reason: "cron \(text)"))
            }
        } else {
            log.info("the wall clock was set: cron schedules computed again")
        }
        rescheduleCron()
    }
}
