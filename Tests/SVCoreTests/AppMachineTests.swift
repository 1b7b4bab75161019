import SVCore
import Testing

@Suite struct AppMachineTests {
    @Test func startRequested_spawnsAndGoesOnline() {
        var h = Harness()
        let effects = h.send(.startRequested)
        #expect(effects == [.spawn(RunID(1))])
        #expect(h.machine.status == .online)
        #expect(h.machine.desired == .online)
        #expect(h.machine.restarts == 0)
    }

    @Test func exitAfterShortRun_schedulesBackoffRestart() {
        // Given an online app whose runs under 1 s are unstable
        var h = Harness()
        h.send(.startRequested)
        // When it exits with code 1 after 300 ms
        let effects = h.exit(.code(1), after: .milliseconds(300))
        // Then it waits the first backoff step before spawning run 2
        #expect(h.machine.status == .waitingRestart)
        #expect(effects.contains(.armTimer(TimerID(1), at: Instant.zero + .milliseconds(400))))
        #expect(h.machine.nextRetry == Instant.zero + .milliseconds(400))
        h.fireTimer()
        #expect(h.machine.status == .online)
        #expect(h.run == RunID(2))
        #expect(h.machine.restarts == 1)
    }

    @Test func crashLoop_backsOffDoublingThenErrors() {
        // Given an app that exits at once, max_restarts 5
        var h = Harness(.fixture(maxRestarts: 5))
        h.send(.startRequested)
        var delays: [Int64] = []
        for _ in 1...4 {
            h.exit(.code(1), after: .milliseconds(5))
            guard let (_, at) = h.armedTimer else {
                Issue.record("no restart timer")
                return
            }
            delays.append((at - h.clock.now).milliseconds)
            h.fireTimer()
        }
        // Then the gaps double, and the 5th unstable run ends errored (pm2's counting)
        #expect(delays == [100, 200, 400, 800])
        h.exit(.code(1), after: .milliseconds(5))
        #expect(h.machine.status == .errored)
        #expect(h.machine.restarts == 4)
        #expect(h.machine.lastDecision.contains("max restarts reached"))
        // And a user start brings it back with a fresh streak
        h.send(.startRequested)
        #expect(h.machine.status == .online)
        #expect(h.machine.unstableRuns == 0)
    }

    @Test func stableRun_restartsAtOnceAndResetsBackoff() {
        var h = Harness()
        h.send(.startRequested)
        h.exit(.code(1), after: .milliseconds(10))
        h.fireTimer()
        #expect(h.machine.unstableRuns == 1)
        // When the next run lasts 2 s (stable) and is SIGKILLed
        let effects = h.exit(.signal(.kill), after: .seconds(2))
        // Then it is respawned in the same step, with the streak reset
        #expect(effects.contains(.spawn(RunID(3))))
        #expect(h.machine.status == .online)
        #expect(h.machine.unstableRuns == 0)
    }

    @Test func restartDelay_appliesAfterStableRunsAndWinsOverSmallSteps() {
        var h = Harness(.fixture(restartDelay: .seconds(2)))
        h.send(.startRequested)
        h.exit(.code(0), after: .seconds(5))
        #expect(h.machine.status == .waitingRestart)
        #expect(h.armedTimer?.1 == h.clock.now + .seconds(2))
        h.fireTimer()
        h.exit(.code(1), after: .milliseconds(10))
        #expect(h.armedTimer?.1 == h.clock.now + .seconds(2))
    }

    @Test func noAutorestart_endsStopped() {
        var h = Harness(.fixture(autorestart: false))
        h.send(.startRequested)
        let effects = h.exit(.code(3), after: .seconds(3))
        #expect(h.machine.status == .stopped)
        #expect(!effects.contains { if case .spawn = $0 { return true } else { return false } })
        #expect(h.machine.lastDecision.contains("autorestart is off"))
    }

    @Test(arguments: [(Int32(0), AppStatus.stopped), (Int32(2), .stopped), (Int32(1), .waitingRestart)])
    func stopExitCodes_endStopped(code: Int32, expected: AppStatus) {
        var h = Harness(.fixture(stopExitCodes: [0, 2]))
        h.send(.startRequested)
        h.exit(.code(code), after: .milliseconds(10))
        #expect(h.machine.status == expected)
    }

    @Test func stop_signalsGroupThenSIGKILLAfterTimeout() {
        var h = Harness(.fixture(killTimeout: .milliseconds(1500)))
        h.send(.startRequested)
        let pid = h.pid
        h.clock.advance(by: .seconds(3))
        let effects = h.send(.stopRequested)
        #expect(effects.contains(.signalGroup(pid, .int)))
        #expect(h.armedTimer?.1 == h.clock.now + .milliseconds(1500))
        #expect(h.machine.status == .stopping)
        #expect(h.machine.desired == .stopped)
        // When the app ignores SIGINT, the timer escalates to SIGKILL on the group
        let escalation = h.fireTimer()
        #expect(escalation.contains(.signalGroup(pid, .kill)))
        let run = h.run
        let exit = h.send(.exited(.signal(.kill), run: run, groupEmpty: true))
        #expect(exit.contains(.recordRunEnded(run, .signal(.kill), escalated: true, decision: "stopped by user")))
        #expect(h.machine.status == .stopped)
    }

    @Test func userStop_neverRestarts() {
        var h = Harness()
        h.send(.startRequested)
        h.send(.stopRequested)
        let effects = h.send(.exited(.code(0), run: h.run, groupEmpty: true))
        #expect(!effects.contains { if case .spawn = $0 { return true } else { return false } })
        #expect(h.machine.status == .stopped)
    }

    @Test func leaderExitWithLeftovers_killsGroupBeforeRestart() {
        // Given a stable run whose leader exits but leaves a worker in its group
        var h = Harness()
        h.send(.startRequested)
        let pid = h.pid
        h.clock.advance(by: .seconds(5))
        let run = h.run
        let first = h.send(.leaderExiting(run: run))
        #expect(first == [.signalGroup(pid, .int)])
        let exit = h.send(.exited(.code(1), run: run, groupEmpty: false))
        // Then no spawn happens while the group lives; the kill timeout is armed
        #expect(!exit.contains { if case .spawn = $0 { return true } else { return false } })
        #expect(h.machine.status == .waitingRestart)
        // And SIGKILL follows the timeout, then the group's end brings the restart
        #expect(h.fireTimer().contains(.signalGroup(pid, .kill)))
        let after = h.send(.groupEmptied(run: run))
        #expect(after.contains(.spawn(RunID(2))))
        #expect(h.machine.status == .online)
    }

    @Test func restart_stopsThenStartsNewRun() {
        var h = Harness()
        h.send(.startRequested)
        h.send(.restartRequested)
        #expect(h.machine.status == .stopping)
        let effects = h.send(.exited(.code(0), run: h.run, groupEmpty: true))
        #expect(effects.contains(.spawn(RunID(2))))
        #expect(h.machine.restarts == 1)
    }

    @Test func restartDue_restartsGracefullyWithItsReason() {
        var h = Harness()
        h.send(.startRequested)
        let pid = h.pid
        let stop = h.send(.restartDue(reason: "memory 612 MB > 500 MB"))
        #expect(stop.contains(.signalGroup(pid, .int)))
        #expect(h.machine.lastDecision == "restarting: memory 612 MB > 500 MB")
        let effects = h.send(.exited(.code(0), run: h.run, groupEmpty: true))
        #expect(effects.contains(.spawn(RunID(2))))
        #expect(h.machine.restarts == 1)
        #expect(h.machine.lastDecision == "restarted: memory 612 MB > 500 MB")
    }

    @Test func restartDue_startsAnAppInBackoffOrErroredButNeverAStoppedOne() {
        var h = Harness(.fixture(maxRestarts: 1))
        h.send(.startRequested)
        h.exit(.code(1), after: .milliseconds(5))
        #expect(h.machine.status == .errored)
        #expect(h.send(.restartDue(reason: "file changed: /srv/app.js")).contains(.spawn(RunID(2))))
        #expect(h.machine.status == .online)
        var stopped = Harness()
        stopped.send(.startRequested)
        stopped.send(.stopRequested)
        stopped.send(.exited(.code(0), run: stopped.run, groupEmpty: true))
        #expect(stopped.send(.restartDue(reason: "cron * * * * *")).isEmpty)
        #expect(stopped.machine.status == .stopped)
    }

    @Test func delete_removesAfterStop() {
        var h = Harness()
        h.send(.startRequested)
        h.send(.deleteRequested)
        let effects = h.send(.exited(.code(0), run: h.run, groupEmpty: true))
        #expect(effects.contains(.remove))
    }

    @Test func shutdown_keepsDesiredOnline() {
        var h = Harness()
        h.send(.startRequested)
        h.send(.shutdownRequested)
        h.send(.exited(.code(0), run: h.run, groupEmpty: true))
        #expect(h.machine.status == .stopped)
        #expect(h.machine.desired == .online)
    }

    @Test func staleEvents_areDropped() {
        var h = Harness()
        h.send(.startRequested)
        let old = h.run
        h.exit(.code(1), after: .seconds(2))  // stable: run 2 spawned at once
        #expect(h.run == RunID(2))
        // An exit or ready report of run 1 changes nothing
        #expect(h.send(.exited(.code(1), run: old, groupEmpty: true)).isEmpty)
        #expect(h.send(.readyReported(run: old)).isEmpty)
        #expect(h.send(.timerFired(TimerID(99))).isEmpty)
        #expect(h.machine.status == .online)
    }

    @Test func spawnFailure_isAnUnstableRun() {
        var machine = AppMachine(spec: .fixture())
        let effects = machine.handle(.startRequested, now: .zero)
        #expect(effects == [.spawn(RunID(1))])
        let failed = machine.handle(.spawnFailed(reason: "cannot start: /x: No such file or directory", run: RunID(1)), now: .zero)
        #expect(machine.status == .waitingRestart)
        #expect(failed.contains(.armTimer(TimerID(1), at: .zero + .milliseconds(100))))
    }

    @Test func stopWhileWaiting_cancelsTheRestart() {
        var h = Harness()
        h.send(.startRequested)
        h.exit(.code(1), after: .milliseconds(10))
        guard let (timer, _) = h.armedTimer else {
            Issue.record("no timer")
            return
        }
        let effects = h.send(.stopRequested)
        #expect(effects.contains(.cancelTimer(timer)))
        #expect(h.machine.status == .stopped)
        #expect(h.send(.timerFired(timer)).isEmpty)
    }

    @Test func reset_zeroesCounters() {
        var h = Harness()
        h.send(.startRequested)
        h.exit(.code(1), after: .milliseconds(10))
        h.fireTimer()
        h.send(.resetRequested)
        #expect(h.machine.restarts == 0)
        #expect(h.machine.unstableRuns == 0)
    }

    @Test func readyReported_marksTheRun() {
        var h = Harness()
        h.send(.startRequested)
        h.send(.readyReported(run: h.run))
        guard case .running(let run) = h.machine.phase else {
            Issue.record("not running")
            return
        }
        #expect(run.isReady)
    }
}

@Suite struct AppMachineEdgeTests {
    /// A spawn failure never answers with a spawn in the same call, even with no backoff: svd
    /// would otherwise recurse once per failed exec.
    @Test func spawnFailureWithoutBackoffRetriesThroughATimer() {
        var machine = AppMachine(spec: .fixture(expBackoff: .zero))
        _ = machine.handle(.startRequested, now: .zero)
        let effects = machine.handle(.spawnFailed(reason: "cannot start: x", run: RunID(1)), now: .zero)
        #expect(!effects.contains { if case .spawn = $0 { return true } else { return false } })
        #expect(effects.contains(.armTimer(TimerID(1), at: .zero)))
        #expect(machine.status == .waitingRestart)
    }

    /// The respawn is the first effect after an exit; the record follows (design.md §4).
    @Test func respawnComesBeforeTheRecord() {
        var h = Harness()
        h.send(.startRequested)
        h.clock.advance(by: .seconds(2))
        let effects = h.machine.handle(.exited(.code(1), run: RunID(1), groupEmpty: true), now: h.clock.now)
        guard case .spawn = effects.first else {
            Issue.record("first effect is \(String(describing: effects.first))")
            return
        }
        #expect(effects.count == 2)
    }

    @Test func lastDecisionFollowsTheLatestStart() {
        var h = Harness()
        h.send(.startRequested)
        #expect(h.machine.lastDecision == "started by user")
        h.send(.stopRequested)
        h.send(.exited(.code(0), run: h.run, groupEmpty: true))
        h.send(.restartRequested)
        #expect(h.machine.lastDecision == "restarted by user")
        #expect(h.machine.restarts == 1)
    }
}
