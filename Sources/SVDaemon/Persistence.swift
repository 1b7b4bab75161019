import Glibc
import SVCore
import SVLinux
import SVProtocol
import SVStore

/// A change to write to `sv.db`. Writes are batched: one transaction per loop iteration, and
/// always before a reply is sent (design.md §5).
enum StoreWrite {
    /// The app's current row: spec, desired state, counters, log paths.
    case app(AppID)
    case deleteApp(AppID)
    case runStarted(RunRow)
    case runEnded(app: AppID, run: RunID, at: WallTime, status: ExitStatus, escalated: Bool, decision: String)
}

extension Daemon {
    /// Commits what is pending in one transaction. A full disk or I/O error never ends svd: it
    /// keeps supervising from memory and fails the commands that change state (`storeProblem`).
    func flushStore() {
        guard !pendingWrites.isEmpty else { return }
        let writes = pendingWrites
        pendingWrites.removeAll(keepingCapacity: true)
        var written: Set<AppID> = []
        do {
            try store.transaction { () throws(StoreError) in
                for write in writes {
                    switch write {
                    case .app(let id):
                        guard !written.contains(id), let app = apps[id] else { continue }
                        written.insert(id)
                        try store.updateApp(row(of: app))
                    case .deleteApp(let id):
                        try store.deleteApp(id: Int64(id.rawValue))
                    case .runStarted(let row):
                        try store.insertRun(row)
                    case .runEnded(let app, let run, let at, let status, let escalated, let decision):
                        var code: Int64?
                        var signal: Int64?
                        switch status {
                        case .code(let c): code = Int64(c)
                        case .signal(let s): signal = Int64(s.rawValue)
                        }
                        try store.endRun(
                            appID: Int64(app.rawValue), run: Int64(run.rawValue), endedAtMs: at.milliseconds,
                            exitCode: code, signal: signal, escalated: escalated, decision: decision)
                    }
                }
            }
            if storeProblem != nil {
                log.info("sv.db is writable again")
                storeProblem = nil
            }
        } catch {
            // Supervision goes on from memory; state-changing commands say why they fail. The
            // batch is kept for the next try (runs matter to the orphan check), bounded.
            if storeProblem == nil { log.error("cannot write \(store.path): \(error.message); apps stay supervised") }
            storeProblem = error.message
            pendingWrites = writes + pendingWrites
            if pendingWrites.count > Self.pendingLimit { pendingWrites.removeFirst(pendingWrites.count - Self.pendingLimit) }
        }
    }

    /// Writes kept while sv.db cannot be written: beyond this the oldest are dropped.
    static let pendingLimit = 10_000

    func row(of app: App) -> AppRow {
        let spec = app.machine.spec.json.serialized
        return AppRow(
            id: Int64(app.id.rawValue), name: app.name, spec: spec, desired: app.machine.desired.rawValue,
            restarts: Int64(app.machine.restarts), unstableRuns: Int64(app.machine.unstableRuns),
            outLog: app.stdout.path, errLog: app.stderr.path, instance: Int64(app.instance))
    }

    /// The run row of a process just spawned: the facts the orphan check compares at the next start.
    func runRow(app: App, run: RunID, pid: ProcessID, at wall: WallTime) -> RunRow {
        RunRow(
            appID: Int64(app.id.rawValue), run: Int64(run.rawValue), pid: Int64(pid.rawValue), bootID: bootID,
            startTicks: Int64(ProcFS.usage(of: pid)?.startTicks ?? 0), exe: ProcFS.executable(of: pid),
            startedAtMs: wall.milliseconds)
    }

    /// Brings back what `sv.db` holds (design.md §5): every app, its id, options and counters;
    /// the ones desired online are started again, after any orphan of a killed svd is stopped.
    func restore() throws(StoreError) {
        let rows = try store.apps()
        var orphans: [(App, ProcessID, startTicks: Int64)] = []
        for row in rows {
            guard let (spec, problem) = restoredSpec(of: row) else { continue }
            let history = try store.runs(appID: row.id, limit: App.historyLimit)
            // A row out of bounds is never run as it is: brought within them, and left stopped.
            let desired = problem == nil ? Desired(rawValue: row.desired) ?? .stopped : .stopped
            let app: App
            do {
                app = try createApp(
                    spec: spec, restoring: AppID(Int(row.id)), instance: Int(row.instance), outPath: row.outLog,
                    errPath: row.errLog)
            } catch {
                log.error("cannot restore \(row.name) (id \(row.id)): \(error.message)")
                continue
            }
            app.machine = AppMachine(
                restoring: app.machine.spec, desired: desired, restarts: Int(row.restarts), unstableRuns: Int(row.unstableRuns),
                lastRun: RunID(Int(history.last?.run ?? 0)),
                reason: problem.map { "left stopped at restore: \($0) in sv.db (start it with new options)" } ?? "restored")
            if problem != nil { pendingWrites.append(.app(app.id)) }
            app.runs = history.map(Self.record(from:))
            // Any app with an open run may have left a process (one being stopped when svd died,
            // too): stopped either way; only the ones desired online start again.
            if let last = history.last, last.endedAtMs == nil, let pid = orphan(of: last) {
                orphans.append((app, pid, last.startTicks))
            }
        }
        stopOrphans(orphans)
        let online = apps.values.filter { $0.machine.desired == .online }.sorted { $0.id < $1.id }
        for app in online { feed(app, .restoreRequested) }
        log.info("restored \(apps.count) apps from \(store.path), \(online.count) desired online")
    }

    /// The spec of a stored row, checked by the one validation (STYLE.md 27a): out-of-bounds
    /// values come back clamped with the problem (logged), an unreadable row or one whose name
    /// svd would never have written is left out (logged). Never a trap, whatever the row holds.
    func restoredSpec(of row: AppRow) -> (AppSpec, problem: String?)? {
        guard let spec = try? JSONCoder.decode(AppSpec.self, from: row.spec) else {
            log.error("app \(row.id) (\(row.name)) in \(store.path) has a spec this svd cannot read: left out")
            return nil
        }
        if let problem = AppName.problem(with: spec.name) {
            log.error("app \(row.id) in \(store.path) has an invalid name (\(problem)): left out")
            return nil
        }
        do {
            try spec.validate()
            return (spec, nil)
        } catch {
            log.error("app \(row.id) (\(row.name)) in \(store.path): \(error); brought within bounds and left stopped")
            return (spec.clamped(), error.description)
        }
    }

    static func record(from row: RunRow) -> RunRecord {
        var record = RunRecord(run: Int(row.run), pid: ProcessID(Int32(truncatingIfNeeded: row.pid)), startedAtMs: row.startedAtMs)
        record.endedAtMs = row.endedAtMs
        record.exitCode = row.exitCode.map { Int32(truncatingIfNeeded: $0) }
        record.signal = row.signal.map { Signal(Int32(truncatingIfNeeded: $0)).name }
        record.escalated = row.escalated
        record.decision = row.decision
        return record
    }

    /// The pid of `run` if it is still that process: same boot, same start time, its own session
    /// leader, same executable. Anything else is a stranger that reused the pid: left alone.
    func orphan(of run: RunRow) -> ProcessID? {
        guard run.bootID == bootID, run.pid > 0 else { return nil }
        let pid = ProcessID(Int32(truncatingIfNeeded: run.pid))
        guard let usage = ProcFS.usage(of: pid), Int64(usage.startTicks) == run.startTicks,
            usage.sessionID == pid.rawValue, let exe = ProcFS.executable(of: pid), Self.sameExecutable(exe, run.exe)
        else { return nil }
        return pid
    }

    /// A binary replaced by an upgrade reads "PATH (deleted)" in /proc: still the same program.
    static func sameExecutable(_ now: String, _ recorded: String?) -> Bool {
        guard let recorded else { return false }
        let suffix = " (deleted)"
        let trimmed = now.hasSuffix(suffix) ? String(now.dropLast(suffix.count)) : now
        return trimmed == recorded
    }

    /// Stops the orphans of a killed svd, all at once: the kill signal to each group (through a
    /// pidfd that pins the leader), then SIGKILL after the kill timeout. Never two instances.
    func stopOrphans(_ orphans: [(App, ProcessID, startTicks: Int64)]) {
        guard !orphans.isEmpty else { return }
        var handles: [(App, ProcessID, PidFD)] = []
        for (app, pid, startTicks) in orphans {
            guard let handle = PidFD(pid) else { continue }
            // Checked again with the pidfd held: from here on the pid cannot change hands, so the
            // process the pidfd pins is the one recorded.
            guard let usage = ProcFS.usage(of: pid), usage.sessionID == pid.rawValue, Int64(usage.startTicks) == startTicks
            else { continue }
            log.info("\(app.name) (id \(app.id)): pid \(pid) survived the previous svd: stopping its group")
            // While the leader lives, its pid (and so its group id) cannot be reused.
            Reaper.signalGroup(pid, app.machine.spec.policy.killSignal)
            handles.append((app, pid, handle))
        }
        let start = SystemClock.now
        let longest = handles.map { $0.0.machine.spec.policy.killTimeout }.max() ?? .zero
        var escalated: Set<Int32> = []
        var remaining = Set(handles.map { $0.1.rawValue })
        while !remaining.isEmpty {
            // Done when no live process is left in the group: the orphans' new parent (init) may
            // be slow to reap them, and a zombie holds no port.
            remaining = ProcFS.groupsWithLiveMembers(remaining)
            if remaining.isEmpty { break }
            let now = SystemClock.now
            for (app, pid, handle) in handles where remaining.contains(pid.rawValue) && !escalated.contains(pid.rawValue) {
                if now - start >= app.machine.spec.policy.killTimeout {
                    if !handle.hasExited { handle.send(.kill) }
                    Reaper.signalGroup(pid, .kill)
                    escalated.insert(pid.rawValue)
                }
            }
            if now - start > longest + .seconds(2) {
                log.error("orphans still alive after SIGKILL; starting anyway")
                break
            }
            // Wait for a leader to exit (its pidfd turns readable), at most 10 ms: start-up only,
            // the loop does not run yet.
            var entries = handles.filter { remaining.contains($0.1.rawValue) && !$0.2.hasExited }
                .map { pollfd(fd: $0.2.fd.rawValue, events: Int16(POLLIN), revents: 0) }
            _ = poll(&entries, nfds_t(entries.count), 10)
        }
    }
}
