import ArgumentParser
import Glibc
import SVCore
import SVProtocol

/// `sv import pm2 [FILE]`: the apps of a pm2 dump (`~/.pm2/dump.pm2`, written by `pm2 save`) or
/// of an ecosystem file, created in sv with their names, scripts, args, cwd, env and restart
/// options; stopped unless `--start`. Paths are taken as they are.
struct Import: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "import", abstract: "Import pm2's apps: sv import pm2 [FILE] (default ~/.pm2/dump.pm2).")
    @Argument(help: "What to import from: pm2.") var source: String
    @Argument(help: "A dump.pm2 or an ecosystem file.") var file: String?
    @Flag(help: "Start the imported apps.") var start = false

    func validate() throws {
        if source != "pm2" { throw ValidationError("sv can import from pm2 only: sv import pm2 [FILE]") }
    }

    func run() throws {
        let home = getenv("HOME").map { String(cString: $0) } ?? "/root"
        let pm2Home = getenv("PM2_HOME").map { String(cString: $0) } ?? home + "/.pm2"
        let path = System.absolute(file ?? pm2Home + "/dump.pm2", base: System.currentDirectory)
        let (specs, unmapped) = try Ecosystem.isEcosystemFile(path)
            ? Self.fromEcosystem(path) : PM2Dump.specs(path: path, environment: System.environment)
        guard !specs.isEmpty else { throw CLIError("\(path): no apps to import") }
        // Apps that exist are never touched, with --start too: only the imported ones start.
        let client = try Client.connectOrStart()
        let reply = try client.send(.start(StartArguments(specs: specs, force: false, ecosystem: true, createOnly: true)))
        say(Render.outcomes(reply), terminator: "")
        var imported: [Target] = []
        for entry in reply.arrayValue ?? [] {
            if entry["what"]?.stringValue == "imported", let id = entry["id"]?.intValue { imported.append(.id(AppID(Int(id)))) }
        }
        if start && !imported.isEmpty {
            for info in try Render.apps(try client.send(.startExisting(imported))) {
                say("started \(info.name) (id \(info.id)): \(info.status.rawValue)")
            }
        }
        if !unmapped.isEmpty {
            say("not mapped:")
            for line in unmapped { say("  " + line) }
        }
        if !start && !imported.isEmpty {
            say("start them with: sv start \(imported.map(\.description).joined(separator: " "))")
        }
    }

    static func fromEcosystem(_ path: String) throws -> ([AppSpec], [String]) {
        let (specs, warnings) = try Ecosystem.load(
            path: path, envName: nil, only: nil, callerDirectory: System.currentDirectory, environment: System.environment)
        return (specs, warnings)
    }
}

/// pm2's dump.pm2: an array of process descriptions (pm2_env flattened), one per instance.
enum PM2Dump {
    /// pm2's own variables, and the shell's of the machine that ran pm2 (the dump's `env` holds
    /// that whole environment): an app gets the importer's instead.
    static func isPM2Internal(_ key: String, app name: String) -> Bool {
        let shell: Set<String> = [
            "HOME", "PATH", "PWD", "OLDPWD", "SHLVL", "USER", "LOGNAME", "SHELL", "TERM", "LANG", "MAIL", "_", "unique_id",
        ]
        return key.hasPrefix("PM2_") || key.hasPrefix("pm_") || key.hasPrefix("LC_") || key.hasPrefix("SSH_")
            || key.hasPrefix("XDG_") || key == "NODE_APP_INSTANCE" || key == "_pm2_version" || key == name
            || shell.contains(key)
    }

    static func specs(path: String, environment: [String: String]) throws -> ([AppSpec], [String]) {
        guard let bytes = Files.readBytes(path) else {
            throw CLIError("cannot read \(path): \(System.errorText(errno)) (run `pm2 save` first, or give the file)")
        }
        let document: JSON
        do { document = try JSON.parse(bytes) } catch {
            let (line, column) = Ecosystem.position(of: error.offset, in: bytes)
            throw CLIError("\(path):\(line):\(column): \(error.message)")
        }
        guard let processes = document.arrayValue else { throw CLIError("\(path) is not a pm2 dump (an array of apps)") }
        var specs: [AppSpec] = []
        var seen: [String: Int] = [:]
        var unmapped: [String] = []
        var clustered: Set<String> = []
        for process in processes {
            guard let name = process["name"]?.stringValue, let script = process["pm_exec_path"]?.stringValue else {
                unmapped.append("an entry without name or pm_exec_path: skipped")
                continue
            }
            seen[name, default: 0] += 1
            if seen[name]! > 1 { continue }  // counted just above: another instance of one app
            var spec = AppSpec(name: name, script: script, cwd: process["pm_cwd"]?.stringValue ?? "/")
            let interpreter = process["exec_interpreter"]?.stringValue ?? "node"
            if interpreter != "none" {
                spec.interpreter = System.findInPath(interpreter, path: environment["PATH"]) ?? interpreter
                if !interpreter.contains("/") && System.findInPath(interpreter, path: environment["PATH"]) == nil {
                    unmapped.append("\(name): interpreter '\(interpreter)' is not in PATH here; stored as it is")
                }
            }
            switch process["args"] {
            case .array(let items)?: spec.args = items.compactMap(\.stringValue)
            case .string(let line)?: spec.args = line.split(separator: " ").map(String.init)
            default: break
            }
            switch process["node_args"] {
            case .array(let items)?: spec.interpreterArgs = items.compactMap(\.stringValue)
            case .string(let line)?: spec.interpreterArgs = line.split(separator: " ").map(String.init)
            default: break
            }
            if case .object(let env)? = process["env"] {
                for (key, value) in env.pairs where !isPM2Internal(key, app: name) {
                    if let text = value.stringValue ?? value.intValue.map(String.init) { spec.env[key] = text }
                }
            }
            spec.capturedEnv = CapturedEnvironment.filter(environment)
            if let flag = process["autorestart"]?.boolValue { spec.policy.autorestart = flag }
            if let ms = process["restart_delay"]?.intValue { spec.policy.restartDelay = .milliseconds(ms) }
            if let ms = process["exp_backoff_restart_delay"]?.intValue { spec.policy.expBackoffRestartDelay = .milliseconds(ms) }
            if let n = process["max_restarts"]?.intValue { spec.policy.maxRestarts = Int(n) }
            if let ms = process["min_uptime"]?.intValue { spec.policy.minUptime = .milliseconds(ms) }
            if let ms = process["kill_timeout"]?.intValue { spec.policy.killTimeout = .milliseconds(ms) }
            if case .array(let codes)? = process["stop_exit_codes"] {
                spec.policy.stopExitCodes = codes.compactMap { $0.intValue.map { Int32(clamping: $0) } }
            }
            // pm2 stores max_memory_restart in bytes, the others as written.
            if let limit = process["max_memory_restart"] {
                if let bytes = limit.intValue ?? limit.stringValue.flatMap({ ByteSize(parsing: $0)?.bytes }), bytes >= 1024 {
                    spec.maxMemoryBytes = bytes
                } else if limit != .null {
                    unmapped.append("\(name).max_memory_restart (\(limit.serialized)): not a size")
                }
            }
            if let expression = process["cron_restart"]?.stringValue {
                if (try? CronSchedule(parsing: expression)) != nil {
                    spec.cronRestart = expression
                } else {
                    unmapped.append("\(name).cron_restart (\(expression)): not a cron expression sv reads")
                }
            }
            switch process["watch"] {
            case .bool(true)?: spec.watch = []
            case .string(let path)?: spec.watch = [System.absolute(path, base: spec.cwd)]
            case .array(let paths)?: spec.watch = paths.compactMap(\.stringValue).map { System.absolute($0, base: spec.cwd) }
            default: break
            }
            if case .array(let patterns)? = process["ignore_watch"] { spec.ignoreWatch = patterns.compactMap(\.stringValue) }
            if let delay = process["watch_delay"]?.intValue { spec.watchDelayMs = delay }
            if let variable = process["instance_var"]?.stringValue, variable != AppSpec.defaultInstanceVar {
                spec.instanceVar = variable
            }
            spec.incrementVar = process["increment_var"]?.stringValue
            if let namespace = process["namespace"]?.stringValue, namespace != "default" { spec.namespace = namespace }
            if let mode = process["exec_mode"]?.stringValue, mode.hasPrefix("cluster") { clustered.insert(name) }
            // The same bounds as every other door: a value out of them is brought within, and said.
            do { try spec.validate() } catch {
                unmapped.append("\(name).\(error.field.key): \(error.message); brought within bounds")
                spec = spec.clamped()
            }
            specs.append(spec)
        }
        for index in specs.indices {
            let name = specs[index].name
            let count = seen[name] ?? 1
            if count > 1 { specs[index].instances = count }
            guard clustered.contains(name) else { continue }
            // Cluster instances shared one port through pm2's master; fork instances cannot.
            var line = "\(name): cluster mode → \(count) fork-mode instance\(count == 1 ? "" : "s")"
            if count > 1 && specs[index].incrementVar == nil {
                let port = specs[index].env["PORT"].map { " (all on PORT \($0))" } ?? ""
                line += "; they cannot share one port\(port): set increment_var (e.g. PORT) so each gets its own"
            }
            unmapped.append(line)
        }
        return (specs, unmapped)
    }
}
