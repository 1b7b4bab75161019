import ArgumentParser
import Glibc
import SVProtocol

/// The `sv` command: parses, runs, and maps every error to one stderr line and an exit code.
public struct SV: ParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "sv",
        abstract: "A process supervisor for Linux: keeps your apps running.",
        version: "sv \(svVersion)",
        subcommands: [
            Start.self, StartOrRestart.self, Stop.self, Restart.self, Reload.self, Delete.self, List.self, Jlist.self, Prettylist.self,
            Describe.self, Env.self, Pid.self, Reset.self, SendSignal.self, Logs.self, Flush.self, ReloadLogs.self, Save.self, Resurrect.self, Scale.self, Monit.self, Import.self, Startup.self, Unstartup.self, Ping.self, Kill.self,
            Update.self,
        ])

    public init() {}

    /// `sv start app.js -- --port 80` → `sv start app.js --app-arg --port --app-arg 80`;
    /// `sv scale api -1` → `sv scale api -- -1` and `sv start -i -1` → `--instances=-1` (counts,
    /// not options).
    static func passingAppArguments(_ arguments: [String]) -> [String] {
        if arguments.count == 3, arguments[0] == "scale", arguments[2].hasPrefix("-"), Int(arguments[2].dropFirst()) != nil {
            return [arguments[0], arguments[1], "--", arguments[2]]
        }
        guard arguments.first == "start" else { return arguments }
        let split = arguments.firstIndex(of: "--") ?? arguments.endIndex
        var options = Array(arguments[..<split])
        // `-i -1` (one per CPU but one): a negative count, not an option.
        if let flag = options.firstIndex(where: { $0 == "-i" || $0 == "--instances" }), flag + 1 < options.count,
            options[flag + 1].hasPrefix("-"), Int(options[flag + 1]) != nil
        {
            options.replaceSubrange(flag...(flag + 1), with: ["--instances=\(options[flag + 1])"])
        }
        // pm2's `--watch=src,lib`: the paths to watch.
        options = options.flatMap { argument -> [String] in
            guard argument.hasPrefix("--watch=") else { return [argument] }
            let paths = argument.dropFirst("--watch=".count).split(separator: ",").map(String.init)
            return ["--watch"] + paths.flatMap { ["--watch-path", $0] }
        }
        guard split < arguments.endIndex else { return options }
        return options + arguments[(split + 1)...].flatMap { ["--app-arg", $0] }
    }

    /// Runs `sv` with `arguments` (without the program name); returns the exit code.
    public static func run(_ arguments: [String]) -> Int32 {
        if let fast = FastPath.command(for: arguments) {
            do {
                try fast()
                return 0
            } catch let error as CLIError {
                System.writeStderr("sv: \(error.description)\n")
                return 1
            } catch {
                System.writeStderr("sv: \(error)\n")
                return 1
            }
        }
        do {
            var command = try parseAsRoot(passingAppArguments(arguments))
            try command.run()
            return 0
        } catch let error as CLIError {
            System.writeStderr("sv: \(error.description)\n")
            return 1
        } catch {
            let code = exitCode(for: error).rawValue
            let message = fullMessage(for: error)
            if code == 0 {
                say(message)
            } else {
                System.writeStderr(message.hasSuffix("\n") ? message : message + "\n")
            }
            return code
        }
    }
}

/// `sv list`, `sv jlist`, `sv ping` and a plain `sv start SCRIPT [--name NAME] [-- ARGS]` as
/// scripts and monitors call them, without ArgumentParser:
/// its reflection and protocol casts cost about 2 ms per run in a binary that links
/// FoundationEssentials (measured with callgrind: 70 % of `sv --version` is
/// swift_conformsToProtocol), more than the whole `list` bar (design.md §8). Only exact argument
/// lists take this path; anything else goes through the parser, with the same output.
enum FastPath {
    static func command(for arguments: [String]) -> (() throws -> Void)? {
        switch arguments {
        case ["list"], ["ls"], ["l"], ["ps"], ["status"]: return { try List().run() }
        case ["jlist"]: return { try Jlist().run() }
        case ["prettylist"]: return { try Prettylist().run() }
        case ["ping"]: return { try Ping.show(json: false) }
        case ["ping", "--json"]: return { try Ping.show(json: true) }
        case _ where arguments.first == "start":
            guard let plan = StartPlan.plain(Array(arguments.dropFirst())) else { return nil }
            return { try plan.run() }
        default: return nil
        }
    }
}
