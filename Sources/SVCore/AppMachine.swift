/// The life of one app instance (design.md §4). Told what happened, with the time as an input;
/// answers with what to do. Makes no syscalls and reads no clock.
public struct AppMachine: Sendable {
    public private(set) var spec: AppSpec
    public private(set) var desired: Desired
    public private(set) var phase: Phase
    /// Restarts since creation or the last `reset` (automatic and user restarts, as pm2 counts).
    public private(set) var restarts: Int = 0
    /// Unstable runs in a row: drives the backoff, reset by a stable run or a user command.
    public private(set) var unstableRuns: Int = 0
    /// The latest decision in words ("exit code 1, unstable run 3 of 16, backoff 400 ms").
    public private(set) var lastDecision: String = "created"
    /// The run the next spawn will use.
    public private(set) var lastRun: RunID
    private var lastTimer: TimerID

    public init(spec: AppSpec, lastRun: RunID = RunID(0), lastTimer: TimerID = TimerID(0)) {
        self.spec = spec
        self.desired = .stopped
        self.phase = .stopped
        self.lastRun = lastRun
        self.lastTimer = lastTimer
    }

    /// A machine brought back from storage: its desired state and counters as they were, no
    /// process yet. The daemon then starts it if desired online (design.md §5).
    public init(
        restoring spec: AppSpec, desired: Desired, restarts: Int, unstableRuns: Int, lastRun: RunID, reason: String = "restored"
    ) {
        self.init(spec: spec, lastRun: lastRun)
        self.desired = desired
        self.restarts = restarts
        self.unstableRuns = unstableRuns
        self.lastDecision = reason
    }

    /// A machine handed over by the previous image of svd (`sv update`): every field as it was.
    public init(
        adopting spec: AppSpec, desired: Desired, phase: Phase, restarts: Int, unstableRuns: Int, lastRun: RunID,
        lastTimer: TimerID, lastDecision: String
    ) {
        self.init(spec: spec, lastRun: lastRun, lastTimer: lastTimer)
        self.desired = desired
        self.phase = phase
        self.restarts = restarts
        self.unstableRuns = unstableRuns
        self.lastDecision = lastDecision
    }

    /// The newest timer id handed out: the next image continues after it.
    public var latestTimer: TimerID { lastTimer }

    /// The public status of the current phase.
    public var status: AppStatus { phase.status }

    /// When the next automatic restart is due, if one is scheduled.
    public var nextRetry: Instant? {
        if case .waitingRestart(_, let at) = phase { return at }
        if case .stopping(let stopping) = phase, case .apply(.restart(let at, _, _), _) = stopping.then { return at }
        return nil
    }

    /// The running process, if any.
    public var process: (pid: ProcessID, run: RunID, since: Instant)? {
        switch phase {
        case .running(let run): return (run.pid, run.id, run.since)
        case .stopping(let stopping):
            return stopping.leaderExited ? nil : (stopping.run.pid, stopping.run.id, stopping.run.since)
        case .stopped, .launching, .waitingRestart, .errored: return nil
        }
    }

    /// Replaces the spec (a restart with new options takes effect at the next spawn).
    public mutating func update(spec: AppSpec) { self.spec = spec }

    public mutating func handle(_ event: AppEvent, now: Instant) -> [AppEffect] {
        switch event {
        case .startRequested: return start(now: now)
        case .restoreRequested:
            guard case .stopped = phase else { return [] }  // only a freshly restored machine
            desired = .online
            return spawnNow(reason: "brought back at svd start", countsAsRestart: false)
        case .leftoverFound(let run):
            // Only a freshly restored machine: nothing of its own runs yet.
            guard case .stopped = phase else { return [] }
            lastRun = max(lastRun, run.id)
            let timer = newTimer()
            var stopping = Stopping(run: run, timer: timer, then: desired == .online ? .restore : .stay)
            // Its leader is not svd's child: no exit will be reaped, only the group's end told.
            stopping.leaderExited = true
            phase = .stopping(stopping)
            let reason = "stopping what the previous svd left running (session \(run.pid))"
            lastDecision = reason
            return [.recordDecision(reason), .signalGroup(run.pid, spec.policy.killSignal), .armTimer(timer, at: now + spec.policy.killTimeout)]
        case .restartRequested: return restart(now: now)
        case .restartDue(let reason):
            // Automatic (a watched file, the memory limit, the cron schedule). A running app
            // restarts gracefully; one in backoff or given up starts now (a fix was saved); a
            // stopped one stays stopped.
            guard desired == .online else { return [] }
            switch phase {
            case .running(let run):
                return beginStop(run: run, then: .startNew(reason: "restarted: \(reason)"), reason: "restarting: \(reason)", now: now)
            case .waitingRestart(let timer, _):
                unstableRuns = 0
                return [.cancelTimer(timer)] + spawnNow(reason: "restarted: \(reason)", countsAsRestart: true)
            case .errored:
                unstableRuns = 0
                return spawnNow(reason: "restarted: \(reason)", countsAsRestart: true)
            case .stopped, .stopping, .launching:
                return []
            }
        case .stopRequested: return stop(then: .stay, now: now)
        case .shutdownRequested:
            let kept = desired
            let effects = stop(then: .stay, now: now)
            desired = kept
            return effects
        case .deleteRequested: return stop(then: .remove, now: now)
        case .resetRequested:
            restarts = 0
            unstableRuns = 0
            return []
        case .spawned(let pid, let run): return spawned(pid: pid, run: run, now: now)
        case .spawnFailed(let reason, let run): return spawnFailed(reason: reason, run: run, now: now)
        case .leaderExiting(let run): return leaderExiting(run: run)
        case .exited(let status, let run, let groupEmpty):
            return exited(status, run: run, groupEmpty: groupEmpty, now: now)
        case .groupEmptied(let run): return groupEmptied(run: run, now: now)
        case .timerFired(let timer): return timerFired(timer, now: now)
        case .readyReported(let run):
            if case .running(var current) = phase, current.id == run {
                current.isReady = true
                phase = .running(current)
            }
            // A ready message from an older run, or while stopping, changes nothing.
            return []
        }
    }

    // MARK: - User commands

    private mutating func start(now: Instant, countsAsRestart: Bool = false) -> [AppEffect] {
        desired = .online
        switch phase {
        case .stopped, .errored:
            unstableRuns = 0
            return spawnNow(reason: countsAsRestart ? "restarted by user" : "started by user", countsAsRestart: countsAsRestart)
        case .waitingRestart(let timer, _):
            unstableRuns = 0
            return [.cancelTimer(timer)] + spawnNow(reason: "started by user", countsAsRestart: true)
        case .stopping(var stopping):
            // Started again while stopping: start a new run once the old group is gone.
            stopping.then = .startNew(reason: "restarted by user")
            phase = .stopping(stopping)
            return []
        case .running, .launching:
            // Already up: nothing to do (the daemon answers "already online").
            return []
        }
    }

    private mutating func restart(now: Instant) -> [AppEffect] {
        desired = .online
        switch phase {
        case .running(let run):
            unstableRuns = 0
            return beginStop(run: run, then: .startNew(reason: "restarted by user"), reason: "restart requested by user", now: now)
        case .stopped, .errored, .waitingRestart, .stopping, .launching:
            return start(now: now, countsAsRestart: true)
        }
    }

    private mutating func stop(then after: Stopping.After, now: Instant) -> [AppEffect] {
        desired = .stopped
        let reason = after == .remove ? "deleted by user" : "stopped by user"
        switch phase {
        case .running(let run):
            return beginStop(run: run, then: after, reason: reason, now: now)
        case .stopping(var stopping):
            // Already stopping: the last command decides what follows.
            stopping.then = after
            phase = .stopping(stopping)
            return []
        case .waitingRestart(let timer, _):
            phase = .stopped
            lastDecision = reason
            return [.cancelTimer(timer), .recordDecision(reason)] + (after == .remove ? [.remove] : [])
        case .stopped, .errored:
            phase = .stopped
            lastDecision = reason
            return after == .remove ? [.recordDecision(reason), .remove] : []
        case .launching:
            preconditionFailure("stop requested while launching \(lastRun): spawns are synchronous")
        }
    }

    private mutating func beginStop(run: Run, then after: Stopping.After, reason: String, now: Instant)
        -> [AppEffect]
    {
        let timer = newTimer()
        phase = .stopping(Stopping(run: run, timer: timer, then: after))
        lastDecision = reason
        return [
            .recordDecision(reason),
            .signalGroup(run.pid, spec.policy.killSignal),
            .armTimer(timer, at: now + spec.policy.killTimeout),
        ]
    }

    // MARK: - Process events

    private mutating func spawned(pid: ProcessID, run: RunID, now: Instant) -> [AppEffect] {
        guard case .launching(let launching) = phase, launching == run else {
            preconditionFailure("spawned(\(run)) while \(phase)")
        }
        phase = .running(Run(id: run, pid: pid, since: now))
        return []
    }

    private mutating func spawnFailed(reason: String, run: RunID, now: Instant) -> [AppEffect] {
        guard case .launching(let launching) = phase, launching == run else {
            preconditionFailure("spawnFailed(\(run)) while \(phase)")
        }
        // A failed exec is an unstable run: retried with backoff, errored after max_restarts. The
        // retry always goes through a timer, even a due one: a spawn never answers a spawn
        // failure within the same call (no recursion when the backoff is 0).
        let decision = decide(after: .code(127), ranFor: .zero, cause: reason, now: now)
        return apply(decision, now: now, spawnDueNow: false)
            + [.recordRunEnded(run, .code(127), escalated: false, decision: decision.reason)]
    }

    private mutating func leaderExiting(run: RunID) -> [AppEffect] {
        // The leader is a zombie, so its group id cannot be recycled: the kill signal reaches
        // only what remains of its group (design.md §1). When stopping, it was sent already.
        guard case .running(let current) = phase, current.id == run else { return [] }
        return [.signalGroup(current.pid, spec.policy.killSignal)]
    }

    private mutating func exited(_ status: ExitStatus, run: RunID, groupEmpty: Bool, now: Instant) -> [AppEffect] {
        switch phase {
        case .running(let current) where current.id == run:
            let decision = decide(after: status, ranFor: now - current.since, cause: nil, now: now)
            let record = AppEffect.recordRunEnded(run, status, escalated: false, decision: decision.reason)
            // The respawn comes first: the record (a log line, later a commit) follows it (design.md §4).
            if groupEmpty { return apply(decision, now: now) + [record] }
            // Leftovers of the group got the kill signal at .leaderExiting; SIGKILL follows after the timeout.
            let timer = newTimer()
            var stopping = Stopping(run: current, timer: timer, then: .apply(decision, exited: status))
            stopping.leaderExited = true
            phase = .stopping(stopping)
            return [record, .armTimer(timer, at: now + spec.policy.killTimeout)]
        case .stopping(var stopping) where stopping.run.id == run:
            stopping.leaderExited = true
            let decision: String
            switch stopping.then {
            case .stay: decision = "stopped by user"
            case .remove: decision = "deleted by user"
            case .startNew(let reason): decision = reason
            case .apply(let pending, _): decision = pending.reason
            case .restore: decision = "brought back at svd start"
            }
            let record = AppEffect.recordRunEnded(run, status, escalated: stopping.escalated, decision: decision)
            phase = .stopping(stopping)
            return (groupEmpty ? finishStop(stopping, now: now) : []) + [record]
        case .running, .stopping, .stopped, .errored, .waitingRestart, .launching:
            // An exit of an older run (its leftovers' group was already handled): nothing to decide.
            return []
        }
    }

    private mutating func groupEmptied(run: RunID, now: Instant) -> [AppEffect] {
        guard case .stopping(let stopping) = phase, stopping.run.id == run, stopping.leaderExited else { return [] }
        return finishStop(stopping, now: now)
    }

    private mutating func timerFired(_ timer: TimerID, now: Instant) -> [AppEffect] {
        switch phase {
        case .stopping(var stopping) where stopping.timer == timer:
            // The kill timeout ran out: SIGKILL the whole group; exits follow.
            stopping.escalated = true
            phase = .stopping(stopping)
            return [.recordDecision("kill timeout \(spec.policy.killTimeout.humanReadable) reached: SIGKILL"),
                    .signalGroup(stopping.run.pid, .kill)]
        case .waitingRestart(let current, _) where current == timer:
            return spawnNow(reason: lastDecision, countsAsRestart: true)
        case .stopping, .waitingRestart, .running, .stopped, .errored, .launching:
            // A timer of an earlier phase (cancelled, or raced with an exit): stale, dropped.
            return []
        }
    }

    /// The group of a stopping run is gone: do what the stop was for.
    private mutating func finishStop(_ stopping: Stopping, now: Instant) -> [AppEffect] {
        let cancel = AppEffect.cancelTimer(stopping.timer)
        switch stopping.then {
        case .stay:
            phase = .stopped
            return [cancel]
        case .remove:
            phase = .stopped
            return [cancel, .remove]
        case .startNew(let reason):
            return [cancel] + spawnNow(reason: reason, countsAsRestart: true)
        case .apply(let decision, _):
            return [cancel] + apply(decision, now: now)
        case .restore:
            return [cancel] + spawnNow(reason: "brought back at svd start", countsAsRestart: false)
        }
    }

    // MARK: - The decision

    /// What follows an exit of a process the user did not stop. Pure policy (design.md §4).
    func decide(after status: ExitStatus, ranFor uptime: Duration, cause: String?, now: Instant) -> Decision {
        let policy = spec.policy
        let what = cause ?? status.description
        if desired == .stopped { return .stay(.stopped, reason: "\(what); stopped by user") }
        if case .code(let code) = status, policy.stopExitCodes.contains(code) {
            return .stay(.stopped, reason: "\(what) is a stop exit code: not restarted")
        }
        if !policy.autorestart { return .stay(.stopped, reason: "\(what); autorestart is off") }
        if uptime >= policy.minUptime {
            let delay = policy.restartDelay
            let wait = delay > .zero ? ", restart in \(delay.humanReadable)" : ", restarted at once"
            return .restart(
                at: now + delay, afterUnstableRun: false,
                reason: "\(what) after \(uptime.humanReadable) (stable run)\(wait)")
        }
        let unstable = unstableRuns + 1
        if unstable >= policy.maxRestarts {
            return .stay(.errored, reason: "\(what), unstable run \(unstable) of \(policy.maxRestarts): max restarts reached, gave up")
        }
        let delay = Backoff.delay(policy: policy, unstableRuns: unstable)
        return .restart(
            at: now + delay, afterUnstableRun: true,
            reason: "\(what) after \(uptime.humanReadable), unstable run \(unstable) of \(policy.maxRestarts): restart in \(delay.humanReadable)")
    }

    private mutating func apply(_ decision: Decision, now: Instant, spawnDueNow: Bool = true) -> [AppEffect] {
        lastDecision = decision.reason
        switch decision {
        case .stay(let status, _):
            if status == .errored {
                unstableRuns += 1
                phase = .errored
            } else {
                phase = .stopped
            }
            return []
        case .restart(let at, let afterUnstableRun, let reason):
            unstableRuns = afterUnstableRun ? unstableRuns + 1 : 0
            if at <= now && spawnDueNow { return spawnNow(reason: reason, countsAsRestart: true) }
            let timer = newTimer()
            phase = .waitingRestart(timer, at: at)
            return [.armTimer(timer, at: at)]
        }
    }

    private mutating func spawnNow(reason: String, countsAsRestart: Bool) -> [AppEffect] {
        lastDecision = reason
        lastRun = lastRun.next
        if countsAsRestart { restarts += 1 }
        phase = .launching(lastRun)
        return [.spawn(lastRun)]
    }

    private mutating func newTimer() -> TimerID {
        lastTimer = TimerID(lastTimer.rawValue + 1)
        return lastTimer
    }
}

/// What follows an exit the user did not ask for (STYLE.md 6).
public enum Decision: Hashable, Sendable {
    /// Spawn again at `at` (now or later).
    case restart(at: Instant, afterUnstableRun: Bool, reason: String)
    /// Leave it in `status` (stopped or errored).
    case stay(AppStatus, reason: String)

    public var reason: String {
        switch self {
        case .restart(_, _, let reason), .stay(_, let reason): return reason
        }
    }
}
