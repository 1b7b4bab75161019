import Foundation
import SVCore
import SVProtocol
import Testing

/// Instances (issue 6): `-i N`, `instances`, `sv scale`, one id, pid and log pair per
/// instance, `NODE_APP_INSTANCE` / `instance_var`, `increment_var`.
@Suite(.serialized, .timeLimit(.minutes(2)))
struct InstanceTests {
    func read(_ path: String) -> String { (try? String(contentsOfFile: path, encoding: .utf8)) ?? "" }

    /// A node HTTP server on $PORT that answers with its instance index.
    func writeServer(_ sv: Supervisor) throws {
        try sv.file(
            "server.js",
            """
            const port = Number(process.env.PORT);
            require('http').createServer((q, r) => r.end(`instance=${process.env.NODE_APP_INSTANCE} port=${port}`))
              .listen(port, '127.0.0.1', () => console.log('listening ' + port));
            """)
    }

    /// Two consecutive free TCP ports on loopback, the first returned.
    func freePortPair() -> Int {
        while true {
            let base = Int.random(in: 20_000...59_000)
            if isFree(base) && isFree(base + 1) { return base }
        }
    }

    /// `call` (bind or connect) of a new TCP socket with 127.0.0.1:`port`; the socket if it succeeded.
    func loopback(_ port: Int, _ call: (Int32, UnsafePointer<sockaddr>, socklen_t) -> Int32) -> Int32? {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = UInt16(port).bigEndian
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let done = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { call(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0 }
        }
        if done { return fd }
        close(fd)
        return nil
    }

    func isFree(_ port: Int) -> Bool {
        guard let fd = loopback(port, { bind($0, $1, $2) }) else { return false }
        close(fd)
        return true
    }

    /// The body of `GET /` on 127.0.0.1:`port`, or nil when nothing answers.
    func get(_ port: Int) -> String? {
        guard let fd = loopback(port, { connect($0, $1, $2) }) else { return nil }
        defer { close(fd) }
        let request = Array("GET / HTTP/1.0\r\nHost: x\r\n\r\n".utf8)
        guard write(fd, request, request.count) == request.count else { return nil }
        var response: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = recv(fd, &chunk, chunk.count, 0)
            if n <= 0 { break }
            response += chunk[0..<n]
        }
        let text = String(decoding: response, as: UTF8.self)
        return text.components(separatedBy: "\r\n\r\n").last
    }

    @Test func twoHTTPInstancesAnswerOnTwoPortsWithIncrementVar() throws {
        try withSupervisor { (sv: Supervisor) throws in
            try writeServer(sv)
            let port = freePortPair()
            let start = try sv.run(
                ["start", sv.work + "/server.js", "-i", "2", "--increment-var", "PORT", "--env", "PORT=\(port)"])
            #expect(start.status == 0, "\(start.stderr)")
            let apps = try sv.list()
            #expect(apps.map(\.name) == ["server", "server"])
            #expect(apps.map(\.instance) == [0, 1])
            #expect(Set(apps.compactMap(\.pid)).count == 2)
            #expect(eventually { get(port) == "instance=0 port=\(port)" })
            #expect(eventually { get(port + 1) == "instance=1 port=\(port + 1)" })
            // One log pair per instance, named with the id.
            #expect(apps.map(\.outLog) == [sv.home + "/logs/server-1-out.log", sv.home + "/logs/server-2-out.log"])
            #expect(eventually { read(sv.home + "/logs/server-2-out.log").contains("listening \(port + 1)") })
            // A name targets every instance; an id one.
            let pids = try sv.ok("pid", "server").split(separator: "\n")
            #expect(pids.count == 2)
            try sv.ok("restart", "2")
            let after = try sv.list()
            #expect(after[0].restarts == 0 && after[1].restarts == 1)
        }
    }

    @Test func scaleUpAndDown() throws {
        try withSupervisor { (sv: Supervisor) throws in
            try sv.file("idle.js", "console.log('instance ' + process.env.NODE_APP_INSTANCE + ' of ' + process.env.name); setInterval(() => {}, 1000);")
            try sv.ok("start", sv.work + "/idle.js")
            let up = try sv.run(["scale", "idle", "3"])
            #expect(up.status == 0, "\(up.stderr)")
            #expect(up.stdout == "started idle (id 2, instance 1)\nstarted idle (id 3, instance 2)\n", "\(up.stdout)")
            var apps = try sv.list()
            #expect(apps.map(\.instance) == [0, 1, 2])
            #expect(apps.allSatisfy { $0.status == .online })
            #expect(eventually { read(sv.home + "/logs/idle-3-out.log").contains("instance 2 of idle") })
            let pidOfThird = try #require(apps[2].pid)
            // Down: the highest indices go, their processes with them; the reply waits for it.
            let down = try sv.run(["scale", "idle", "-2"])
            #expect(down.status == 0, "\(down.stderr)")
            #expect(down.stdout.contains("deleted idle (id 3, instance 2)"))
            apps = try sv.list()
            #expect(apps.map(\.id) == [AppID(1)])
            #expect(!isAlive(pidOfThird.rawValue))
            // Up again: the freed index is used again, under a new id.
            #expect(try sv.ok("scale", "idle", "+1") == "started idle (id 4, instance 1)\n")
            #expect(try sv.describe("idle").spec.instances == 2)
            #expect(try sv.ok("scale", "idle", "2") == "idle already runs that many instances\n")
            let zero = try sv.run(["scale", "idle", "0"])
            #expect(zero.status == 1)
            #expect(zero.stderr.contains("give 1 or more"))
            let unknown = try sv.run(["scale", "nope", "2"])
            #expect(unknown.status == 1)
            #expect(unknown.stderr.contains("no app named 'nope'"))
            #expect(try sv.run(["scale", "idle", "many"]).status == 64)
        }
    }

    @Test func ecosystemInstancesInstanceVarAndScalingByTheFile() throws {
        try withSupervisor { (sv: Supervisor) throws in
            try sv.file("show.js", "console.log('WORKER=' + process.env.WORKER + ' SLOT=' + process.env.SLOT); setInterval(() => {}, 1000);")
            func write(_ instances: Int) throws -> String {
                try sv.file(
                    "eco.json",
                    """
                    {"apps": [{"name": "w", "script": "show.js", "instances": \(instances), "instance_var": "WORKER",
                      "increment_var": "SLOT", "env": {"SLOT": "10"}}]}
                    """)
            }
            let file = try write(3)
            let first = try sv.run(["start", file])
            #expect(first.status == 0, "\(first.stderr)")
            #expect(first.stdout.contains("started w (id 3, instance 2)"))
            #expect(eventually { read(sv.home + "/logs/w-3-out.log").contains("WORKER=2 SLOT=12") })
            #expect(eventually { read(sv.home + "/logs/w-1-out.log").contains("WORKER=0 SLOT=10") })
            // The file says 2 now: the running ones restart, the extra one goes.
            let second = try sv.run(["start", try write(2)])
            #expect(second.status == 0, "\(second.stderr)")
            #expect(second.stdout.contains("restarted w (id 1, instance 0)"))
            #expect(second.stdout.contains("deleted w (id 3, instance 2)"))
            #expect(try sv.list().map(\.id) == [AppID(1), AppID(2)])
            // Without an instances key, a running count stays (sv scale is not undone by a deploy).
            try sv.file("eco2.json", "{\"apps\": [{\"name\": \"w\", \"script\": \"show.js\", \"env\": {\"SLOT\": \"10\"}}]}")
            try sv.ok("startOrRestart", sv.work + "/eco2.json")
            #expect(try sv.list().count == 2)
        }
    }

    @Test func instanceErrorsStartNothing() throws {
        try withSupervisor { (sv: Supervisor) throws in
            try sv.file("show.js", "setInterval(() => {}, 1000);")
            try sv.file("bad.json", "{\"apps\": [{\"name\": \"api\", \"script\": \"show.js\"}, {\"name\": \"w\", \"script\": \"show.js\", \"instances\": \"four\"}]}")
            let type = try sv.run(["start", sv.work + "/bad.json"])
            #expect(type.status == 1)
            #expect(type.stderr.contains("apps[1] (w).instances: expected a number or \"max\", got \"four\""), "\(type.stderr)")
            try sv.file("inc.json", "{\"apps\": [{\"name\": \"w\", \"script\": \"show.js\", \"instances\": 2, \"increment_var\": \"PORT\", \"env\": {\"PORT\": \"http\"}}]}")
            let increment = try sv.run(["start", sv.work + "/inc.json"])
            #expect(increment.status == 1)
            #expect(increment.stderr.contains("apps[0] (w).increment_var: increment_var 'PORT' must hold an integer"), "\(increment.stderr)")
            let cli = try sv.run(["start", sv.work + "/show.js", "-i", "2", "--increment-var", "NOPE_X"])
            #expect(cli.status == 1)
            #expect(cli.stderr.contains("increment_var 'NOPE_X' is not in the app's environment"), "\(cli.stderr)")
            #expect(try sv.run(["start", sv.work + "/show.js", "-i", "lots"]).status == 64)
            #expect(try sv.list().isEmpty)
        }
    }

    @Test func maxIsOnePerCPUAndInstancesSurviveSaveAndResurrect() throws {
        try withSupervisor { (sv: Supervisor) throws in
            try sv.file("show.js", "setInterval(() => {}, 1000);")
            try sv.ok("start", sv.work + "/show.js", "-i", "max")
            let cpus = Int(sysconf(Int32(_SC_NPROCESSORS_ONLN)))
            #expect(try sv.list().count == cpus)
            try sv.ok("save")
            try sv.ok("delete", "2")
            let back = try sv.run(["resurrect"])
            #expect(back.status == 0, "\(back.stderr)")
            let apps = try sv.list()
            #expect(apps.count == cpus)
            #expect(Set(apps.map(\.instance)) == Set(0..<cpus))
            // Again: nothing is created twice.
            try sv.ok("resurrect")
            #expect(try sv.list().count == cpus)
            // svd dies and comes back: the same instances, indices kept.
            for pid in sv.daemonPids() { kill(pid, SIGKILL) }
            #expect(eventually(within: 10) { (try? sv.list().filter { $0.status == .online }.count) == cpus })
            #expect(Set(try sv.list().map(\.instance)) == Set(0..<cpus))
        }
    }

    @Test func negativeCountsGivenLogPathsAndChecksOnEveryPath() throws {
        try withSupervisor { (sv: Supervisor) throws in
            try sv.file("show.js", "console.log('up ' + process.env.NODE_APP_INSTANCE); setInterval(() => {}, 1000);")
            let cpus = Int(sysconf(Int32(_SC_NPROCESSORS_ONLN)))
            let minusOne = try sv.run(["start", sv.work + "/show.js", "-i", "-1", "--name", "minus"])
            #expect(minusOne.status == 0, "\(minusOne.stderr)")
            #expect(try sv.list().filter { $0.name == "minus" }.count == max(cpus - 1, 1))
            // -o/-e with several instances: the id goes into each file's name (pm2 does the same).
            let given = try sv.run(["start", sv.work + "/show.js", "-i", "2", "--name", "given", "-o", sv.work + "/given.log"])
            #expect(given.status == 0, "\(given.stderr)")
            let logs = try sv.list().filter { $0.name == "given" }.map(\.outLog)
            #expect(logs.count == 2)
            #expect(logs.allSatisfy { $0.hasPrefix(sv.work + "/given-") && $0.hasSuffix(".log") }, "\(logs)")
            #expect(eventually { logs.allSatisfy { read($0).contains("up ") } })
            // A stopped name started again with a bad increment_var: refused, nothing starts.
            try sv.ok("stop", "given")
            let bad = try sv.run(["start", sv.work + "/show.js", "--name", "given", "--increment-var", "NOPE_Y"])
            #expect(bad.status == 1)
            #expect(bad.stderr.contains("increment_var 'NOPE_Y' is not in the app's environment"), "\(bad.stderr)")
            #expect(try sv.list().filter { $0.name == "given" }.allSatisfy { $0.status == .stopped })
        }
    }
}
