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

    static let historyLimit = 10

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

    func recordEnd(run: RunID, status: ExitStatus, escalated: Bool, decision: String, at wall: WallTime) {
        guard let index = runs.lastIndex(where: { $0.run == run.rawValue }) else { return }
        runs[index].endedAtMs = wall.milliseconds
        switch status {
        case .code(let code): runs[index].exitCode = code
        case .signal(let signal): runs[index].signal = signal.name
        }
        runs[index].escalated = escalated
        runs[index].decision = decision
    }

    func info(now: Instant, uptimeTicks: UInt64?) -> AppInfo {
        let spec = machine.spec
        var info = AppInfo(
            id: id, name: spec.name, status: machine.status, desired: machine.desired, restarts: machine.restarts,
            unstableRestarts: machine.unstableRuns, script: spec.script, interpreter: spec.interpreter,
            args: spec.args, cwd: spec.cwd, outLog: stdout.path, errLog: stderr.path,
            lastDecision: machine.lastDecision, ready: false)
        info.instance = instance
        info.namespace = spec.namespace
        if let process = machine.process {
            info.pid = process.pid
            info.uptimeMs = (now - process.since).milliseconds
            info.startedAtMs = startedAt?.milliseconds
            if case .running(let run) = machine.phase { info.ready = run.isReady }
            if let usage = ProcFS.usage(of: process.pid) {
                info.memoryBytes = Int64(usage.residentBytes)
                if let uptimeTicks { info.cpuPercent = ProcFS.cpuPercent(usage, uptimeTicks: uptimeTicks) }
            }
        }
        if let retry = machine.nextRetry { info.nextRetryInMs = max(0, (retry - now).milliseconds) }
        return info
    }
}
