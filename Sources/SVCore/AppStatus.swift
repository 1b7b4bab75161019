/// The six statuses users see (cli.md). Internal phases are finer; `AppMachine.status` maps them.
public enum AppStatus: String, Hashable, Sendable, Codable, CaseIterable {
    case launching
    case online
    case stopping
    case stopped
    case waitingRestart = "waiting-restart"
    case errored
}

/// What the user asked for. Changes only on a user command.
public enum Desired: String, Hashable, Sendable, Codable {
    case online
    case stopped
}
