import ArgumentParser
import Glibc
import SVCore
import SVProtocol

/// Stop apps: the kill signal, then SIGKILL to the process group after the kill timeout.
struct Stop: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "stop", abstract: "Stop apps.")
    @OptionGroup var targets: TargetArguments

    func run() throws {
        let reply = try Client.connectOrStart().send(.stop(try targets.resolved()))
        say(Render.summary("stopped", try Render.apps(reply)), terminator: "")
    }
}

/// Restart apps (a stopped app is started).
struct Restart: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "restart", abstract: "Restart apps (a stopped app starts).")
    @OptionGroup var targets: TargetArguments
    @Flag(help: "Replace the captured environment with your current one.") var updateEnv = false
    @Flag(help: "Turn watching on (the app's cwd, or the paths it was given).") var watch = false

    func run() throws {
        // `restart FILE --update-env`: the file's env is read again (and the caller's environment
        // captured anew): the apps restart with the file as it is now. Removed variables go away.
        if updateEnv, targets.targets.count == 1, Ecosystem.isEcosystemFile(targets.targets[0]) {
            let file = System.absolute(targets.targets[0], base: System.currentDirectory)
            let (specs, warnings) = try Ecosystem.load(
                path: file, envName: nil, only: nil, callerDirectory: System.currentDirectory, environment: System.environment)
            for warning in warnings { System.writeStderr("sv: warning: \(warning)\n") }
            let reply = try Client.connectOrStart().send(.start(StartArguments(specs: specs, force: false, ecosystem: true)))
            say(Render.outcomes(reply), terminator: "")
            return
        }
        let env = updateEnv ? System.environment : nil
        let reply = try Client.connectOrStart().send(
            .restart(RestartArguments(targets: try targets.resolved(), updatedEnv: env, watch: watch ? true : nil)))
        say(Render.summary("restarted", try Render.apps(reply)), terminator: "")
    }
}

/// Stop and forget apps.
struct Delete: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "delete", abstract: "Stop and forget apps.", aliases: ["del"])
    @OptionGroup var targets: TargetArguments

    func run() throws {
        let reply = try Client.connectOrStart().send(.delete(try targets.resolved()))
        for app in reply.arrayValue ?? [] {
            say("deleted \(app["name"]?.stringValue ?? "?") (id \(app["id"]?.intValue ?? 0))")
        }
    }
}

/// Set restart counters to 0.
struct Reset: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "reset", abstract: "Set restart counters to 0.")
    @OptionGroup var targets: TargetArguments

    func run() throws {
        let reply = try Client.connectOrStart().send(.reset(try targets.resolved()))
        for info in try Render.apps(reply) { say("reset \(info.name) (id \(info.id))") }
    }
}

/// Send a signal to apps' main processes.
struct SendSignal: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "signal", abstract: "Send a signal to apps' processes.", aliases: ["sendSignal"])
    @Argument(help: "The signal: SIGUSR2, USR2 or 12.") var signal: String
    @OptionGroup var targets: TargetArguments

    func run() throws {
        guard let parsed = Signal(parsing: signal) else {
            throw ValidationError("unknown signal '\(signal)' (e.g. SIGUSR2, SIGTERM, 15)")
        }
        let reply = try Client.connectOrStart().send(.signal(parsed, try targets.resolved()))
        for info in try Render.apps(reply) { say("sent \(parsed.name) to \(info.name) (id \(info.id)), pid \(info.pid?.description ?? "-")") }
    }
}

/// Stop every app for good and the daemon.
struct Kill: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "kill", abstract: "Stop every app (desired: stopped) and the daemon.")

    func run() throws {
        // Never starts a daemon just to kill it.
        guard let client = try Client.connectIfRunning() else {
            say("svd is not running")
            return
        }
        let reply = try client.send(.kill)
        say("stopped \(reply["stopped"]?.intValue ?? 0) apps; svd exited")
    }
}

/// Not built yet: refused, never acting as a restart (issue 2).
struct Reload: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "reload", abstract: "Zero-downtime restart (not built yet).")
    @OptionGroup var targets: TargetArguments

    func run() throws {
        throw CLIError("reload is not built yet; use 'sv restart \(targets.targets.joined(separator: " "))' (it is not zero-downtime)")
    }
}

/// Replace the running daemon in place: same pid, apps untouched and still supervised.
struct Update: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "update", abstract: "Replace the running daemon with the svd beside sv, in place.")

    func run() throws {
        guard let directory = System.executableDirectory else { throw CLIError("cannot find the svd beside sv") }
        let svd = directory + "/svd"
        guard System.isExecutable(svd) else { throw CLIError("no svd beside sv at \(svd) (reinstall with Scripts/install)") }
        // Nothing to update when no svd runs: the next command starts the new one.
        guard let client = try Client.connectIfRunning() else {
            say("svd is not running; the next command starts \(svd)")
            return
        }
        // ping and update are frozen requests: any sv can update any svd.
        let before = try client.send(.ping)
        let generation = before["execGeneration"]?.intValue ?? 0
        let reply = try client.send(.update(svdPath: svd))
        let deadline = System.monotonicSeconds + 15
        while System.monotonicSeconds < deadline {
            if let next = try? Client.connectIfRunning(), let ping = try? next.send(.ping),
                let now = ping["execGeneration"]?.intValue, now > generation
            {
                say(
                    "svd updated in place: \(reply["from"]?.stringValue ?? "?") → \(ping["version"]?.stringValue ?? "?"), pid \(ping["pid"]?.intValue ?? 0), exec generation \(now)"
                )
                return
            }
            var pause = timespec(tv_sec: 0, tv_nsec: 5_000_000)  // poll interval while svd re-executes
            nanosleep(&pause, nil)
        }
        throw CLIError("svd did not come back from the update within 15 s (see \(Client.home)/svd.log)")
    }
}

/// Record the apps desired online as the saved set.
struct Save: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "save", abstract: "Record the apps desired online (with their options) as the saved set.",
        aliases: ["dump"])

    func run() throws {
        let reply = try Client.connectOrStart().send(.save)
        say("saved \(reply["saved"]?.intValue ?? 0) apps (sv.db and \(reply["path"]?.stringValue ?? "saved.json"))")
    }
}

/// Start the saved set, never creating an app twice.
struct Resurrect: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "resurrect", abstract: "Start the saved set; apps that exist are started, never created twice.")

    func run() throws {
        let reply = try Client.connectOrStart().send(.resurrect)
        let entries = reply.arrayValue ?? []
        if entries.isEmpty { say("the saved set is empty (run 'sv save' first)") }
        for entry in entries {
            let id = entry["id"]?.intValue.map { " (id \($0))" } ?? ""
            say("\(entry["name"]?.stringValue ?? "?")\(id): \(entry["what"]?.stringValue ?? "")")
        }
    }
}

/// `sv scale NAME N`: run N instances (`max`: one per CPU; `+N`, `-N`: more or fewer).
struct Scale: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "scale", abstract: "Run N instances of an app (N, max, +N or -N).")
    @Argument(help: "The app's name.") var name: String
    @Argument(help: "How many instances: N, max, +N or -N.") var count: String

    /// The request: an absolute count, or a relative one for `+N` and `-N`.
    var arguments: ScaleArguments? {
        if count.hasPrefix("+") || count.hasPrefix("-"), let n = Int(count.dropFirst()) {
            return ScaleArguments(name: name, count: count.hasPrefix("-") ? -n : n, relative: true)
        }
        if count == "max" { return ScaleArguments(name: name, count: InstanceCount.processors, relative: false) }
        return Int(count).map { ScaleArguments(name: name, count: $0, relative: false) }
    }

    func validate() throws {
        guard arguments != nil else { throw ValidationError("give the number of instances: N, max, +N or -N (got '\(count)')") }
        if let arguments, arguments.count > SpecBounds.maxInstances || arguments.count < -SpecBounds.maxInstances {
            throw ValidationError("the number of instances is at most \(SpecBounds.maxInstances), got '\(count)'")
        }
    }

    func run() throws {
        guard let arguments else { return }
        let reply = try Client.connectOrStart().send(.scale(arguments))
        let changes = Render.outcomes(reply)
        say(changes.isEmpty ? "\(name) already runs that many instances\n" : changes, terminator: "")
    }
}
