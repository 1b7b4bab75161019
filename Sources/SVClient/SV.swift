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
            Start.self, Stop.self, Restart.self, Reload.self, Delete.self, List.self, Jlist.self, Prettylist.self,
            Describe.self, Pid.self, Reset.self, SendSignal.self, Logs.self, Ping.self, Kill.self, Update.self,
        ])

    public init() {}

    /// `sv start app.js -- --port 80` → `sv start app.js --app-arg --port --app-arg 80`.
    static func passingAppArguments(_ arguments: [String]) -> [String] {
        guard arguments.first == "start", let split = arguments.firstIndex(of: "--") else { return arguments }
        return Array(arguments[..<split]) + arguments[(split + 1)...].flatMap { ["--app-arg", $0] }
    }

    /// Runs `sv` with `arguments` (without the program name); returns the exit code.
    public static func run(_ arguments: [String]) -> Int32 {
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
                print(message)
            } else {
                System.writeStderr(message.hasSuffix("\n") ? message : message + "\n")
            }
            return code
        }
    }
}
