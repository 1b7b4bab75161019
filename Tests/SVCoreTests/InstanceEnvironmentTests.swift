import SVCore
import Testing

/// What each instance of a name gets in its environment (pure: AppSpec).
@Suite struct InstanceEnvironmentTests {
    func spec() -> AppSpec {
        var spec = AppSpec(name: "api", script: "/srv/api.js", cwd: "/srv")
        spec.capturedEnv = ["PORT": "1", "HOME": "/root"]
        spec.env = ["PORT": "3000"]
        return spec
    }

    @Test func indexGoesToNodeAppInstanceOrInstanceVar() {
        var spec = spec()
        #expect(spec.environment(instance: 2)["NODE_APP_INSTANCE"] == "2")
        spec.instanceVar = "WORKER_ID"
        let env = spec.environment(instance: 1)
        #expect(env["WORKER_ID"] == "1")
        #expect(env["NODE_APP_INSTANCE"] == nil)
        #expect(env["HOME"] == "/root")
    }

    @Test func incrementVarCountsUpFromTheExplicitValue() {
        var spec = spec()
        spec.incrementVar = "PORT"
        #expect(spec.incrementProblem == nil)
        #expect((0..<3).map { spec.environment(instance: $0)["PORT"] } == ["3000", "3001", "3002"])
    }

    @Test func incrementVarNeedsAnInteger() {
        var spec = spec()
        spec.incrementVar = "MISSING"
        #expect(spec.incrementProblem?.contains("is not in the app's environment") == true)
        spec.env["PORT"] = "http"
        spec.incrementVar = "PORT"
        #expect(spec.incrementProblem?.contains("must hold an integer") == true)
        // Never applied half-way: the value stays as it is.
        #expect(spec.environment(instance: 1)["PORT"] == "http")
    }

    @Test func countIsAtLeastOne() {
        var spec = spec()
        #expect(spec.instanceCount == 1)
        spec.instances = 4
        #expect(spec.instanceCount == 4)
        spec.instances = 0
        #expect(spec.instanceCount == 1)
    }
}
