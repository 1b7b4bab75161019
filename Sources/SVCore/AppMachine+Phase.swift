extension AppMachine {
    /// What the process is doing: finer than `AppStatus`, mapped by `status`.
    public enum Phase: Hashable, Sendable {
        /// No process; nothing scheduled.
        case stopped
        /// A spawn was asked for and not answered yet (spawns are synchronous, so this is brief).
        case launching(RunID)
        /// The process runs.
        case running(Run)
        /// The kill signal went to the group; waiting for the leader and the group to be gone.
        case stopping(Stopping)
        /// Backing off before the next spawn.
        case waitingRestart(TimerID, at: Instant)
        /// Gave up after max_restarts unstable runs; left alone until a user command.
        case errored

        public var status: AppStatus {
            switch self {
            case .stopped: return .stopped
            case .launching: return .launching
            case .running: return .online
            case .stopping(let stopping):
                // Leftovers of a leader that exited by itself are being killed before a restart.
                if case .apply(.restart, _) = stopping.then { return .waitingRestart }
                return .stopping
            case .waitingRestart: return .waitingRestart
            case .errored: return .errored
            }
        }
    }

    /// One live run.
    public struct Run: Hashable, Sendable {
        public var id: RunID
        public var pid: ProcessID
        public var since: Instant
        public var isReady = false

        public init(id: RunID, pid: ProcessID, since: Instant) {
            self.id = id
            self.pid = pid
            self.since = since
        }
    }

    /// A run being stopped: by the user, or its leftovers after the leader exited by itself.
    public struct Stopping: Hashable, Sendable {
        /// What happens once the group is gone.
        public enum After: Hashable, Sendable {
            case stay
            case remove
            /// Start a new run once the group is gone; `reason` says why ("restarted by user").
            case startNew(reason: String)
            /// The decision taken when the leader exited by itself.
            case apply(Decision, exited: ExitStatus)
            /// Start again, as at svd start, once what the previous svd left running is gone
            /// (not counted as a restart).
            case restore
        }
        public var run: Run
        /// The kill-timeout timer: SIGKILL to the group when it fires.
        public var timer: TimerID
        public var then: After
        public var leaderExited = false
        public var escalated = false
    }
}
