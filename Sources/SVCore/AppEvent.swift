/// What happened to an app: the inputs of `AppMachine.handle`. Past tense (STYLE.md 12).
public enum AppEvent: Hashable, Sendable {
    /// `sv start` of an app that is not running (or a new app).
    case startRequested
    /// svd started and found this app desired online in its database: start it again, counters kept.
    case restoreRequested
    /// svd started and found processes of `run` that the previous svd left running (it
    /// crashed): they are stopped like a stop of that run, then the app starts again if desired
    /// online. The daemon tells the group is gone with `.groupEmptied(run:)`.
    case leftoverFound(run: AppMachine.Run)
    /// `sv restart`: stop the running process (if any), then start a new one.
    case restartRequested
    /// A graceful restart svd decided (a watched file changed, the memory limit, the cron
    /// schedule), `reason` in words. An app desired online that is in backoff or errored starts
    /// now; a stopped one is left alone.
    case restartDue(reason: String)
    /// `sv stop`.
    case stopRequested
    /// svd itself is stopping (SIGTERM): stop the process, keep the desired state so the next
    /// svd brings it back.
    case shutdownRequested
    /// `sv delete`: stop, then forget.
    case deleteRequested
    /// `sv reset`: restart counters to 0.
    case resetRequested
    /// The spawn asked by `.spawn(run)` succeeded.
    case spawned(pid: ProcessID, run: RunID)
    /// The spawn asked by `.spawn(run)` failed (exec error, missing cwd, …).
    case spawnFailed(reason: String, run: RunID)
    /// The leader of `run` has exited and is not reaped yet (`waitid(WNOWAIT)`): its group id is
    /// still safe to signal.
    case leaderExiting(run: RunID)
    /// The leader of `run` was reaped; `groupEmpty` tells whether processes of its group remain.
    case exited(ExitStatus, run: RunID, groupEmpty: Bool)
    /// The last process of `run`'s group is gone (after the leader was reaped).
    case groupEmptied(run: RunID)
    /// A timer armed by `.armTimer` fired.
    case timerFired(TimerID)
    /// The app reported it is ready (`process.send('ready')`).
    case readyReported(run: RunID)
}

/// What the daemon must do: the outputs of `AppMachine.handle`. Imperative (STYLE.md 12).
public enum AppEffect: Hashable, Sendable {
    /// Spawn a new process for `run`; answer with `.spawned` or `.spawnFailed`.
    case spawn(RunID)
    /// Send `signal` to the process group led by `pid`.
    case signalGroup(ProcessID, Signal)
    /// Fire `.timerFired(id)` at `at`.
    case armTimer(TimerID, at: Instant)
    /// `id` will not be needed any more (the machine would drop its firing anyway).
    case cancelTimer(TimerID)
    /// `run` ended: how, whether SIGKILL was needed, and what was decided.
    case recordRunEnded(RunID, ExitStatus, escalated: Bool, decision: String)
    /// A decision that is not about an exit (a stop, an errored spawn): for the log and `describe`.
    case recordDecision(String)
    /// The app is gone (after a delete): forget it.
    case remove
}
