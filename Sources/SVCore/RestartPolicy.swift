/// When and how an app is restarted and stopped (design.md §4). Fields at a boundary carry their unit.
public struct RestartPolicy: Hashable, Sendable, Codable {
    /// Restart by itself after an exit (`--no-autorestart` turns it off).
    public var autorestart: Bool = true
    /// Wait before every restart.
    public var restartDelay: Duration = .zero
    /// First backoff step after an unstable run; doubles per unstable run in a row, capped at `backoffCap`.
    public var expBackoffRestartDelay: Duration = .milliseconds(100)
    /// Unstable runs in a row that end in `errored` (pm2's rule: the run that reaches it is not restarted).
    public var maxRestarts: Int = 16
    /// A run shorter than this is unstable.
    public var minUptime: Duration = .milliseconds(1000)
    /// Grace time between the kill signal and SIGKILL.
    public var killTimeout: Duration = .milliseconds(5000)
    /// First signal of a stop, sent to the whole process group.
    public var killSignal: Signal = .int
    /// Exit codes that end in `stopped` instead of a restart.
    public var stopExitCodes: [Int32] = []

    /// The largest backoff step.
    public static let backoffCap: Duration = .seconds(15)

    public init() {}

    enum CodingKeys: String, CodingKey {
        case autorestart, restartDelayMs, expBackoffRestartDelayMs, maxRestarts, minUptimeMs, killTimeoutMs
        case killSignal, stopExitCodes
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let defaults = RestartPolicy()
        autorestart = try c.decodeIfPresent(Bool.self, forKey: .autorestart) ?? defaults.autorestart
        restartDelay = .milliseconds(try c.decodeIfPresent(Int64.self, forKey: .restartDelayMs) ?? defaults.restartDelay.milliseconds)
        expBackoffRestartDelay = .milliseconds(
            try c.decodeIfPresent(Int64.self, forKey: .expBackoffRestartDelayMs) ?? defaults.expBackoffRestartDelay.milliseconds)
        maxRestarts = try c.decodeIfPresent(Int.self, forKey: .maxRestarts) ?? defaults.maxRestarts
        minUptime = .milliseconds(try c.decodeIfPresent(Int64.self, forKey: .minUptimeMs) ?? defaults.minUptime.milliseconds)
        killTimeout = .milliseconds(try c.decodeIfPresent(Int64.self, forKey: .killTimeoutMs) ?? defaults.killTimeout.milliseconds)
        killSignal = try c.decodeIfPresent(Signal.self, forKey: .killSignal) ?? defaults.killSignal
        stopExitCodes = try c.decodeIfPresent([Int32].self, forKey: .stopExitCodes) ?? defaults.stopExitCodes
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(autorestart, forKey: .autorestart)
        try c.encode(restartDelay.milliseconds, forKey: .restartDelayMs)
        try c.encode(expBackoffRestartDelay.milliseconds, forKey: .expBackoffRestartDelayMs)
        try c.encode(maxRestarts, forKey: .maxRestarts)
        try c.encode(minUptime.milliseconds, forKey: .minUptimeMs)
        try c.encode(killTimeout.milliseconds, forKey: .killTimeoutMs)
        try c.encode(killSignal, forKey: .killSignal)
        try c.encode(stopExitCodes, forKey: .stopExitCodes)
    }
}

/// The exponential backoff of design.md §4, as a pure function of the policy and the count of
/// unstable runs in a row.
public enum Backoff {
    /// The wait after the `unstableRuns`-th unstable run in a row (1-based): the first step
    /// doubled `unstableRuns - 1` times, capped at 15 s; zero when there is no unstable run.
    public static func step(first: Duration, unstableRuns: Int) -> Duration {
        guard unstableRuns > 0, first > .zero else { return .zero }
        let capMs = RestartPolicy.backoffCap.milliseconds
        var ms = first.milliseconds
        var doublings = unstableRuns - 1
        while doublings > 0 && ms < capMs {
            ms *= 2
            doublings -= 1
        }
        return .milliseconds(min(ms, capMs))
    }

    /// The wait before the next restart: `restart_delay`, or after an unstable run the larger of it
    /// and the backoff step.
    public static func delay(policy: RestartPolicy, unstableRuns: Int) -> Duration {
        max(policy.restartDelay, step(first: policy.expBackoffRestartDelay, unstableRuns: unstableRuns))
    }
}
