/// What to run and how: everything `sv start` was told about an app. The same for every
/// instance of a name; what differs per instance (its index) is the instance's own.
public struct AppSpec: Hashable, Sendable, Codable {
    /// The app's name (validated by `AppName`).
    public var name: String
    /// The script or binary, absolute.
    public var script: String
    /// Arguments after the script.
    public var args: [String] = []
    /// The absolute interpreter, or nil to exec the script directly.
    public var interpreter: String?
    /// Arguments to the interpreter, before the script.
    public var interpreterArgs: [String] = []
    /// The working directory, absolute.
    public var cwd: String
    /// The caller's environment when it ran `start` (systemd's own variables removed).
    public var capturedEnv: [String: String] = [:]
    /// `--env KEY=VALUE`: applied on top of the captured environment.
    public var env: [String: String] = [:]
    public var policy = RestartPolicy()
    /// `--output`, `--error`: user-given log paths; nil means under `$SV_HOME/logs`.
    public var outFile: String?
    public var errorFile: String?
    /// `--time`: a timestamp before every line of both streams.
    public var time: Bool?
    /// `--log-date-format`: the timestamp's dayjs pattern (default ISO 8601).
    public var logDateFormat: String?
    /// `--log-max-size`: rotate a log file once it reaches this many bytes (default 10M).
    public var logMaxSizeBytes: Int64?
    /// `--log-keep`: rotated files kept (default 5).
    public var logKeep: Int?
    /// A command line run through `bash -c` (`sv start "npm run start"`); `script` is bash then.
    public var commandLine: String?
    /// `-i N`, `instances`: how many instances of this name run (nil: 1). Resolved to a count by
    /// the client (`max` is one per CPU).
    public var instances: Int?
    /// `instance_var`: the variable that tells an instance its index (default `NODE_APP_INSTANCE`).
    public var instanceVar: String?
    /// `--cron-restart`: a cron expression (CronSchedule) at which a running app restarts.
    public var cronRestart: String?
    /// `--max-memory-restart`: restart when the app's process tree (its session) uses more.
    public var maxMemoryBytes: Int64?
    /// `--memory-check-interval`: how often that is measured (default 1000 ms).
    public var memoryCheckIntervalMs: Int64?
    /// `--watch [PATH…]`: restart when files change; empty means the app's cwd. Nil: off.
    public var watch: [String]?
    /// `--ignore-watch`: glob patterns not watched (default `node_modules`, `.git`).
    public var ignoreWatch: [String]?
    /// `--watch-delay`: quiet time after the last change before the restart (default 1000 ms).
    public var watchDelayMs: Int64?

    public static let defaultMemoryCheckInterval = Duration.milliseconds(1000)
    public static let defaultWatchDelay = Duration.milliseconds(1000)
    public static let defaultIgnoreWatch = ["node_modules", ".git"]

    /// `namespace`: a group name; a target that names no app names the apps of its namespace.
    public var namespace: String?
    /// `increment_var`: a variable of the env whose integer value grows by one per instance
    /// (PORT 3000, 3001, …).
    public var incrementVar: String?

    public static let defaultLogMaxSize = ByteSize(bytes: 10 << 20)
    public static let defaultLogKeep = 5

    /// The log options with their defaults (stored specs of older versions lack them).
    public var logMaxSize: ByteSize { ByteSize(bytes: logMaxSizeBytes ?? Self.defaultLogMaxSize.bytes) }
    public var logKeepCount: Int { logKeep ?? Self.defaultLogKeep }
    public var timestampFormat: LogDateFormat? {
        guard time == true || logDateFormat != nil else { return nil }
        return logDateFormat.map(LogDateFormat.init) ?? .iso8601
    }

    public init(name: String, script: String, cwd: String) {
        self.name = name
        self.script = script
        self.cwd = cwd
    }

    /// Whether the app runs under Node and so gets the IPC channel (design.md §1).
    public var isNode: Bool {
        if let interpreter { return Self.baseName(interpreter).hasPrefix("node") }
        return false
    }

    /// The argv the process is executed with: interpreter, its arguments, the script, the args.
    public var argv: [String] {
        if let commandLine { return [script, "-c", commandLine] }
        if let interpreter { return [interpreter] + interpreterArgs + [script] + args }
        return [script] + args
    }

    /// The file executed: the interpreter, or the script itself.
    public var executable: String { interpreter ?? script }

    /// The environment the app gets (without the variables svd adds per run).
    public var mergedEnv: [String: String] { capturedEnv.merging(env) { _, explicit in explicit } }

    public var instanceCount: Int { max(instances ?? 1, 1) }
    public static let defaultInstanceVar = "NODE_APP_INSTANCE"

    /// Why `incrementVar` cannot be applied, or nil: its variable must hold an integer.
    public var incrementProblem: String? {
        guard let incrementVar else { return nil }
        guard let value = mergedEnv[incrementVar] else {
            return "increment_var '\(incrementVar)' is not in the app's environment (set it, e.g. \(incrementVar)=3000)"
        }
        guard let base = Int(value) else {
            return "increment_var '\(incrementVar)' must hold an integer to count up from, got '\(value)'"
        }
        if base.addingReportingOverflow(SpecBounds.maxInstances).overflow {
            return "increment_var '\(incrementVar)' holds \(value), too large to count up from"
        }
        return nil
    }

    /// The environment of instance `index`: `mergedEnv`, its index in `instanceVar`, and
    /// `incrementVar` counted up by the index.
    public func environment(instance index: Int) -> [String: String] {
        var env = mergedEnv
        env[instanceVar ?? Self.defaultInstanceVar] = String(index)
        if let incrementVar, let base = env[incrementVar].flatMap({ Int($0) }) { env[incrementVar] = String(Saturating.add(base, index)) }
        return env
    }

    static func baseName(_ path: String) -> Substring {
        path.split(separator: "/", omittingEmptySubsequences: true).last ?? Substring(path)
    }
}

/// Variables that belong to the caller's own service manager and must not reach an app (design.md §1).
public enum CapturedEnvironment {
    public static let dropped: Set<String> = [
        "NOTIFY_SOCKET", "LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES", "WATCHDOG_PID", "WATCHDOG_USEC",
        "JOURNAL_STREAM", "INVOCATION_ID",
    ]

    /// The caller's environment minus `dropped`.
    public static func filter(_ environment: [String: String]) -> [String: String] {
        environment.filter { !dropped.contains($0.key) }
    }
}
