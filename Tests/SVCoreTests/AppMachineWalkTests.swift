import SVCore
import Testing

/// Every phase × every event (issue 11): no pair traps but the ones the machine names impossible
/// (a spawn is answered synchronously), stale events change nothing, and what each pair leaves
/// is a consistent machine.
@Suite struct AppMachineWalkTests {
    /// A machine brought to each phase, with the run and timer that are current there.
    enum Start: String, CaseIterable, Sendable {
        case stopped, launching, running, stoppingByUser, stoppingLeftovers, stoppingFromCrash, waitingRestart, errored

        func machine() -> (AppMachine, RunID, TimerID?) {
            var machine = AppMachine(spec: .fixture(maxRestarts: 2))
            let t0 = Instant.zero
            func spawnAndRun() -> RunID {
                _ = machine.handle(.startRequested, now: t0)
                let run = machine.lastRun
                _ = machine.handle(.spawned(pid: ProcessID(100), run: run), now: t0)
                return run
            }
            func timer(_ effects: [AppEffect]) -> TimerID? {
                for case .armTimer(let id, _) in effects { return id }
                return nil
            }
            switch self {
            case .stopped: return (machine, RunID(0), nil)
            case .launching:
                _ = machine.handle(.startRequested, now: t0)
                return (machine, machine.lastRun, nil)
            case .running:
                let run = spawnAndRun()
                return (machine, run, nil)
            case .stoppingByUser:
                let run = spawnAndRun()
                let effects = machine.handle(.stopRequested, now: t0)
                return (machine, run, timer(effects))
            case .stoppingLeftovers:
                let run = spawnAndRun()
                _ = machine.handle(.leaderExiting(run: run), now: t0)
                let effects = machine.handle(.exited(.code(1), run: run, groupEmpty: false), now: t0 + .seconds(5))
                return (machine, run, timer(effects))
            case .stoppingFromCrash:
                machine = AppMachine(restoring: .fixture(), desired: .online, restarts: 0, unstableRuns: 0, lastRun: RunID(3))
                let run = AppMachine.Run(id: RunID(4), pid: ProcessID(300), since: t0)
                let effects = machine.handle(.leftoverFound(run: run), now: t0)
                return (machine, RunID(4), timer(effects))
            case .waitingRestart:
                let run = spawnAndRun()
                let effects = machine.handle(.exited(.code(1), run: run, groupEmpty: true), now: t0 + .milliseconds(10))
                return (machine, run, timer(effects))
            case .errored:
                let first = spawnAndRun()
                let effects = machine.handle(.exited(.code(1), run: first, groupEmpty: true), now: t0 + .milliseconds(10))
                if let id = timer(effects) { _ = machine.handle(.timerFired(id), now: t0 + .seconds(1)) }
                let second = machine.lastRun
                _ = machine.handle(.spawned(pid: ProcessID(101), run: second), now: t0 + .seconds(1))
                _ = machine.handle(.exited(.code(1), run: second, groupEmpty: true), now: t0 + .seconds(1))
                return (machine, second, nil)
            }
        }
    }

    /// Each event, aimed at the current run and timer, or (`stale`) at older ones.
    static func events(run: RunID, timer: TimerID?, stale: Bool) -> [(String, AppEvent)] {
        let r = stale ? RunID(run.rawValue - 1) : run
        let t = stale ? TimerID(-1) : timer ?? TimerID(999)
        return [
            ("startRequested", .startRequested), ("restoreRequested", .restoreRequested),
            ("restartRequested", .restartRequested), ("restartDue", .restartDue(reason: "a file changed")),
            ("stopRequested", .stopRequested), ("shutdownRequested", .shutdownRequested),
            ("deleteRequested", .deleteRequested), ("resetRequested", .resetRequested),
            ("leftoverFound", .leftoverFound(run: AppMachine.Run(id: RunID(50), pid: ProcessID(500), since: .zero))),
            ("spawned", .spawned(pid: ProcessID(200), run: r)), ("spawnFailed", .spawnFailed(reason: "ENOENT", run: r)),
            ("leaderExiting", .leaderExiting(run: r)), ("exited", .exited(.code(0), run: r, groupEmpty: true)),
            ("exitedLeavingGroup", .exited(.signal(.kill), run: r, groupEmpty: false)),
            ("groupEmptied", .groupEmptied(run: r)), ("timerFired", .timerFired(t)), ("readyReported", .readyReported(run: r)),
        ]
    }

    /// The pairs that are a bug of the daemon if they happen: the machine stops on a precondition.
    static func isImpossible(_ start: Start, _ event: String, stale: Bool) -> Bool {
        switch event {
        case "spawned", "spawnFailed": return start != .launching || stale
        case "stopRequested", "shutdownRequested", "deleteRequested": return start == .launching
        default: return false
        }
    }

    @Test(arguments: Start.allCases)
    func everyEventInEveryPhase(start: Start) {
        for stale in [false, true] {
            let (initial, run, timer) = start.machine()
            for (name, event) in Self.events(run: run, timer: timer, stale: stale) where !Self.isImpossible(start, name, stale: stale) {
                var machine = initial
                let effects = machine.handle(event, now: Instant.zero + .seconds(10))
                // A consistent machine: a running phase has a process, a stopped one has none.
                switch machine.phase {
                case .running: #expect(machine.process != nil, "\(start) + \(name)")
                case .stopped, .errored, .waitingRestart: #expect(machine.process == nil, "\(start) + \(name)")
                case .launching(let launching):
                    // The spawn asked for is the newest run, asked now or before this event.
                    #expect(launching == machine.lastRun, "\(start) + \(name)")
                    #expect(start == .launching || effects.contains(.spawn(launching)), "\(start) + \(name)")
                case .stopping: break
                }
                // A user's stop never leads to an automatic spawn (STYLE.md 5).
                if name == "stopRequested" || name == "deleteRequested" {
                    #expect(machine.desired == .stopped)
                    #expect(!effects.contains { if case .spawn = $0 { return true } else { return false } }, "\(start) + \(name)")
                }
                // A stale process event or timer changes nothing.
                if stale, ["leaderExiting", "exited", "exitedLeavingGroup", "groupEmptied", "timerFired", "readyReported"].contains(name) {
                    #expect(effects.isEmpty, "\(start) + stale \(name): \(effects)")
                    #expect(machine.phase == initial.phase, "\(start) + stale \(name)")
                }
            }
        }
    }

    /// What a crashed svd left is stopped like a stop of that run, and the app comes back as at
    /// any svd start (not counted as a restart); a stop meanwhile keeps it stopped.
    @Test func leftoverFound_stopsThenBringsBack() {
        var machine = AppMachine(restoring: .fixture(), desired: .online, restarts: 3, unstableRuns: 0, lastRun: RunID(7))
        let run = AppMachine.Run(id: RunID(8), pid: ProcessID(400), since: .zero)
        let effects = machine.handle(.leftoverFound(run: run), now: .zero)
        #expect(effects.contains(.signalGroup(ProcessID(400), .int)))
        #expect(machine.status == .stopping)
        let timeout = effects.compactMap { if case .armTimer(let id, let at) = $0 { return (id, at) } else { return nil } }.first
        #expect(timeout?.1 == Instant.zero + .seconds(5))
        if let id = timeout?.0 {
            #expect(machine.handle(.timerFired(id), now: .zero + .seconds(5)).contains(.signalGroup(ProcessID(400), .kill)))
        }
        let after = machine.handle(.groupEmptied(run: RunID(8)), now: .zero + .seconds(6))
        #expect(after.contains(.spawn(RunID(9))), "run numbers go on after the leftover's")
        #expect(machine.restarts == 3)
        #expect(machine.lastDecision == "brought back at svd start")

        var stopped = AppMachine(restoring: .fixture(), desired: .online, restarts: 0, unstableRuns: 0, lastRun: RunID(1))
        _ = stopped.handle(.leftoverFound(run: run), now: .zero)
        _ = stopped.handle(.stopRequested, now: .zero)
        #expect(!stopped.handle(.groupEmptied(run: RunID(8)), now: .zero).contains(.spawn(RunID(9))))
        #expect(stopped.status == .stopped)
    }
}

/// The impossible pairs are preconditions, not silent: a daemon bug stops loudly (STYLE.md 3).
@Suite struct AppMachineImpossiblePairTests {
    @Test func spawnedWhileStopped_isAPrecondition() async {
        await #expect(processExitsWith: .failure) {
            var machine = AppMachine(spec: .fixture())
            _ = machine.handle(.spawned(pid: ProcessID(1), run: RunID(1)), now: .zero)
        }
    }

    @Test func stopWhileLaunching_isAPrecondition() async {
        await #expect(processExitsWith: .failure) {
            var machine = AppMachine(spec: .fixture())
            _ = machine.handle(.startRequested, now: .zero)
            _ = machine.handle(.stopRequested, now: .zero)
        }
    }
}
