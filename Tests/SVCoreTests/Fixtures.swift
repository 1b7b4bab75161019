import SVCore

/// A clock that moves only when the test says so (STYLE.md 4).
struct ManualClock {
    private(set) var now = Instant.zero
    mutating func advance(by duration: Duration) { now = now + duration }
}

extension AppSpec {
    static func fixture(
        minUptime: Duration = .seconds(1), expBackoff: Duration = .milliseconds(100), restartDelay: Duration = .zero,
        maxRestarts: Int = 16, autorestart: Bool = true, stopExitCodes: [Int32] = [],
        killTimeout: Duration = .milliseconds(5000)
    ) -> AppSpec {
        var spec = AppSpec(name: "api", script: "/srv/api/app.js", cwd: "/srv/api")
        spec.interpreter = "/usr/bin/node"
        spec.policy.minUptime = minUptime
        spec.policy.expBackoffRestartDelay = expBackoff
        spec.policy.restartDelay = restartDelay
        spec.policy.maxRestarts = maxRestarts
        spec.policy.autorestart = autorestart
        spec.policy.stopExitCodes = stopExitCodes
        spec.policy.killTimeout = killTimeout
        return spec
    }
}

/// Drives a machine the way the daemon does: performs `.spawn` at once with a new pid.
struct Harness {
    var machine: AppMachine
    var clock = ManualClock()
    var nextPid: Int32 = 100
    var effects: [AppEffect] = []

    init(_ spec: AppSpec = .fixture()) { machine = AppMachine(spec: spec) }

    /// Handles `event`, answering every `.spawn` with `.spawned`; returns all effects.
    @discardableResult
    mutating func send(_ event: AppEvent) -> [AppEffect] {
        var out: [AppEffect] = []
        var queue = [event]
        while !queue.isEmpty {
            let next = queue.removeFirst()
            let produced = machine.handle(next, now: clock.now)
            out += produced
            for effect in produced {
                if case .spawn(let run) = effect {
                    nextPid += 1
                    queue.append(.spawned(pid: ProcessID(nextPid), run: run))
                }
            }
        }
        effects = out
        return out
    }

    var run: RunID { machine.lastRun }
    var pid: ProcessID { ProcessID(nextPid) }

    /// The process exits by itself after `after`, its group empty.
    @discardableResult
    mutating func exit(_ status: ExitStatus = .code(1), after: Duration, groupEmpty: Bool = true) -> [AppEffect] {
        clock.advance(by: after)
        let run = self.run
        var out = send(.leaderExiting(run: run))
        out += send(.exited(status, run: run, groupEmpty: groupEmpty))
        effects = out
        return out
    }

    var armedTimer: (TimerID, Instant)? {
        for effect in effects.reversed() { if case .armTimer(let id, let at) = effect { return (id, at) } }
        return nil
    }

    /// Fires the latest armed timer at its deadline.
    @discardableResult
    mutating func fireTimer() -> [AppEffect] {
        guard let (id, at) = armedTimer else { return [] }
        if clock.now < at { clock.advance(by: at - clock.now) }
        return send(.timerFired(id))
    }
}
