import SVCore
import Testing

/// The one validation (STYLE.md 27a) and saturating time arithmetic: no input can trap.
@Suite struct SpecValidationTests {
    @Test func fixtureAndDefaults_areValid() throws {
        try AppSpec.fixture().validate()
        try AppSpec(name: "api", script: "/srv/app.js", cwd: "/srv").validate()
    }

    static func with(_ change: (inout AppSpec) -> Void) -> AppSpec {
        var spec = AppSpec.fixture()
        change(&spec)
        return spec
    }

    /// Each value the hardening issue found trapping or trusted, with the field it must name.
    @Test(arguments: [
        (with { s in s.policy.killTimeout = .milliseconds(9_223_372_036_854) }, SpecField.killTimeout),
        (with { s in s.policy.killTimeout = .milliseconds(-1) }, .killTimeout),
        (with { s in s.policy.restartDelay = .milliseconds(Int64.max) }, .restartDelay),
        (with { s in s.policy.expBackoffRestartDelay = .milliseconds(86_400_001) }, .expBackoffRestartDelay),
        (with { s in s.policy.minUptime = .milliseconds(Int64.max) }, .minUptime),
        (with { s in s.policy.maxRestarts = -1 }, .maxRestarts),
        (with { s in s.policy.killSignal = Signal(0) }, .killSignal),
        (with { s in s.policy.killSignal = Signal(19) }, .killSignal),
        (with { s in s.policy.killSignal = Signal(9999) }, .killSignal),
        (with { s in s.policy.stopExitCodes = [256] }, .stopExitCodes),
        (with { s in s.maxMemoryBytes = -5 }, .maxMemory),
        (with { s in s.memoryCheckIntervalMs = 0 }, .memoryCheckInterval),
        (with { s in s.cronRestart = "garbage" }, .cronRestart),
        (with { s in s.outFile = "relative.log" }, .outFile),
        (with { s in s.outFile = "/proc/self/mem" }, .outFile),
        (with { s in s.errorFile = "/var/log/../../proc/self/mem" }, .errorFile),
        (with { s in s.errorFile = "/sys/kernel/x" }, .errorFile),
        (with { s in s.instances = -5 }, .instances),
        (with { s in s.instances = 100_000 }, .instances),
        (with { s in s.logKeep = 1_000_000_000 }, .logKeep),
        (with { s in s.logMaxSizeBytes = 0 }, .logMaxSize),
        (with { s in s.watchDelayMs = Int64.max }, .watchDelay),
        (with { s in s.watch = ["src"] }, .watch),
        (with { s in s.env = ["A=B": "1"] }, .env),
        (with { s in s.env = ["A": "x\0y"] }, .env),
        (with { s in s.script = "app.js" }, .script),
        (with { s in s.name = "../x" }, .name),
        (with { s in
            s.env = ["PORT": String(Int.max - 3)]
            s.incrementVar = "PORT"
        }, .incrementVar),
    ])
    func outOfBounds_isRefusedNamingTheField(spec: AppSpec, field: SpecField) {
        #expect(throws: SpecProblem.self) { try spec.validate() }
        do { try spec.validate() } catch { #expect(error.field == field, "\(error)") }
        // Brought within bounds, what validate refuses is gone (or the field cannot be mended).
        let mended = spec.clamped()
        switch field {
        case .script, .name, .env, .watch: break  // no bound to clamp to: svd leaves such a row out or stopped
        default: #expect((try? mended.validate()) != nil, "\(field) still refused after clamping")
        }
    }

    @Test func message_givesTheRangeAndTheValue() {
        var spec = AppSpec.fixture()
        spec.policy.killTimeout = .milliseconds(9_223_372_036_854)
        do {
            try spec.validate()
            Issue.record("accepted")
        } catch {
            #expect(error.description == "kill_timeout must be between 0 and 86400000 ms (24 h), got 9223372036854")
            #expect(error.field.option == "--kill-timeout")
        }
    }

    @Test func boundsThemselves_areAccepted() throws {
        var spec = AppSpec.fixture()
        spec.policy.killTimeout = SpecBounds.maxDelay
        spec.policy.restartDelay = SpecBounds.maxDelay
        spec.policy.minUptime = SpecBounds.maxDuration
        spec.policy.killSignal = .term
        spec.policy.stopExitCodes = [0, 255]
        spec.instances = SpecBounds.maxInstances
        spec.logKeep = SpecBounds.maxLogKeep
        spec.logMaxSizeBytes = 1024
        spec.memoryCheckIntervalMs = 100
        spec.outFile = "/dev/null"
        spec.errorFile = "/var/log/api/err.log"
        spec.cronRestart = "0 3 * * *"
        try spec.validate()
    }

    @Test func signalsThatEndAProcess() {
        let ending = (1...64).filter { Signal(Int32($0)).endsProcess }
        #expect(!ending.contains(17) && !ending.contains(18) && !ending.contains(19) && !ending.contains(20))
        #expect(!ending.contains(28) && !ending.contains(32) && !ending.contains(33))
        #expect(ending.contains(2) && ending.contains(15) && ending.contains(9) && ending.contains(12) && ending.contains(40))
    }

    @Test func instantArithmetic_saturates() {
        let now = Instant(nanoseconds: 1_000_000)
        #expect(now + .milliseconds(Int64.max) == Instant.distantFuture)
        #expect(now + .seconds(Int64.max) == Instant.distantFuture)
        #expect(Instant(nanoseconds: .min) - now == .nanoseconds(Int64.min))
        #expect(Instant.distantFuture - Instant(nanoseconds: -5) == .nanoseconds(Int64.max))
        #expect(Duration.milliseconds(Int64.max).milliseconds == Int64.max)
        #expect(Duration.milliseconds(Int64.max).nanoseconds == Int64.max)
        #expect(Duration.milliseconds(-9_223_372_036_855).nanoseconds == Int64.min)
        #expect(Duration.milliseconds(1500).nanoseconds == 1_500_000_000)
        #expect(Saturating.multiply(Int64.max, -2) == .min)
        #expect(Saturating.add(Int.max, 1) == .max)
    }

    /// A stored kill timeout near Int64.max (what an older svd accepted): the machine stops the
    /// app with a deadline of "never" instead of trapping, and a SIGKILL still ends it.
    @Test func hugeKillTimeout_neverTraps() {
        var h = Harness(.fixture(killTimeout: .milliseconds(Int64.max)))
        h.send(.startRequested)
        h.clock.advance(by: .seconds(5))
        let effects = h.send(.stopRequested)
        #expect(effects.contains { if case .armTimer(_, let at) = $0 { return at == .distantFuture } else { return false } })
        _ = Backoff.delay(policy: h.machine.spec.policy, unstableRuns: Int.max)
    }

    @Test func incrementVar_countsUpWithoutOverflow() {
        var spec = AppSpec.fixture()
        spec.env = ["PORT": String(Int.max)]
        spec.incrementVar = "PORT"
        #expect(spec.environment(instance: 3)["PORT"] == String(Int.max))
    }
}
