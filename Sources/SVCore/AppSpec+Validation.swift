/// The one validation of an app's options (STYLE.md 27a). `sv` runs it on what the user typed or
/// the ecosystem file said, svd on every request and on every row it restores: the same bounds
/// everywhere, documented in docs/security.md and docs/configuration.md.
public enum SpecBounds {
    /// Kill timeout and restart delays: a day. Longer is a typo, and would hold a stop for ever.
    public static let maxDelay = Duration.seconds(86_400)
    /// Every other duration (min uptime, watch delay, memory check interval): a year.
    public static let maxDuration = Duration.seconds(365 * 86_400)
    /// The memory limit is measured no more often than this (a /proc scan per tick).
    public static let minMemoryCheckInterval = Duration.milliseconds(100)
    /// Instances of one name (`-i`, `instances`, `sv scale`): each is ~5 processes' worth of
    /// descriptors in svd (docs/security.md).
    public static let maxInstances = 1024
    /// Rotated log files kept per stream: each rotation renames them all.
    public static let maxLogKeep = 1000
    /// Sizes (log rotation, memory limit) are at least this.
    public static let minSize: Int64 = 1024
    /// `max_restarts`: unstable runs in a row before `errored`.
    public static let maxRestarts = Int(Int32.max)
    /// Strings that end up in files, argv or the environment: long enough for any real use.
    public static let maxStringBytes = 64 * 1024
}

/// Why a spec is refused: the field and what is wrong with it, with the range.
public struct SpecProblem: Error, Equatable, Sendable, CustomStringConvertible {
    public var field: SpecField
    /// Says what is wrong, without the field's name: "must be between 0 and 86400000 ms (24 h), got -5".
    public var message: String

    public init(_ field: SpecField, _ message: String) {
        self.field = field
        self.message = message
    }

    /// With the ecosystem key: "kill_timeout must be …" (svd's replies, restored rows, files).
    public var description: String { message.hasPrefix(field.key) ? message : "\(field.key) \(message)" }
}

/// An option of `AppSpec`, as the two places users write it name it.
public enum SpecField: String, Sendable, CaseIterable {
    case name, script, cwd, interpreter, args, env, restartDelay, expBackoffRestartDelay, maxRestarts, minUptime
    case killTimeout, killSignal, stopExitCodes, outFile, errorFile, logDateFormat, logMaxSize, logKeep, instances
    case instanceVar, incrementVar, namespace, cronRestart, maxMemory, memoryCheckInterval, watch, ignoreWatch
    case watchDelay

    /// The ecosystem file's key (pm2's).
    public var key: String {
        switch self {
        case .name, .script, .cwd, .interpreter, .args, .env, .instances, .namespace, .watch: return rawValue
        case .restartDelay: return "restart_delay"
        case .expBackoffRestartDelay: return "exp_backoff_restart_delay"
        case .maxRestarts: return "max_restarts"
        case .minUptime: return "min_uptime"
        case .killTimeout: return "kill_timeout"
        case .killSignal: return "kill_signal"
        case .stopExitCodes: return "stop_exit_codes"
        case .outFile: return "out_file"
        case .errorFile: return "error_file"
        case .logDateFormat: return "log_date_format"
        case .logMaxSize: return "log_max_size"
        case .logKeep: return "log_keep"
        case .instanceVar: return "instance_var"
        case .incrementVar: return "increment_var"
        case .cronRestart: return "cron_restart"
        case .maxMemory: return "max_memory_restart"
        case .memoryCheckInterval: return "memory_check_interval"
        case .ignoreWatch: return "ignore_watch"
        case .watchDelay: return "watch_delay"
        }
    }

    /// The command line's option.
    public var option: String {
        switch self {
        case .script: return "the script"
        case .args: return "the arguments after --"
        case .outFile: return "--output"
        case .errorFile: return "--error"
        case .maxMemory: return "--max-memory-restart"
        case .watch: return "--watch-path"
        default: return "--" + key.replacingUnderscores
        }
    }
}

extension String {
    fileprivate var replacingUnderscores: String { String(unicodeScalars.map { $0 == "_" ? "-" : Character($0) }) }
}

extension Signal {
    /// Whether this signal ends a process that does not handle it (its default action is to
    /// terminate or dump core): what a kill signal must be. SIGSTOP, SIGCHLD, SIGCONT, SIGWINCH…
    /// would leave a stop waiting for SIGKILL; 32 and 33 belong to glibc's threads.
    public var endsProcess: Bool {
        switch rawValue {
        case 1...16, 24...27, 29...31, 34...64: return true
        default: return false
        }
    }
}

extension AppSpec {
    /// Checks every field against its bounds; the first problem found is thrown.
    public func validate() throws(SpecProblem) {
        if let problem = AppName.problem(with: name) { throw SpecProblem(.name, "'\(name)' is not valid: \(problem)") }
        try Self.checkPath(script, .script)
        try Self.checkPath(cwd, .cwd)
        if let interpreter { try Self.checkPath(interpreter, .interpreter) }
        for arg in args + interpreterArgs + [commandLine ?? ""] where !Self.isPlainString(arg) {
            throw SpecProblem(.args, "cannot contain a NUL byte or be longer than \(SpecBounds.maxStringBytes) bytes")
        }
        for (key, value) in capturedEnv.merging(env, uniquingKeysWith: { _, explicit in explicit }) {
            if let problem = Self.variableNameProblem(key) { throw SpecProblem(.env, "'\(key)': \(problem)") }
            if !Self.isPlainString(value) {
                throw SpecProblem(.env, "'\(key)': a value cannot contain a NUL byte or be longer than \(SpecBounds.maxStringBytes) bytes")
            }
        }
        try Self.checkDuration(policy.restartDelay, .restartDelay, max: SpecBounds.maxDelay)
        try Self.checkDuration(policy.expBackoffRestartDelay, .expBackoffRestartDelay, max: SpecBounds.maxDelay)
        try Self.checkDuration(policy.killTimeout, .killTimeout, max: SpecBounds.maxDelay)
        try Self.checkDuration(policy.minUptime, .minUptime, max: SpecBounds.maxDuration)
        if policy.maxRestarts < 0 || policy.maxRestarts > SpecBounds.maxRestarts {
            throw SpecProblem(.maxRestarts, "must be between 0 and \(SpecBounds.maxRestarts), got \(policy.maxRestarts)")
        }
        if !policy.killSignal.endsProcess {
            throw SpecProblem(
                .killSignal,
                "must be a signal that ends a process (e.g. SIGINT, SIGTERM, SIGQUIT, SIGUSR2), got \(policy.killSignal.name)")
        }
        for code in policy.stopExitCodes where code < 0 || code > 255 {
            throw SpecProblem(.stopExitCodes, "must be exit codes between 0 and 255, got \(code)")
        }
        if let outFile { try Self.checkLogPath(outFile, .outFile) }
        if let errorFile { try Self.checkLogPath(errorFile, .errorFile) }
        if let logDateFormat, !Self.isPlainString(logDateFormat) || logDateFormat.utf8.count > 256 {
            throw SpecProblem(.logDateFormat, "must be at most 256 bytes without NUL")
        }
        if let logMaxSizeBytes, logMaxSizeBytes < SpecBounds.minSize {
            throw SpecProblem(.logMaxSize, "must be at least 1K (like 10M or 512K), got \(logMaxSizeBytes) bytes")
        }
        if let logKeep, logKeep < 0 || logKeep > SpecBounds.maxLogKeep {
            throw SpecProblem(.logKeep, "must be between 0 and \(SpecBounds.maxLogKeep), got \(logKeep)")
        }
        if let instances, instances < 1 || instances > SpecBounds.maxInstances {
            throw SpecProblem(.instances, "must be between 1 and \(SpecBounds.maxInstances), got \(instances)")
        }
        if let instanceVar, let problem = Self.variableNameProblem(instanceVar) { throw SpecProblem(.instanceVar, problem) }
        if let incrementVar {
            if let problem = Self.variableNameProblem(incrementVar) { throw SpecProblem(.incrementVar, problem) }
            if let problem = incrementProblem { throw SpecProblem(.incrementVar, problem) }
        }
        if let namespace, let problem = AppName.problem(with: namespace) {
            throw SpecProblem(.namespace, "'\(namespace)' cannot be a namespace: \(problem)")
        }
        if let cronRestart {
            do { _ = try CronSchedule(parsing: cronRestart) } catch { throw SpecProblem(.cronRestart, "is not a schedule: \(error)") }
        }
        if let maxMemoryBytes, maxMemoryBytes < SpecBounds.minSize {
            throw SpecProblem(.maxMemory, "must be at least 1K (like 500M or 1G), got \(maxMemoryBytes) bytes")
        }
        if let memoryCheckIntervalMs {
            let low = SpecBounds.minMemoryCheckInterval.milliseconds
            let high = SpecBounds.maxDuration.milliseconds
            if memoryCheckIntervalMs < low || memoryCheckIntervalMs > high {
                throw SpecProblem(.memoryCheckInterval, "must be between \(low) and \(high) ms (1 year), got \(memoryCheckIntervalMs)")
            }
        }
        for path in watch ?? [] { try Self.checkPath(path, .watch) }
        for pattern in ignoreWatch ?? [] where pattern.isEmpty || !Self.isPlainString(pattern) {
            throw SpecProblem(.ignoreWatch, "patterns cannot be empty or contain a NUL byte")
        }
        if let watchDelayMs { try Self.checkDuration(.milliseconds(watchDelayMs), .watchDelay, max: SpecBounds.maxDuration) }
    }

    /// This spec with every field that `validate` would refuse brought back within bounds (or to
    /// its default): what svd runs a bad row of `sv.db` with, stopped, after saying so.
    public func clamped() -> AppSpec {
        var spec = self
        func clamp(_ duration: Duration, max: Duration) -> Duration { duration < .zero ? .zero : Swift.min(duration, max) }
        spec.policy.restartDelay = clamp(policy.restartDelay, max: SpecBounds.maxDelay)
        spec.policy.expBackoffRestartDelay = clamp(policy.expBackoffRestartDelay, max: SpecBounds.maxDelay)
        spec.policy.killTimeout = clamp(policy.killTimeout, max: SpecBounds.maxDelay)
        spec.policy.minUptime = clamp(policy.minUptime, max: SpecBounds.maxDuration)
        spec.policy.maxRestarts = Swift.min(Swift.max(policy.maxRestarts, 0), SpecBounds.maxRestarts)
        if !policy.killSignal.endsProcess { spec.policy.killSignal = RestartPolicy().killSignal }
        spec.policy.stopExitCodes = policy.stopExitCodes.filter { (0...255).contains($0) }
        if let outFile, (try? Self.checkLogPath(outFile, .outFile)) == nil { spec.outFile = nil }
        if let errorFile, (try? Self.checkLogPath(errorFile, .errorFile)) == nil { spec.errorFile = nil }
        if let logMaxSizeBytes, logMaxSizeBytes < SpecBounds.minSize { spec.logMaxSizeBytes = nil }
        if let logKeep { spec.logKeep = Swift.min(Swift.max(logKeep, 0), SpecBounds.maxLogKeep) }
        if let instances { spec.instances = Swift.min(Swift.max(instances, 1), SpecBounds.maxInstances) }
        if let cronRestart, (try? CronSchedule(parsing: cronRestart)) == nil { spec.cronRestart = nil }
        if let maxMemoryBytes, maxMemoryBytes < SpecBounds.minSize { spec.maxMemoryBytes = nil }
        if let interval = memoryCheckIntervalMs {
            spec.memoryCheckIntervalMs = Swift.min(
                Swift.max(interval, SpecBounds.minMemoryCheckInterval.milliseconds), SpecBounds.maxDuration.milliseconds)
        }
        if let delay = watchDelayMs { spec.watchDelayMs = Swift.min(Swift.max(delay, 0), SpecBounds.maxDuration.milliseconds) }
        if let incrementVar, Self.variableNameProblem(incrementVar) != nil || incrementProblem != nil { spec.incrementVar = nil }
        return spec
    }

    /// Absolute, no NUL, not absurdly long.
    static func checkPath(_ path: String, _ field: SpecField) throws(SpecProblem) {
        guard path.utf8.first == UInt8(ascii: "/") else { throw SpecProblem(field, "must be an absolute path, got '\(path)'") }
        guard isPlainString(path), path.utf8.count <= 4096 else {
            throw SpecProblem(field, "must be a path of at most 4096 bytes without NUL")
        }
    }

    /// A log path is absolute and names a file: never a place in /proc, /sys or /dev (svd would
    /// write into another process's memory or a device), `/dev/null` excepted. svd checks again
    /// when it opens the file (a regular file, not a symlink).
    static func checkLogPath(_ path: String, _ field: SpecField) throws(SpecProblem) {
        try checkPath(path, field)
        if path == "/dev/null" { return }
        let parts = path.split(separator: "/")
        if let top = parts.first, top == "proc" || top == "sys" || top == "dev" {
            throw SpecProblem(field, "must be a regular file's path, not under /\(top) (got '\(path)'; /dev/null discards the output)")
        }
        if parts.contains("..") || parts.contains(".") {
            throw SpecProblem(field, "must be a plain absolute path without '.' or '..' (got '\(path)')")
        }
        if path.utf8.last == UInt8(ascii: "/") { throw SpecProblem(field, "must name a file, not a directory (got '\(path)')") }
    }

    static func checkDuration(_ duration: Duration, _ field: SpecField, max: Duration) throws(SpecProblem) {
        guard duration < .zero || duration > max else { return }
        throw SpecProblem(field, "must be between 0 and \(max.milliseconds) ms (\(max.humanReadable)), got \(duration.milliseconds)")
    }

    static func isPlainString(_ text: String) -> Bool {
        text.utf8.count <= SpecBounds.maxStringBytes && !text.utf8.contains(0)
    }

    /// Why `name` cannot be an environment variable's name, or nil.
    static func variableNameProblem(_ name: String) -> String? {
        if name.isEmpty { return "a variable's name cannot be empty" }
        if name.utf8.contains(UInt8(ascii: "=")) || name.utf8.contains(0) { return "a variable's name cannot contain '=' or NUL" }
        if name.utf8.count > 1024 { return "a variable's name is at most 1024 bytes" }
        return nil
    }
}
