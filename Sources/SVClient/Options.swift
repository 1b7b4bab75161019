import ArgumentParser
import SVCore

/// Targets shared by several commands: ids, names or `all`.
struct TargetArguments: ParsableArguments {
    @Argument(help: "App ids, names, or 'all'.")
    var targets: [String] = []

    func validate() throws {
        if targets.isEmpty { throw ValidationError("give at least one target: an id, a name, or 'all'") }
    }

    /// The targets; an ecosystem file stands for the names of its apps (`sv stop ecosystem.config.js`).
    func resolved() throws -> [Target] {
        var out: [Target] = []
        for target in targets {
            if Ecosystem.isEcosystemFile(target), System.kind(of: target) == .regular {
                let document = try Ecosystem.read(path: System.absolute(target, base: System.currentDirectory))
                let names = (document["apps"]?.arrayValue ?? []).compactMap { $0["name"]?.stringValue }
                if names.isEmpty { throw CLIError("\(target): no named apps in it") }
                out += names.map { .name($0) }
            } else {
                out.append(Target(parsing: target))
            }
        }
        return out
    }
}

/// The restart and stop options of `start` (cli.md), pm2's names.
struct PolicyOptions: ParsableArguments {
    // `.unconditional`: "-5" is a value to refuse with its range, not a missing one.
    @Option(parsing: .unconditional, help: ArgumentHelp("Delay before every restart (ms).", valueName: "ms")) var restartDelay: Int?
    @Option(parsing: .unconditional, help: ArgumentHelp("First backoff step after an unstable run (ms).", valueName: "ms"))
    var expBackoffRestartDelay: Int?
    @Option(parsing: .unconditional, help: "Unstable restarts in a row before status errored.") var maxRestarts: Int?
    @Option(parsing: .unconditional, help: ArgumentHelp("A run shorter than this is unstable (ms).", valueName: "ms"))
    var minUptime: Int?
    @Option(parsing: .unconditional, help: ArgumentHelp("Grace time before SIGKILL (ms).", valueName: "ms")) var killTimeout: Int?
    @Option(help: "First signal of a stop (default SIGINT).") var killSignal: String?
    @Flag(name: .customLong("no-autorestart"), help: "Never restart by itself.") var noAutorestart = false
    @Option(parsing: .upToNextOption, help: "Exit codes that are not restarted.") var stopExitCodes: [Int32] = []
    @Flag(help: "Not built yet: online only once the app says so.") var waitReady = false
    @Option(help: ArgumentHelp("Not built yet: how long to wait for ready (ms).", valueName: "ms")) var listenTimeout: Int?

    /// The ranges are checked on the spec (`AppSpec.validate`, through `Start.validate`).
    func validate() throws {
        if let killSignal, Signal(parsing: killSignal) == nil {
            throw ValidationError("unknown signal '\(killSignal)' for --kill-signal (e.g. SIGINT, SIGTERM, 15)")
        }
    }

    /// Refused rather than acting as a plain start (issue 2): readiness comes with reload.
    func refuseUnbuilt() throws {
        if waitReady || listenTimeout != nil {
            throw CLIError("--wait-ready and --listen-timeout are not built yet; start without them")
        }
    }

    func apply(to policy: inout RestartPolicy) {
        if let restartDelay { policy.restartDelay = .milliseconds(restartDelay) }
        if let expBackoffRestartDelay { policy.expBackoffRestartDelay = .milliseconds(expBackoffRestartDelay) }
        if let maxRestarts { policy.maxRestarts = maxRestarts }
        if let minUptime { policy.minUptime = .milliseconds(minUptime) }
        if let killTimeout { policy.killTimeout = .milliseconds(killTimeout) }
        if let killSignal, let signal = Signal(parsing: killSignal) { policy.killSignal = signal }
        if noAutorestart { policy.autorestart = false }
        if !stopExitCodes.isEmpty { policy.stopExitCodes = stopExitCodes }
    }
}

/// Watching and limits (docs/watch.md, docs/limits.md): `--watch`, `--max-memory-restart`,
/// `--cron-restart`, pm2's names.
struct WatchAndLimitOptions: ParsableArguments {
    @Flag(help: "Restart when files under the app's cwd (or --watch-path) change.") var watch = false
    @Option(help: ArgumentHelp("What to watch instead of the cwd (repeatable; also --watch=PATH).", valueName: "path"))
    var watchPath: [String] = []
    @Option(help: ArgumentHelp("Glob patterns not watched (repeatable; default node_modules, .git).", valueName: "pattern"))
    var ignoreWatch: [String] = []
    @Option(parsing: .unconditional, help: ArgumentHelp("Quiet time after the last change before the restart (ms, default 1000).", valueName: "ms"))
    var watchDelay: Int?
    @Option(help: ArgumentHelp("Restart when the app's process tree uses more memory (K, M, G).", valueName: "size"))
    var maxMemoryRestart: String?
    @Option(parsing: .unconditional, help: ArgumentHelp("How often memory is measured for --max-memory-restart (ms, default 1000).", valueName: "ms"))
    var memoryCheckInterval: Int?
    @Option(help: ArgumentHelp("Restart on a cron schedule (5 fields, or 6 with seconds first, or @hourly…).", valueName: "expr"))
    var cronRestart: String?

    func validate() throws {
        if let maxMemoryRestart, (ByteSize(parsing: maxMemoryRestart)?.bytes ?? 0) < 1024 {
            throw ValidationError("--max-memory-restart takes a size of at least 1K like 500M or 1G, got '\(maxMemoryRestart)'")
        }
    }

    /// The options given, on `spec`; paths relative to `base`.
    func apply(to spec: inout AppSpec, base: String) {
        if watch || !watchPath.isEmpty { spec.watch = watchPath.map { System.absolute($0, base: base) } }
        if !ignoreWatch.isEmpty { spec.ignoreWatch = ignoreWatch }
        if let watchDelay { spec.watchDelayMs = Int64(watchDelay) }
        if let maxMemoryRestart { spec.maxMemoryBytes = ByteSize(parsing: maxMemoryRestart)?.bytes }
        if let memoryCheckInterval { spec.memoryCheckIntervalMs = Int64(memoryCheckInterval) }
        if let cronRestart { spec.cronRestart = cronRestart }
    }
}

extension SpecProblem {
    /// The problem as the command line says it: the option, the range (exit 64).
    var usageError: ValidationError { ValidationError("\(field.option) \(message)") }
}
