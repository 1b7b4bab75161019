import SVCore
import SVLinux
import SVProtocol
import SystemPackage

/// One supervised instance: its machine, and the descriptors svd holds for it across runs.
final class App {
    let id: AppID
    /// Its index among the instances of its name: `NODE_APP_INSTANCE`, the `increment_var` step.
    let instance: Int
    var machine: AppMachine
    /// fd 0 of every run: svd keeps the write end open, so the app never reads end-of-file.
    let stdin: Pipe
    let stdout: LogStream
    let stderr: LogStream
    /// svd's end of the current run's Node IPC channel.
    var ipc: IPCChannel?
    /// Recent runs, newest last, at most `historyLimit`.
    var runs: [RunRecord] = []
    var startedAt: WallTime?
    /// IPC messages received over the app's life.
    var messages = 0
    /// Why the latest spawn failed, until one succeeds.
    var lastSpawnError: String?
    /// What the previous svd left running of this app, while it is being stopped (Leftovers.swift).
    var leftover: Leftover?

    static let historyLimit = 10

    /// The current process's `stat` and `children`, kept open for the run (ProcFS.LeaderFiles);
    /// closed when the process changes or the app goes.
    private var leaderFiles: ProcFS.LeaderFiles?

    /// The kept files of the running process, opened at the first `list` that needs them.
    func processFiles() -> ProcFS.LeaderFiles? {
        let pid = machine.process?.pid.rawValue
        if let files = leaderFiles, files.pid != pid {
            files.close()
            leaderFiles = nil
        }
        guard let pid else { return nil }
        if leaderFiles == nil { leaderFiles = ProcFS.LeaderFiles(pid: pid) }
        return leaderFiles
    }

    /// Closes what `processFiles` kept (the app is deleted).
    func closeProcessFiles() {
        leaderFiles?.close()
        leaderFiles = nil
    }

    init(id: AppID, instance: Int, spec: AppSpec, stdin: Pipe, stdout: LogStream, stderr: LogStream) {
        self.id = id
        self.instance = instance
        self.machine = AppMachine(spec: spec)
        self.stdin = stdin
        self.stdout = stdout
        self.stderr = stderr
    }

    var name: String { machine.spec.name }

    /// New options for the next run, the log settings included.
    func apply(_ spec: AppSpec) {
        machine.update(spec: spec)
        for stream in [stdout, stderr] {
            stream.maxSize = spec.logMaxSize
            stream.keep = spec.logKeepCount
            stream.timestamps = spec.timestampFormat
        }
    }

    func recordStart(run: RunID, pid: ProcessID, at wall: WallTime) {
        startedAt = wall
        runs.append(RunRecord(run: run.rawValue, pid: pid, startedAtMs: wall.milliseconds))
        if runs.count > Self.historyLimit { runs.removeFirst(runs.count - Self.historyLimit) }
    }

    func recordEnd(run: RunID, status: ExitStatus?, escalated: Bool, decision: String, at wall: WallTime) {
        guard let index = runs.lastIndex(where: { $0.run == run.rawValue }) else { return }
        runs[index].endedAtMs = wall.milliseconds
        switch status {
        case .code(let code)?: runs[index].exitCode = code
        case .signal(let signal)?: runs[index].signal = signal.name
        case nil: break
        }
        runs[index].escalated = escalated
        runs[index].decision = decision
    }

    /// The running process tree's figures (its session, from one shared /proc scan): what
    /// `list` shows of it.
    private func figures(now: Instant, uptimeTicks: UInt64?, totals: [Int32: ProcFS.SessionTotals])
        -> (pid: ProcessID, uptimeMs: Int64, memoryBytes: Int64?, cpuPercent: Double?)?
    {
        guard let process = machine.process else { return nil }
        let tree = totals[process.pid.rawValue]
        return (
            process.pid, (now - process.since).milliseconds, tree.map { Int64($0.residentBytes) },
            tree.flatMap { tree in uptimeTicks.map { tree.cpuPercent(uptimeTicks: $0) } }
        )
    }

    /// `list`'s row: the same figures as `info`, nothing else.
    func row(now: Instant, uptimeTicks: UInt64?, totals: [Int32: ProcFS.SessionTotals]) -> ListRow {
        let live = figures(now: now, uptimeTicks: uptimeTicks, totals: totals)
        return ListRow(
            id: id, name: machine.spec.name, pid: live?.pid, uptimeMs: live?.uptimeMs, restarts: machine.restarts,
            status: machine.status, cpuPercent: live?.cpuPercent, memoryBytes: live?.memoryBytes)
    }

    func info(now: Instant, uptimeTicks: UInt64?, totals: [Int32: ProcFS.SessionTotals]) -> AppInfo {
        let spec = machine.spec
        var info = AppInfo(
            id: id, name: spec.name, status: machine.status, desired: machine.desired, restarts: machine.restarts,
            unstableRestarts: machine.unstableRuns, script: spec.script, interpreter: spec.interpreter,
            args: spec.args, cwd: spec.cwd, outLog: stdout.path, errLog: stderr.path,
            lastDecision: machine.lastDecision, ready: false)
        info.instance = instance
        info.namespace = spec.namespace
        if let live = figures(now: now, uptimeTicks: uptimeTicks, totals: totals) {
            info.pid = live.pid
            info.uptimeMs = live.uptimeMs
            info.memoryBytes = live.memoryBytes
            info.cpuPercent = live.cpuPercent
            info.startedAtMs = startedAt?.milliseconds
            if case .running(let run) = machine.phase { info.ready = run.isReady }
        }
        if let retry = machine.nextRetry { info.nextRetryInMs = max(0, (retry - now).milliseconds) }
        return info
    }
}
