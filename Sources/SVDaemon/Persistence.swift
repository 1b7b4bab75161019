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
    /// A run's end; `status` nil when svd could not learn it (a process the previous svd left).
    case runEnded(app: AppID, run: RunID, at: WallTime, status: ExitStatus?, escalated: Bool, decision: String)
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
                        case .code(let c)?: code = Int64(c)
                        case .signal(let s)?: signal = Int64(s.rawValue)
                        case nil: break
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
    /// the ones desired online are started again. What the previous svd left running (it
    /// crashed) is stopped first, app by app, without blocking the loop (Leftovers.swift): an
    /// app starts once its own leftovers are gone, the others at once.
    func restore(previousCrashed: Bool = true) throws(StoreError) {
        let rows = try store.apps()
        var openRuns: [AppID: [RunRow]] = [:]
        var lastRuns: [AppID: Int] = [:]
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
            openRuns[app.id] = history.filter { $0.endedAtMs == nil }
            lastRuns[app.id] = Int(history.last?.run ?? 0)
        }
        let found = findLeftovers(openRuns: openRuns, lastRuns: lastRuns, crashed: previousCrashed)
        let alive = Set(found.map { "\($0.app.rawValue).\($0.run.rawValue)" })
        // Every open run is closed: its end was never recorded (svd died), and what it left is
        // stopped now. Its exit status is unknown: none is recorded.
        let now = SystemClock.wallNow
        for (id, runs) in openRuns {
            guard let app = apps[id] else { continue }
            for run in runs {
                let decision = alive.contains("\(id.rawValue).\(run.run)")
                    ? "the previous svd ended without stopping it: stopped at svd start"
                    : "the previous svd ended without recording its end"
                endUnknown(app, run: RunID(Int(run.run)), decision: decision, at: now)
            }
        }
        for run in found where run.unrecorded {
            guard let app = apps[run.app] else { continue }
            let row = RunRow(
                appID: Int64(run.app.rawValue), run: Int64(run.run.rawValue), pid: Int64(run.session), bootID: bootID,
                startTicks: Int64(run.startTicks), exe: ProcFS.executable(of: ProcessID(run.session)), startedAtMs: now.milliseconds)
            pendingWrites.append(.runStarted(row))
            app.runs.append(RunRecord(run: run.run.rawValue, pid: ProcessID(run.session), startedAtMs: now.milliseconds))
            endUnknown(app, run: run.run, decision: "spawned by the previous svd, which ended before recording it: stopped at svd start", at: now)
        }
        let byApp = Dictionary(grouping: found, by: \.app)
        for (id, runs) in byApp.sorted(by: { $0.key < $1.key }) {
            if let app = apps[id] { stopLeftovers(of: app, runs) }
        }
        let online = apps.values.filter { $0.machine.desired == .online && byApp[$0.id] == nil }.sorted { $0.id < $1.id }
        for app in online { feed(app, .restoreRequested) }
        log.info(
            "restored \(apps.count) apps from \(store.path), \(online.count) started, \(byApp.count) waiting for what the previous svd left running")
    }

    /// Records the end of `run` without an exit status (svd could not learn it).
    private func endUnknown(_ app: App, run: RunID, decision: String, at now: WallTime) {
        app.recordEnd(run: run, status: nil, escalated: false, decision: decision, at: now)
        pendingWrites.append(.runEnded(app: app.id, run: run, at: now, status: nil, escalated: false, decision: decision))
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
}
