import SVCore
import SVLinux

/// The memory limit (`--max-memory-restart`, docs/limits.md): the whole process tree of each
/// app with a limit (its session), from one shared /proc scan per tick; no sampling at all
/// while no app has a limit (design.md §7b).
extension Daemon {
    /// The tick: the shortest check interval among the running apps with a limit (none: no
    /// tick at all).
    var memoryCheckInterval: Duration? {
        apps.values.compactMap { app -> Duration? in
            guard app.machine.spec.maxMemoryBytes != nil, app.machine.process != nil else { return nil }
            return app.machine.spec.memoryCheckIntervalMs.map { .milliseconds($0) } ?? AppSpec.defaultMemoryCheckInterval
        }.min()
    }

    /// Arms (or disarms) the sampler after options changed.
    func armMemorySampler() {
        guard let interval = memoryCheckInterval else {
            memoryTimer?.arm(at: nil)
            return
        }
        if memoryTimer == nil {
            memoryTimer = registeredTimer(.memory, for: "the memory sampler (no memory limits)")
            if memoryTimer == nil { return }
        }
        if memoryTimer?.armedAt == nil { memoryTimer?.arm(at: SystemClock.now + interval) }
    }

    /// One scan; a tree above its limit restarts gracefully (kill signal, timeout, SIGKILL).
    func sampleMemory() {
        memoryTimer?.acknowledge()
        let limited = apps.values.filter { $0.machine.spec.maxMemoryBytes != nil && $0.machine.process != nil }
        let totals = ProcFS.sessionTotals(Set(limited.compactMap { $0.machine.process?.pid.rawValue }))
        for app in limited.sorted(by: { $0.id < $1.id }) {
            guard case .running = app.machine.phase, let limit = app.machine.spec.maxMemoryBytes,
                let pid = app.machine.process?.pid, let tree = totals[pid.rawValue], Int64(tree.residentBytes) > limit
            else { continue }
            let reason = "memory \(Self.megabytes(Int64(tree.residentBytes))) > \(Self.megabytes(limit))"
            log.warning("\(app.name) (id \(app.id)): \(reason) (\(tree.processes) processes): restarting")
            feed(app, .restartDue(reason: reason))
        }
        if let interval = memoryCheckInterval { memoryTimer?.arm(at: SystemClock.now + interval) }
    }

    /// "612 MB" (MiB, as `list` counts).
    static func megabytes(_ bytes: Int64) -> String { "\(bytes / (1 << 20)) MB" }
}
