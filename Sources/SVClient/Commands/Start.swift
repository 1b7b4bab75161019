import ArgumentParser
import SVCore
import SVProtocol

/// Start scripts or binaries as new apps, or start existing stopped apps by name or id.
struct Start: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "start", 
        abstract: "Start a script or binary (or a stopped app by name or id).",
        discussion: "The extension picks the interpreter: .js/.mjs/.cjs → node, .py → python3, .sh → bash.")

    @Argument(help: "Scripts, binaries, or names and ids of existing apps.") var targets: [String] = []
    @Option(name: .shortAndLong, help: "App name (default: the file name without extension).") var name: String?
    @Option(help: "Working directory (default: the current one).") var cwd: String?
    @Option(help: "Program that runs the script; 'none' to exec it directly.") var interpreter: String?
    @Option(name: [.customLong("interpreter-args"), .customLong("node-args")], help: "Arguments to the interpreter.")
    var interpreterArgs: String?
    @Option(help: ArgumentHelp("Environment on top of yours (repeatable).", valueName: "KEY=VALUE")) var env: [String] = []
    @Option(name: [.customShort("o"), .customLong("output")], help: "stdout log path.") var output: String?
    @Option(name: [.customShort("e"), .customLong("error")], help: "stderr log path.") var error: String?
    @Option(name: [.customShort("i"), .customLong("instances")], help: "Instances to run: N, or max (one per CPU).")
    var instances: String?
    @Option(help: "A group name: a target naming no app names the apps of its namespace.") var namespace: String?
    @Option(help: "The variable that tells an instance its index (default NODE_APP_INSTANCE).") var instanceVar: String?
    @Option(help: "A variable of the env counted up by one per instance (e.g. PORT).") var incrementVar: String?
    @Flag(help: "Start even if an app of that name is online.") var force = false
    @Flag(help: "Prefix every log line with a timestamp.") var time = false
    @Option(help: "The timestamp's format (dayjs tokens, e.g. 'YYYY-MM-DD HH:mm:ss Z').") var logDateFormat: String?
    @Option(help: "Rotate a log file at this size (K, M, G; default 10M).") var logMaxSize: String?
    @Option(parsing: .unconditional, help: "Rotated log files kept (default 5).") var logKeep: Int?
    @OptionGroup var policy: PolicyOptions
    @OptionGroup var limits: WatchAndLimitOptions
    @Option(help: "Ecosystem files: only these apps (comma-separated names).") var only: String?
    @Option(help: "Ecosystem files: apply env_NAME on top of env (also --env NAME).") var envName: String?

    /// What followed `--`: `SV.run` rewrites each into `--app-arg VALUE`, since ArgumentParser
    /// allows no second positional array.
    @Option(name: .customLong("app-arg"), parsing: .unconditionalSingleValue, help: .hidden) var args: [String] = []

    var isEcosystem: Bool { StartPlan.isEcosystem(targets) }

    func validate() throws {
        if targets.isEmpty { throw ValidationError("give a script, binary, name or id to start") }
        if targets.count > 1 && targets.contains(where: Ecosystem.isEcosystemFile) {
            throw ValidationError("an ecosystem file is started on its own")
        }
        if isEcosystem {
            // pm2's `--env production` names an environment of the file.
            if env.count > 1 || env.contains(where: { $0.contains("=") }) {
                throw ValidationError("with an ecosystem file, --env names its environment (env_NAME); set variables in the file")
            }
            return
        }
        if name != nil && targets.count > 1 { throw ValidationError("--name applies to one script; give one target") }
        if let name, let problem = AppName.problem(with: name) { throw ValidationError("invalid --name '\(name)': \(problem)") }
        for pair in env where !pair.contains("=") || pair.hasPrefix("=") {
            throw ValidationError("--env takes KEY=VALUE, got '\(pair)'")
        }
        if let logMaxSize, (ByteSize(parsing: logMaxSize)?.bytes ?? 0) < 1024 {
            throw ValidationError("--log-max-size takes a size of at least 1K like 10M or 512K, got '\(logMaxSize)'")
        }
        if let namespace, let problem = AppName.problem(with: namespace) {
            throw ValidationError("invalid --namespace '\(namespace)': \(problem)")
        }
        if let instances, InstanceCount.parse(instances) == nil {
            throw ValidationError("-i/--instances takes a number or max, got '\(instances)'")
        }
        // The same validation svd applies, on the options alone (the script is not resolved yet).
        var probe = AppSpec(name: name ?? "app", script: "/", cwd: "/")
        configure(&probe, callerDirectory: "/")
        probe.incrementVar = nil  // needs the app's environment: svd checks it with the rest
        do { try probe.validate() } catch { throw error.usageError }
    }

    /// The options given (policy, logs, limits, instances), on a new spec.
    func configure(_ spec: inout AppSpec, callerDirectory: String) {
        policy.apply(to: &spec.policy)
        spec.time = time ? true : nil
        spec.logDateFormat = logDateFormat
        spec.logMaxSizeBytes = logMaxSize.flatMap(ByteSize.init(parsing:))?.bytes
        spec.logKeep = logKeep
        spec.outFile = output.map { System.absolute($0, base: callerDirectory) }
        spec.errorFile = error.map { System.absolute($0, base: callerDirectory) }
        limits.apply(to: &spec, base: callerDirectory)
        spec.instances = instances.flatMap(InstanceCount.parse)
        spec.instanceVar = instanceVar
        spec.namespace = namespace
        spec.incrementVar = incrementVar
    }

    func run() throws {
        try policy.refuseUnbuilt()
        var plan = StartPlan(targets: targets, name: name, args: args, force: force)
        plan.cwd = cwd
        plan.interpreter = interpreter
        plan.interpreterArgs = interpreterArgs
        plan.env = env
        plan.only = only
        plan.envName = envName
        plan.configure = { spec, callerDirectory in configure(&spec, callerDirectory: callerDirectory) }
        try plan.run()
    }
}

/// What one `sv start` does, from plain values: `Start` (parsed by ArgumentParser) builds it, and
/// so does `FastPath` for the plain `sv start SCRIPT [--name NAME] [-- ARGS]`, which would spend
/// ~85 % of its 21 M instructions in the parser (callgrind).
struct StartPlan {
    var targets: [String]
    var name: String?
    var args: [String]
    var force: Bool
    var cwd: String?
    var interpreter: String?
    var interpreterArgs: String?
    var env: [String] = []
    var only: String?
    var envName: String?
    /// The remaining options (policy, logs, limits, instances), applied to each new spec.
    var configure: (inout AppSpec, _ callerDirectory: String) -> Void = { _, _ in }

    init(targets: [String], name: String?, args: [String], force: Bool) {
        self.targets = targets
        self.name = name
        self.args = args
        self.force = force
    }

    static func isEcosystem(_ targets: [String]) -> Bool {
        targets.count == 1 && (Ecosystem.isEcosystemFile(targets[0]) || targets[0] == "-")
    }

    var isEcosystem: Bool { Self.isEcosystem(targets) }

    /// The plan of a plain `sv start TARGET… [--name NAME | -n NAME] [-- ARGS…]`, or nil for
    /// anything else (another option, an ecosystem file, a name to refuse): the parser takes
    /// those, with its checks and messages.
    static func plain(_ arguments: [String]) -> StartPlan? {
        var targets: [String] = []
        var name: String?
        var args: [String] = []
        var i = 0
        while i < arguments.count {
            let argument = arguments[i]
            if argument == "--" {
                args = Array(arguments[(i + 1)...])
                break
            }
            if argument == "--name" || argument == "-n" {
                guard name == nil, i + 1 < arguments.count, !arguments[i + 1].hasPrefix("-") else { return nil }
                name = arguments[i + 1]
                i += 2
                continue
            }
            if argument.hasPrefix("-") { return nil }
            targets.append(argument)
            i += 1
        }
        guard !targets.isEmpty, !targets.contains(where: Ecosystem.isEcosystemFile) else { return nil }
        if let name, targets.count > 1 || AppName.problem(with: name) != nil { return nil }
        return StartPlan(targets: targets, name: name, args: args, force: false)
    }

    func run() throws {
        let environment = System.environment
        let callerDirectory = System.currentDirectory
        if isEcosystem {
            let file = targets[0] == "-" ? "-" : System.absolute(targets[0], base: callerDirectory)
            let onlyNames = only.map { Set($0.split(separator: ",").map { String($0.trimmingSpaces) }) }
            let (specs, warnings) = try Ecosystem.load(
                path: file, envName: envName ?? env.first, only: onlyNames, callerDirectory: callerDirectory,
                environment: environment)
            for warning in warnings { System.writeStderr("sv: warning: \(warning)\n") }
            guard !specs.isEmpty else { throw CLIError("\(file): no apps to start") }
            let reply = try Client.connectOrStart().send(.start(StartArguments(specs: specs, force: false, ecosystem: true)))
            say(Render.outcomes(reply), terminator: "")
            return
        }
        let workingDirectory = System.absolute(cwd ?? callerDirectory, base: callerDirectory)
        if cwd != nil && System.kind(of: workingDirectory) != .directory {
            throw CLIError("cannot start: --cwd \(workingDirectory) is not a directory")
        }
        var specs: [AppSpec] = []
        var existing: [Target] = []
        for target in targets {
            if let spec = try ScriptResolver.spec(
                for: target, name: name, workingDirectory: workingDirectory, callerDirectory: callerDirectory,
                interpreter: interpreter, interpreterArgs: interpreterArgs, environment: environment)
            {
                var spec = spec
                spec.args = args
                spec.capturedEnv = CapturedEnvironment.filter(environment)
                for pair in env {
                    let equals = pair.firstIndex(of: "=")!  // validate() proved every pair has one
                    spec.env[String(pair[..<equals])] = String(pair[pair.index(after: equals)...])
                }
                configure(&spec, callerDirectory)
                specs.append(spec)
            } else {
                existing.append(Target(parsing: target))
            }
        }
        let client = try Client.connectOrStart()
        var started: [AppInfo] = []
        if !specs.isEmpty {
            started += try Render.apps(try client.send(.start(StartArguments(specs: specs, force: force))))
        }
        if !existing.isEmpty {
            do {
                started += try Render.apps(try client.send(.startExisting(existing)))
            } catch let error as CLIError where error.code == "not_found" {
                // A word with a dot that names no app was meant as a file ("api.js").
                if let file = existing.first(where: { $0.description.contains(".") }) {
                    let path = System.absolute(file.description, base: workingDirectory)
                    throw CLIError("cannot start '\(file)': \(path): No such file or directory (check the path or --cwd)")
                }
                throw error
            }
        }
        say(Render.summary("started", started), terminator: "")
    }
}

/// Turns a `start` argument into an app spec: the script found, the interpreter resolved to an
/// absolute path (so a boot with another PATH still finds it).
enum ScriptResolver {
    static let interpreters: [String: String] = ["js": "node", "mjs": "node", "cjs": "node", "py": "python3", "sh": "bash"]

    /// The spec for `target`, or nil when it is not a file (then it names an existing app).
    static func spec(
        for target: String, name: String?, workingDirectory: String, callerDirectory: String, interpreter: String?,
        interpreterArgs: String?, environment: [String: String]
    ) throws -> AppSpec? {
        var script = System.absolute(target, base: workingDirectory)
        if System.kind(of: script) == .missing {
            let fromCaller = System.absolute(target, base: callerDirectory)
            if System.kind(of: fromCaller) != .missing { script = fromCaller }
        }
        switch System.kind(of: script) {
        case .missing:
            // A command line ("npm run start") runs through bash -c, named after the string (pm2).
            if target.contains(" ") {
                guard let bash = System.findInPath("bash", path: environment["PATH"]) else {
                    throw CLIError("cannot start '\(target)': a command line needs bash, not found in PATH")
                }
                let appName = name ?? target
                if let problem = AppName.problem(with: appName) {
                    throw CLIError("cannot start '\(target)': the name '\(appName)' is not valid (\(problem)); give --name")
                }
                var spec = AppSpec(name: appName, script: bash, cwd: workingDirectory)
                spec.interpreterArgs = []
                spec.commandLine = target
                return spec
            }
            // A word without a slash may be an app's name or id ("api", "api.v2"); a path is a
            // missing file.
            if target.contains("/") {
                throw CLIError("cannot start '\(target)': \(script): No such file or directory (check the path or --cwd)")
            }
            return nil
        case .directory:
            throw CLIError("cannot start '\(target)': \(script) is a directory (give the script inside it)")
        case .regular, .other:
            break
        }
        let ext = script.split(separator: "/").last.flatMap { base -> String? in
            guard let dot = base.lastIndex(of: "."), dot != base.startIndex else { return nil }
            return String(base[base.index(after: dot)...])
        }
        var resolvedInterpreter: String?
        if interpreter == nil, ext == "ts" || ext == "tsx" {
            throw CLIError(
                "cannot start '\(target)': sv does not compile TypeScript; give --interpreter (e.g. --interpreter tsx, or ts-node), or start the compiled .js")
        }
        if let interpreter, interpreter != "none" {
            guard let found = System.findInPath(interpreter, path: environment["PATH"]) else {
                throw CLIError("cannot start '\(target)': interpreter '\(interpreter)' not found in PATH")
            }
            resolvedInterpreter = found
        } else if interpreter == nil, let ext, let program = interpreters[ext] {
            guard let found = System.findInPath(program, path: environment["PATH"]) else {
                throw CLIError(
                    "cannot start '\(target)': '\(program)' (for .\(ext) files) not found in PATH (install it or give --interpreter)")
            }
            resolvedInterpreter = found
        }
        if resolvedInterpreter == nil && !System.isExecutable(script) {
            throw CLIError(
                "cannot start '\(target)': \(script): Permission denied (make it executable with chmod +x, or give --interpreter)")
        }
        let appName = name ?? AppName.defaultName(forScript: script)
        if let problem = AppName.problem(with: appName) {
            throw CLIError("cannot start '\(target)': the name '\(appName)' is not valid (\(problem)); give --name")
        }
        var spec = AppSpec(name: appName, script: script, cwd: workingDirectory)
        spec.interpreter = resolvedInterpreter
        spec.interpreterArgs = interpreterArgs.map { $0.split(separator: " ").map(String.init) } ?? []
        return spec
    }
}

extension Substring {
    var trimmingSpaces: Substring {
        var s = self
        while s.first == " " { s.removeFirst() }
        while s.last == " " { s.removeLast() }
        return s
    }
}

/// pm2's deploy commands: start what is missing, restart what runs (reload comes later: a restart).
struct StartOrRestart: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "startOrRestart", abstract: "Start an ecosystem file's missing apps, restart the running ones.",
        aliases: ["startOrReload", "startOrGracefulReload"])
    @Argument(help: "An ecosystem file.") var file: String
    @Option(help: "Only these apps (comma-separated names).") var only: String?
    @Option(help: "Apply env_NAME on top of env.") var env: String?

    func run() throws {
        guard Ecosystem.isEcosystemFile(file) else { throw ValidationError("\(file) is not an ecosystem file (.json, .yaml, .config.js…)") }
        var arguments = [file]
        if let only { arguments += ["--only", only] }
        if let env { arguments += ["--env-name", env] }
        let start = try Start.parse(arguments)
        try start.validate()
        try start.run()
    }
}
