import Glibc
import SVCore
import SVProtocol

/// `-i N`, `instances`: a count, `max` or 0 (one per CPU), or -N (one per CPU but N).
enum InstanceCount {
    static var processors: Int { max(Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))), 1) }

    static func resolve(_ n: Int) -> Int { n > 0 ? n : max(processors + n, 1) }

    static func parse(_ text: String) -> Int? {
        if text == "max" { return processors }
        return Int(text).map(resolve)
    }
}

/// pm2 ecosystem files (`*.json`, `*.yaml`, `*.yml`, `*.config.js`, `.cjs`, `.mjs`): `apps: [...]`
/// with pm2's keys.
/// Errors point at the place (file, line and column; app and key); nothing starts when the file
/// has one. Unknown keys warn, suggesting a known one.
enum Ecosystem {
    static let extensions = [".config.js", ".config.cjs", ".config.mjs", ".json", ".yaml", ".yml"]

    static func isEcosystemFile(_ path: String) -> Bool { extensions.contains { path.hasSuffix($0) } }

    /// Keys sv maps today.
    static let supported: Set<String> = [
        "name", "script", "args", "cwd", "interpreter", "exec_interpreter", "interpreter_args", "node_args", "env",
        "restart_delay", "exp_backoff_restart_delay", "max_restarts", "min_uptime", "kill_timeout", "autorestart",
        "stop_exit_codes", "out_file", "output", "error_file", "error", "time", "log_date_format", "log_max_size",
        "log_keep", "exec_mode", "instances", "kill_signal", "instance_var", "increment_var",
        "namespace", "watch", "ignore_watch", "watch_delay", "max_memory_restart", "cron_restart",
        "memory_check_interval",
    ]
    /// Keys of features built later: accepted with a warning naming them, never silently ignored.
    static let notYet: Set<String> = [
        "wait_ready", "listen_timeout",
        "log_file", "merge_logs", "combine_logs", "pid_file", "log_type",
    ]

    /// The apps of `path`: their specs, and warnings for the user.
    static func load(
        path: String, envName: String?, only: Set<String>?, callerDirectory: String, environment: [String: String]
    ) throws -> (specs: [AppSpec], warnings: [String]) {
        let document = try read(path: path)
        guard let apps = document["apps"]?.arrayValue ?? document.arrayValue else {
            throw CLIError("\(path): no 'apps' array (an ecosystem file exports { apps: [ ... ] })")
        }
        let folder = path.split(separator: "/", omittingEmptySubsequences: false).dropLast().joined(separator: "/")
        var specs: [AppSpec] = []
        var warnings: [String] = []
        for (index, entry) in apps.enumerated() {
            guard case .object(let object) = entry else { throw CLIError("\(path): apps[\(index)] is not an object") }
            let label = object["name"]?.stringValue.map { "apps[\(index)] (\($0))" } ?? "apps[\(index)]"
            var app = App(object: object, label: label, file: path)
            if let only, let name = object["name"]?.stringValue, !only.contains(name) { continue }
            for key in object.keys where !supported.contains(key) && !key.hasPrefix("env_") {
                if notYet.contains(key) {
                    warnings.append("\(path): \(label).\(key): not supported yet; ignored")
                } else if let near = suggestion(for: key) {
                    warnings.append("\(path): \(label).\(key): unknown key (did you mean '\(near)'?)")
                } else {
                    warnings.append("\(path): \(label).\(key): unknown key; ignored")
                }
            }
            specs.append(try app.spec(folder: folder.isEmpty ? callerDirectory : folder, envName: envName, environment: environment, warnings: &warnings))
        }
        if let only {
            let missing = only.subtracting(specs.map(\.name))
            if !missing.isEmpty { throw CLIError("\(path): --only names apps the file does not have: \(missing.sorted().joined(separator: ", "))") }
        }
        return (specs, warnings)
    }

    /// The file's JSON: parsed directly, printed by `sv-yaml` for YAML files, or by node for
    /// JavaScript files.
    static func read(path: String) throws -> JSON {
        if path.hasSuffix(".yaml") || path.hasSuffix(".yml") { return try readYAML(path: path) }
        if path.hasSuffix(".json") || path == "-" {
            guard let bytes = path == "-" ? readStandardInput() : Files.readBytes(path) else {
                throw CLIError("cannot read \(path): \(System.errorText(errno))")
            }
            do { return try JSON.parse(bytes) } catch {
                let (line, column) = position(of: error.offset, in: bytes)
                throw CLIError("\(path):\(line):\(column): \(error.message)")
            }
        }
        guard let node = System.findInPath("node", path: getenv("PATH").map { String(cString: $0) }) else {
            throw CLIError("\(path) is JavaScript: node is needed to read it and is not in PATH")
        }
        // CommonJS or an ES module's default export, printed as JSON.
        let script = """
            const path = require('path'); const url = require('url');
            const file = path.resolve(process.argv[1]);
            (async () => {
              let value;
              try { value = require(file); } catch (e) {
                if (e.code !== 'ERR_REQUIRE_ESM' && !file.endsWith('.mjs')) throw e;
                value = (await import(url.pathToFileURL(file).href)).default;
              }
              if (value && value.default && !value.apps) value = value.default;
              process.stdout.write(JSON.stringify(value));
            })().catch((e) => { process.stderr.write(String(e && e.stack || e)); process.exit(3); });
            """
        let (status, out, err) = try System.capture([node, "-e", script, path])
        guard status == 0 else {
            let first = err.split(separator: "\n").first(where: { !$0.isEmpty }).map(String.init) ?? "exit status \(status)"
            throw CLIError("\(path): node could not load it: \(first)")
        }
        do { return try JSON.parse(out) } catch { throw CLIError("\(path): it does not export plain data (\(error))") }
    }

    /// YAML through the `sv-yaml` helper installed beside sv (Yams needs Foundation, which sv
    /// itself does not link: Package.swift says why).
    static func readYAML(path: String) throws -> JSON {
        guard let directory = System.executableDirectory, System.isExecutable(directory + "/sv-yaml") else {
            throw CLIError("\(path) is YAML: sv-yaml, which reads it, is not installed beside sv (run Scripts/install)")
        }
        let (status, out, err) = try System.capture([directory + "/sv-yaml", path])
        let first = err.split(separator: "\n").first(where: { !$0.isEmpty }).map(String.init) ?? "exit status \(status)"
        switch status {
        case 0: break
        case 2: throw CLIError("\(path):\(first)")  // LINE:COLUMN: problem
        default: throw CLIError(first.hasPrefix("cannot read") ? first : "\(path): \(first)")
        }
        do { return try JSON.parse(out) } catch { throw CLIError("\(path): sv-yaml printed JSON sv cannot read (\(error))") }
    }

    static func readStandardInput() -> [UInt8]? { Files.readAll(0) }

    static func position(of offset: Int, in bytes: [UInt8]) -> (Int, Int) {
        var line = 1
        var column = 1
        for byte in bytes.prefix(offset) {
            if byte == 0x0A {
                line += 1
                column = 1
            } else {
                column += 1
            }
        }
        return (line, column)
    }

    /// A known key within edit distance 2 of `key`.
    static func suggestion(for key: String) -> String? {
        (supported.union(notYet)).map { ($0, distance(key, $0)) }.filter { $0.1 <= 2 }.min { $0.1 < $1.1 }?.0
    }

    static func distance(_ a: String, _ b: String) -> Int {
        let a = Array(a.utf8)
        let b = Array(b.utf8)
        var previous = Array(0...b.count)
        for i in 1...max(a.count, 1) where !a.isEmpty {
            var current = [i] + [Int](repeating: 0, count: b.count)
            for j in 1...max(b.count, 1) where !b.isEmpty {
                current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1))
            }
            previous = current
        }
        return previous[b.count]
    }

    /// One app entry, read key by key with errors naming the app and the key.
    struct App {
        let object: JSONObject
        let label: String
        let file: String

        func fail(_ key: String, _ expected: String) -> CLIError {
            CLIError("\(file): \(label).\(key): expected \(expected), got \(describe(object[key] ?? .null))")
        }

        func describe(_ value: JSON) -> String {
            switch value {
            case .string(let s): return "\"\(s)\""
            default: return value.serialized
            }
        }

        func string(_ key: String) throws -> String? {
            guard let value = object[key], value != .null else { return nil }
            guard let text = value.stringValue else { throw fail(key, "a string") }
            return text
        }

        func number(_ key: String) throws -> Int64? {
            guard let value = object[key], value != .null else { return nil }
            if let n = value.intValue { return n }  // its range is checked with the spec's (AppSpec.validate)
            throw fail(key, "a number")
        }

        /// Milliseconds as a number, or a string with ms, s, m or h ("5s").
        func milliseconds(_ key: String) throws -> Int64? {
            guard let value = object[key], value != .null else { return nil }
            // The range is checked with the spec's (AppSpec.validate); here only the arithmetic saturates.
            if let n = value.intValue { return n }
            if let text = value.stringValue {
                for (suffix, factor) in [("ms", Int64(1)), ("s", 1000), ("m", 60_000), ("h", 3_600_000)] where text.hasSuffix(suffix) {
                    if let n = Int64(text.dropLast(suffix.count)) { return Saturating.multiply(n, factor) }
                }
                if let n = Int64(text) { return n }
            }
            throw fail(key, "milliseconds (a number, or a string like \"5s\")")
        }

        func bool(_ key: String) throws -> Bool? {
            guard let value = object[key], value != .null else { return nil }
            guard let flag = value.boolValue else { throw fail(key, "true or false") }
            return flag
        }

        func env(_ key: String) throws -> [String: String] {
            guard let value = object[key], value != .null else { return [:] }
            guard case .object(let map) = value else { throw fail(key, "an object of variables") }
            var out: [String: String] = [:]
            for (name, item) in map.pairs {
                switch item {
                case .string(let s): out[name] = s
                case .int(let i): out[name] = String(i)
                case .double(let d): out[name] = String(d)
                case .bool(let b): out[name] = b ? "true" : "false"
                case .null: continue
                default: throw CLIError("\(file): \(label).\(key).\(name): expected a string, a number or a boolean")
                }
            }
            return out
        }

        /// `watch` (true, a path, or paths), `ignore_watch`, `watch_delay`, `max_memory_restart`,
        /// `memory_check_interval`, `cron_restart`.
        func watchAndLimits(into spec: inout AppSpec, base: String) throws {
            switch object["watch"] {
            case nil, .null?, .bool(false)?: break
            case .bool(true)?: spec.watch = []
            case .string(let path)?: spec.watch = [System.absolute(path, base: base)]
            case .array(let items)?:
                spec.watch = try items.map { item in
                    guard let path = item.stringValue else { throw fail("watch", "true, a path or a list of paths") }
                    return System.absolute(path, base: base)
                }
            default: throw fail("watch", "true, a path or a list of paths")
            }
            switch object["ignore_watch"] {
            case nil, .null?: break
            case .string(let pattern)?: spec.ignoreWatch = [pattern]
            case .array(let items)?:
                spec.ignoreWatch = try items.map { item in
                    guard let pattern = item.stringValue else { throw fail("ignore_watch", "a pattern or a list of them") }
                    return pattern
                }
            default: throw fail("ignore_watch", "a pattern or a list of them")
            }
            spec.watchDelayMs = try milliseconds("watch_delay")
            if let size = object["max_memory_restart"], size != .null {
                guard let bytes = size.intValue ?? size.stringValue.flatMap({ ByteSize(parsing: $0)?.bytes }), bytes >= 1024 else {
                    throw fail("max_memory_restart", "a size like \"500M\"")
                }
                spec.maxMemoryBytes = bytes
            }
            if let interval = try milliseconds("memory_check_interval") {
                guard interval >= 100 else { throw fail("memory_check_interval", "at least 100 ms") }
                spec.memoryCheckIntervalMs = interval
            }
            if let expression = try string("cron_restart") {
                do { _ = try CronSchedule(parsing: expression) } catch {
                    throw CLIError("\(file): \(label).cron_restart: \(error)")
                }
                spec.cronRestart = expression
            }
        }

        mutating func spec(folder: String, envName: String?, environment: [String: String], warnings: inout [String]) throws -> AppSpec {
            guard let script = try string("script") else {
                throw CLIError("\(file): \(label): no 'script' (the file or command to run)")
            }
            if let mode = try string("exec_mode"), mode == "cluster" || mode == "cluster_mode" {
                throw CLIError(
                    "\(file): \(label).exec_mode: cluster is not supported: instances run in fork mode, so give each its own port with increment_var: 'PORT' (one port shared by all instances comes with reload)"
                )
            }
            var instances: Int?
            switch object["instances"] {
            case nil, .null?: break
            case .int(let n)?: instances = InstanceCount.resolve(Int(n))
            case .string(let text)?:
                guard let n = InstanceCount.parse(text) else { throw fail("instances", "a number or \"max\"") }
                instances = n
            default: throw fail("instances", "a number or \"max\"")
            }
            let cwd = try string("cwd").map { System.absolute($0, base: folder) } ?? folder
            var interpreterOption = try string("interpreter") ?? string("exec_interpreter")
            if interpreterOption == "node" && script.hasSuffix(".js") { interpreterOption = nil }
            guard var spec = try ScriptResolver.spec(
                for: System.absolute(script, base: cwd), name: try string("name"), workingDirectory: cwd, callerDirectory: cwd,
                interpreter: interpreterOption, interpreterArgs: try string("interpreter_args") ?? string("node_args"),
                environment: environment)
            else {
                throw CLIError("\(file): \(label).script: \(System.absolute(script, base: cwd)): No such file or directory")
            }
            switch object["args"] {
            case .string(let line)?: spec.args = line.split(separator: " ").map(String.init)
            case .array(let items)?:
                spec.args = try items.map { item in
                    guard let text = item.stringValue ?? item.intValue.map(String.init) else { throw fail("args", "strings") }
                    return text
                }
            case nil, .null?: break
            default: throw fail("args", "a string or an array of strings")
            }
            spec.capturedEnv = CapturedEnvironment.filter(environment)
            spec.env = try env("env")
            if let envName {
                // An app without env_NAME keeps its env (pm2's rule).
                spec.env.merge(try env("env_" + envName)) { _, chosen in chosen }
            }
            if let v = try milliseconds("restart_delay") { spec.policy.restartDelay = .milliseconds(v) }
            if let v = try milliseconds("exp_backoff_restart_delay") { spec.policy.expBackoffRestartDelay = .milliseconds(v) }
            if let v = try number("max_restarts") { spec.policy.maxRestarts = Int(v) }
            if let v = try milliseconds("min_uptime") { spec.policy.minUptime = .milliseconds(v) }
            if let v = try milliseconds("kill_timeout") { spec.policy.killTimeout = .milliseconds(v) }
            if let v = try bool("autorestart") { spec.policy.autorestart = v }
            if let name = try string("kill_signal") {
                guard let signal = Signal(parsing: name) else { throw fail("kill_signal", "a signal like \"SIGTERM\"") }
                spec.policy.killSignal = signal
            }
            switch object["stop_exit_codes"] {
            case .int(let code)?: spec.policy.stopExitCodes = [Int32(clamping: code)]
            case .array(let codes)?:
                spec.policy.stopExitCodes = try codes.map { code in
                    guard let n = code.intValue else { throw fail("stop_exit_codes", "exit codes") }
                    return Int32(clamping: n)
                }
            case nil, .null?: break
            default: throw fail("stop_exit_codes", "an exit code or a list of them")
            }
            if let out = try string("out_file") ?? string("output") { spec.outFile = System.absolute(out, base: cwd) }
            if let err = try string("error_file") ?? string("error") { spec.errorFile = System.absolute(err, base: cwd) }
            if let v = try bool("time") { spec.time = v }
            spec.logDateFormat = try string("log_date_format")
            if let size = object["log_max_size"], size != .null {
                guard let bytes = size.intValue ?? size.stringValue.flatMap({ ByteSize(parsing: $0)?.bytes }) else {
                    throw fail("log_max_size", "a size like \"10M\"")
                }
                spec.logMaxSizeBytes = bytes
            }
            if let v = try number("log_keep") { spec.logKeep = Int(v) }
            spec.instances = instances
            spec.namespace = try string("namespace")
            try watchAndLimits(into: &spec, base: cwd)
            if let namespace = spec.namespace, let problem = AppName.problem(with: namespace) {
                throw CLIError("\(file): \(label).namespace: '\(namespace)' cannot be a namespace: \(problem)")
            }
            spec.instanceVar = try string("instance_var")
            spec.incrementVar = try string("increment_var")
            if let problem = spec.incrementProblem { throw CLIError("\(file): \(label).increment_var: \(problem)") }
            do { try spec.validate() } catch { throw CLIError("\(file): \(label).\(error.field.key): \(error)") }
            return spec
        }
    }
}
