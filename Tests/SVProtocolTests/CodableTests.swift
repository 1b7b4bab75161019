import SVCore
import SVProtocol
import Testing

@Suite struct CodableTests {
    @Test func specRoundTrips() throws {
        var spec = AppSpec(name: "my api", script: "/srv/app.js", cwd: "/srv")
        spec.interpreter = "/usr/bin/node"
        spec.args = ["--port", "80"]
        spec.env = ["A": "1"]
        spec.policy.killTimeout = .milliseconds(1234)
        spec.policy.stopExitCodes = [0, 3]
        spec.policy.killSignal = .term
        spec.outFile = "/var/log/out.log"
        let json = try JSONCoder.encode(spec)
        #expect(json["policy"]?["killTimeoutMs"] == .int(1234))
        #expect(json["errorFile"] == nil)  // absent optionals are left out
        let back = try JSONCoder.decode(AppSpec.self, from: try JSON.parse(json.serialized))
        #expect(back == spec)
    }

    @Test func policyDefaultsFillMissingKeys() throws {
        let policy = try JSONCoder.decode(RestartPolicy.self, from: "{\"maxRestarts\":3}")
        #expect(policy.maxRestarts == 3)
        #expect(policy.killTimeout == .milliseconds(5000))
        #expect(policy.killSignal == .int)
    }

    @Test func wrongTypesAreErrors() {
        #expect(throws: (any Error).self) { try JSONCoder.decode(RestartPolicy.self, from: "{\"maxRestarts\":\"four\"}") }
        #expect(throws: (any Error).self) { try JSONCoder.decode(Int32.self, from: "99999999999") }
    }

    @Test func requestFramesRoundTrip() throws {
        let requests: [Request] = [
            .hello, .ping, .update(svdPath: "/usr/local/bin/svd"), .list, .kill, .stop([.name("api"), .id(AppID(3))]),
            .signal(.usr2, [.all]), .restart(RestartArguments(targets: [.all], updatedEnv: ["A": "b"])),
            .start(StartArguments(specs: [AppSpec(name: "x", script: "/x", cwd: "/")], force: true)),
        ]
        for (n, request) in requests.enumerated() {
            let line = RequestFrame(id: n, request: request).json.serialized
            let back = try RequestFrame(json: try JSON.parse(line))
            #expect(back.id == n)
            #expect(back.request.command == request.command)
            #expect(RequestFrame(id: n, request: back.request).json == RequestFrame(id: n, request: request).json)
        }
    }

    /// The frozen requests keep their wire shape in every version (design.md §6).
    @Test func frozenRequestsWireFormat() {
        #expect(RequestFrame(id: 1, request: .hello).json.serialized == "{\"v\":1,\"id\":1,\"cmd\":\"hello\"}")
        #expect(RequestFrame(id: 2, request: .ping).json.serialized == "{\"v\":1,\"id\":2,\"cmd\":\"ping\"}")
        #expect(
            RequestFrame(id: 3, request: .update(svdPath: "/x/svd")).json.serialized
                == "{\"v\":1,\"id\":3,\"cmd\":\"update\",\"args\":{\"svdPath\":\"/x/svd\"}}")
    }

    @Test func malformedFramesAreErrors() throws {
        #expect(throws: ProtocolError.self) { try RequestFrame(json: try JSON.parse("[]")) }
        #expect(throws: ProtocolError.self) { try RequestFrame(json: try JSON.parse("{\"id\":1,\"cmd\":\"ping\"}")) }
        #expect(throws: ProtocolError.unknownCommand("nope")) {
            try RequestFrame(json: try JSON.parse("{\"v\":1,\"id\":1,\"cmd\":\"nope\"}"))
        }
        #expect(throws: ProtocolError.self) { try RequestFrame(json: try JSON.parse("{\"v\":1,\"id\":1,\"cmd\":\"stop\"}")) }
    }

    @Test func replyRoundTrips() throws {
        let ok = Reply(id: 4, outcome: .success(.array([.int(1)])))
        let back = try Reply(json: try JSON.parse(ok.json.serialized))
        #expect(back.id == 4)
        let failure = Reply(id: 5, outcome: .failure(ReplyError(.notFound, "no app matches 'x'")))
        let parsed = try Reply(json: try JSON.parse(failure.json.serialized))
        guard case .failure(let error) = parsed.outcome else {
            Issue.record("expected a failure")
            return
        }
        #expect(error == ReplyError(.notFound, "no app matches 'x'"))
    }

    @Test func lineBufferSplitsAndCaps() throws {
        var buffer = LineBuffer(limit: 16)
        let lines = try Array("ab\ncd\nef".utf8).withUnsafeBytes { try buffer.append($0) }
        #expect(lines == [Array("ab".utf8), Array("cd".utf8)])
        let rest = try Array("g\n".utf8).withUnsafeBytes { try buffer.append($0) }
        #expect(rest == [Array("efg".utf8)])
        #expect(throws: ProtocolError.tooLarge) {
            try Array(String(repeating: "x", count: 17).utf8).withUnsafeBytes { try buffer.append($0) }
        }
    }
}

@Suite struct AppInfoWireTests {
    /// The hand-written JSON of AppInfo is the Codable one, field for field (the jlist schema).
    @Test func handWrittenJSONMatchesCodable() throws {
        var info = AppInfo(
            id: AppID(7), name: "api", status: .online, desired: .online, restarts: 2, unstableRestarts: 1,
            script: "/srv/api.js", interpreter: "/usr/bin/node", args: ["--port", "80"], cwd: "/srv", outLog: "/o",
            errLog: "/e", lastDecision: "started by user", ready: true)
        info.pid = ProcessID(4242)
        info.startedAtMs = 1_700_000_000_000
        info.uptimeMs = 1234
        info.cpuPercent = 0.5
        info.memoryBytes = 42_000_000
        info.nextRetryInMs = 100
        info.instance = 3
        info.namespace = "shop"
        #expect(info.json == (try JSONCoder.encode(info)))
        #expect(try AppInfo(json: info.json) == info)
        let sparse = AppInfo(
            id: AppID(1), name: "x", status: .stopped, desired: .stopped, restarts: 0, unstableRestarts: 0, script: "/x",
            interpreter: nil, args: [], cwd: "/", outLog: "", errLog: "", lastDecision: "", ready: false)
        #expect(sparse.json == (try JSONCoder.encode(sparse)))
        #expect(try AppInfo(json: try JSONCoder.encode(sparse)) == sparse)
    }

    /// `listRows`: the table's figures as arrays, read back the same; a sparse row has nulls.
    @Test func listRowsRoundTrip() throws {
        var info = AppInfo(
            id: AppID(7), name: "api", status: .online, desired: .online, restarts: 2, unstableRestarts: 1,
            script: "/srv/api.js", interpreter: nil, args: [], cwd: "/srv", outLog: "/o", errLog: "/e", lastDecision: "",
            ready: true)
        info.pid = ProcessID(4242)
        info.uptimeMs = 1234
        info.cpuPercent = 0.5
        info.memoryBytes = 42_000_000
        let row = ListRow(info)
        #expect(row.json.serialized == #"[7,"api",4242,1234,2,"online",0.5,42000000]"#)
        #expect(try ListRow(json: try JSON.parse(Array(row.json.serialized.utf8))) == row)
        let stopped = ListRow(id: AppID(1), name: "x", pid: nil, uptimeMs: nil, restarts: 0, status: .stopped, cpuPercent: nil, memoryBytes: nil)
        #expect(stopped.json.serialized == #"[1,"x",null,null,0,"stopped",null,null]"#)
        #expect(try ListRow(json: stopped.json) == stopped)
        #expect(throws: ProtocolError.self) { try ListRow(json: .array([.int(1)])) }
    }

    /// The hand-built JSON of a start request equals the Codable one, sparse and full.
    @Test func handWrittenStartArgumentsMatchCodable() throws {
        var full = AppSpec(name: "api", script: "/srv/api.js", cwd: "/srv")
        full.args = ["--port", "80"]
        full.interpreter = "/usr/bin/node"
        full.interpreterArgs = ["--max-old-space-size=512"]
        full.capturedEnv = ["HOME": "/root", "PATH": "/usr/bin"]
        full.env = ["PORT": "3000"]
        full.policy.autorestart = false
        full.policy.restartDelay = .milliseconds(250)
        full.policy.killSignal = .term
        full.policy.stopExitCodes = [0, 3]
        full.outFile = "/o"
        full.errorFile = "/e"
        full.time = true
        full.logDateFormat = "YYYY"
        full.logMaxSizeBytes = 1 << 20
        full.logKeep = 3
        full.commandLine = "npm start"
        full.instances = 4
        full.instanceVar = "WORKER"
        full.cronRestart = "0 4 * * *"
        full.maxMemoryBytes = 500 << 20
        full.memoryCheckIntervalMs = 250
        full.watch = ["/srv/src"]
        full.ignoreWatch = ["*.log"]
        full.watchDelayMs = 300
        full.namespace = "shop"
        full.incrementVar = "PORT"
        let sparse = AppSpec(name: "x", script: "/x", cwd: "/")
        for spec in [full, sparse] {
            #expect(spec.json == (try JSONCoder.encode(spec)))
            #expect(try JSONCoder.decode(AppSpec.self, from: spec.json) == spec)
        }
        var arguments = StartArguments(specs: [full, sparse], force: true, ecosystem: true, createOnly: false)
        arguments.sharedCapturedEnv = ["A": "1"]
        #expect(arguments.json == (try JSONCoder.encode(arguments)))
        let plain = StartArguments(specs: [sparse], force: false)
        #expect(plain.json == (try JSONCoder.encode(plain)))
    }
}
