import SVCore
import Testing

@Suite struct BackoffTests {
    @Test(arguments: [
        (0, 0), (1, 100), (2, 200), (3, 400), (4, 800), (5, 1600), (6, 3200), (7, 6400), (8, 12800), (9, 15000),
        (10, 15000), (40, 15000),
    ])
    func stepDoublesAndCaps(unstableRuns: Int, expectedMs: Int64) {
        #expect(Backoff.step(first: .milliseconds(100), unstableRuns: unstableRuns) == .milliseconds(expectedMs))
    }

    @Test func stepIsZeroWhenBackoffIsOff() {
        #expect(Backoff.step(first: .zero, unstableRuns: 5) == .zero)
    }

    @Test(arguments: [(0, 1, 100), (2000, 1, 2000), (2000, 6, 3200), (500, 3, 500), (0, 0, 0)])
    func delayIsTheLargerOfRestartDelayAndStep(restartDelayMs: Int64, unstableRuns: Int, expectedMs: Int64) {
        var policy = RestartPolicy()
        policy.restartDelay = .milliseconds(restartDelayMs)
        #expect(Backoff.delay(policy: policy, unstableRuns: unstableRuns) == .milliseconds(expectedMs))
    }
}
