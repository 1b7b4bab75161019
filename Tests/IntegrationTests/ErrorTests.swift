import Foundation
import SVCore
import SVProtocol
import Testing

@Suite(.serialized, .timeLimit(.minutes(2)))
struct ErrorTests {
    @Test func unknownTargetIsOneClearLine() throws {
        try withSupervisor { (sv: Supervisor) throws in
            let result = try sv.sv("stop", "apii")
            #expect(result.status == 1)
            #expect(result.stderr == "sv: no app matches 'apii' (run 'sv list' to see names and ids)\n")
        }
    }

    @Test func missingScript() throws {
        try withSupervisor { (sv: Supervisor) throws in
            let result = try sv.sv("start", "nope.js")
            #expect(result.status == 1)
            #expect(result.stderr.contains("No such file or directory"))
            #expect(result.stderr.split(separator: "\n").count == 1)
        }
    }

    @Test func nonExecutableBinary() throws {
        try withSupervisor { (sv: Supervisor) throws in
            let path = try sv.file("tool", "#!/bin/sh\necho hi\n")
            let result = try sv.sv("start", path)
            #expect(result.status == 1)
            #expect(result.stderr.contains("Permission denied"))
        }
    }

    @Test func nameAlreadyOnlineNeedsForce() throws {
        try withSupervisor { (sv: Supervisor) throws in
            try sv.ok("start", testchild, "--name", "dup", "--", "forever")
            let again = try sv.sv("start", testchild, "--name", "dup", "--", "forever")
            #expect(again.status == 1)
            #expect(again.stderr.contains("already online"))
            #expect(again.stderr.contains("--force"))
            try sv.ok("start", testchild, "--name", "dup", "--force", "--", "forever")
            #expect(try sv.list().filter { $0.name == "dup" }.count == 2)
        }
    }

    @Test(arguments: ["all", "123", ".hidden", "a/b"])
    func forbiddenNamesAreUsageErrors(name: String) throws {
        try withSupervisor { (sv: Supervisor) throws in
            let result = try sv.sv("start", testchild, "--name", name)
            #expect(result.status == 64)
            #expect(result.stderr.contains("invalid --name"))
        }
    }

    @Test func notBuiltYetCommandsRefuse() throws {
        try withSupervisor { (sv: Supervisor) throws in
            let reload = try sv.sv("reload", "all")
            #expect(reload.status == 1)
            #expect(reload.stderr.contains("not built yet"))
            let waitReady = try sv.sv("start", testchild, "--wait-ready")
            #expect(waitReady.status == 1)
            #expect(waitReady.stderr.contains("not built yet"))
            #expect(try sv.list().isEmpty)
        }
    }

    @Test func helpAndVersionNeverStartADaemon() throws {
        try withSupervisor { (sv: Supervisor) throws in
            #expect(try sv.sv("--help").status == 0)
            #expect(try sv.sv("--version").stdout == "sv \(svVersion)\n")
            #expect(sv.daemonPids().isEmpty)
        }
    }

    @Test func badUsageExits64() throws {
        try withSupervisor { (sv: Supervisor) throws in
            #expect(try sv.sv("stop").status == 64)
            #expect(try sv.sv("frobnicate").status == 64)
            #expect(try sv.sv("start", testchild, "--kill-signal", "SIGNOPE").status == 64)
        }
    }

    /// A malformed or oversized frame gets an error reply and a closed connection; svd goes on.
    @Test func malformedAndOversizedFrames() throws {
        try withSupervisor { (sv: Supervisor) throws in
            try sv.ok("ping")
            let garbage = try rawExchange(socket: sv.home + "/svd.sock", Array("this is not json\n".utf8))
            #expect(garbage.contains("\"ok\":false"))
            #expect(garbage.contains("bad_request"))
            let unknown = try rawExchange(socket: sv.home + "/svd.sock", Array("{\"v\":1,\"id\":9,\"cmd\":\"explode\"}\n".utf8))
            #expect(unknown.contains("unknown command"))
            let huge = [UInt8](repeating: UInt8(ascii: "x"), count: (1 << 20) + 10)
            let oversized = try rawExchange(socket: sv.home + "/svd.sock", huge)
            #expect(oversized.contains("larger than"))
            #expect(try sv.ok("ping").contains("svd"))
        }
    }

    @Test func socketAndHomeModes() throws {
        try withSupervisor { (sv: Supervisor) throws in
            try sv.ok("ping")
            let home = try FileManager.default.attributesOfItem(atPath: sv.home)[.posixPermissions] as? Int
            let socket = try FileManager.default.attributesOfItem(atPath: sv.home + "/svd.sock")[.posixPermissions] as? Int
            #expect(home == 0o700)
            #expect(socket == 0o600)
        }
    }
}

/// Writes `bytes` to the control socket and reads until svd closes the connection.
func rawExchange(socket path: String, _ bytes: [UInt8], untilClose: Bool = true) throws -> String {
    let fd = Glibc.socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { throw CLIFailure("socket failed") }
    defer { close(fd) }
    var address = sockaddr_un()
    address.sun_family = sa_family_t(AF_UNIX)
    withUnsafeMutableBytes(of: &address.sun_path) { raw in
        for (i, byte) in path.utf8.enumerated() { raw[i] = byte }
    }
    let connected = withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
    }
    guard connected == 0 else { throw CLIFailure("connect failed") }
    var timeout = timeval(tv_sec: 5, tv_usec: 0)
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    var offset = 0
    while offset < bytes.count {
        let n = bytes[offset...].withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
        if n <= 0 { break }  // svd may close early on an oversized frame
        offset += n
    }
    var reply: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 4096)
    while true {
        let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
        if n <= 0 { break }
        reply += chunk[0..<n]
        if !untilClose && reply.last == 0x0A { break }
    }
    return String(decoding: reply, as: UTF8.self)
}

@Suite(.serialized, .timeLimit(.minutes(2)))
struct MoreBehaviourTests {
    @Test func deleteNamesWhatItDeleted() throws {
        try withSupervisor { (sv: Supervisor) throws in
            try sv.ok("start", testchild, "--name", "gone", "--", "forever")
            #expect(try sv.ok("delete", "gone") == "deleted gone (id 1)\n")
            #expect(try sv.list().isEmpty)
        }
    }

    /// A name may hold a dot: `sv start api.v2` starts that app, it is not read as a file.
    @Test func startByNameWithADot() throws {
        try withSupervisor { (sv: Supervisor) throws in
            try sv.ok("start", testchild, "--name", "api.v2", "--", "forever")
            try sv.ok("stop", "api.v2")
            try sv.ok("start", "api.v2")
            #expect(try sv.app("api.v2")?.status == .online)
            let missing = try sv.sv("start", "server.js")
            #expect(missing.status == 1)
            #expect(missing.stderr.contains("No such file or directory"))
        }
    }

    @Test func erroredAppCanBeStartedAgainFromItsFile() throws {
        try withSupervisor { (sv: Supervisor) throws in
            try sv.ok("start", testchild, "--name", "bad", "--max-restarts", "1", "--", "exit", "1")
            #expect(try eventually { try sv.app("bad")?.status == .errored })
            try sv.ok("start", testchild, "--name", "bad", "--", "forever")
            let apps = try sv.list()
            #expect(apps.count == 1)
            #expect(apps.first?.status == .online)
        }
    }

    @Test func sameNameWithForceGetsItsOwnLogFiles() throws {
        try withSupervisor { (sv: Supervisor) throws in
            try sv.ok("start", testchild, "--name", "twin", "--", "forever")
            try sv.ok("start", testchild, "--name", "twin", "--force", "--", "forever")
            let logs = Set(try sv.list().map(\.outLog))
            #expect(logs == [sv.home + "/logs/twin-out.log", sv.home + "/logs/twin-2-out.log"])
        }
    }

    @Test func relativeScriptIsResolvedAgainstTheCallersDirectory() throws {
        try withSupervisor { (sv: Supervisor) throws in
            try sv.file("rel.js", "setInterval(() => {}, 1000);")
            let result = try sv.sv("start", "rel.js", cwd: sv.work)
            #expect(result.status == 0)
            #expect(try sv.app("rel")?.script == sv.work + "/rel.js")
            #expect(try sv.app("rel")?.cwd == sv.work)
        }
    }

    /// A request of another protocol version gets "run `sv update`", even when its arguments
    /// would not parse here; the frozen requests are still served.
    @Test func otherProtocolVersions() throws {
        try withSupervisor { (sv: Supervisor) throws in
            try sv.ok("ping")
            let socket = sv.home + "/svd.sock"
            let newer = try rawExchange(socket: socket, Array("{\"v\":2,\"id\":4,\"cmd\":\"teleport\",\"args\":{}}\n".utf8), untilClose: false)
            #expect(newer.contains("version_mismatch"))
            #expect(newer.contains("run `sv update`"))
            let ping = try rawExchange(socket: socket, Array("{\"v\":2,\"id\":5,\"cmd\":\"ping\"}\n".utf8), untilClose: false)
            #expect(ping.contains("\"ok\":true"))
            #expect(ping.contains("execGeneration"))
        }
    }

    /// Apps get the umask of whoever started svd, not svd's own 077.
    @Test func appsGetTheCallersUmask() throws {
        try withSupervisor { (sv: Supervisor) throws in
            try sv.ok("start", "/bin/sh", "--name", "mask", "--", "-c", "umask; sleep 60")
            let out = sv.home + "/logs/mask-out.log"
            var text = ""
            #expect(eventually {
                text = (try? String(contentsOfFile: out, encoding: .utf8)) ?? ""
                return !text.isEmpty
            })
            let expected = umask(0o022)
            umask(expected)
            #expect(text.trimmingCharacters(in: .whitespacesAndNewlines) == String(format: "%04o", expected))
        }
    }
}
