import SVCore

/// The paths of `$SV_HOME` (cli.md, State directory).
public struct StateDirectory: Sendable {
    public let root: String
    public init(root: String) { self.root = root }

    public var socket: String { root + "/svd.sock" }
    public var lock: String { root + "/svd.lock" }
    public var daemonLog: String { root + "/svd.log" }
    public var database: String { root + "/sv.db" }
    public var savedSet: String { root + "/saved.json" }
    public var logs: String { root + "/logs" }
    /// Present while an svd runs: found at start, it says the previous one did not shut down.
    public var runningMarker: String { root + "/svd.running" }

    /// `logs/<name>-out.log`, the name escaped for a file name.
    public func logPath(name: String, stream: String) -> String {
        logs + "/" + AppName.fileComponent(name) + "-" + stream + ".log"
    }
}
