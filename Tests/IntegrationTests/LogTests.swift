import Foundation
import SVCore
import SVProtocol
import Testing

@Suite(.serialized, .timeLimit(.minutes(2)))
struct LogTests {
    func read(_ path: String) -> String { (try? String(contentsOfFile: path, encoding: .utf8)) ?? "" }

    /// The current file and its rotated ones, oldest first, as one text.
    func concatenated(_ path: String) -> String {
        let directory = (path as NSString).deletingLastPathComponent
        let base = (path as NSString).lastPathComponent
        let rotated = ((try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? [])
            .filter { $0.hasPrefix(base + ".") }
            .compactMap { name in Int(name.dropFirst(base.count + 1)).map { ($0, name) } }
            .sorted { $0.0 > $1.0 }
        return rotated.map { read(directory + "/" + $0.1) }.joined() + read(path)
    }

    @Test func timestampsOnEveryLineOfBothStreams() throws {
        try withSupervisor { (sv: Supervisor) throws in
            // A line written in two parts ("split" … "line") must get one timestamp.
            let app = try sv.file(
                "stamps.js",
                "console.log('one'); console.error('two'); process.stdout.write('split '); setTimeout(() => { process.stdout.write('line\\n'); console.log('three'); }, 100); setInterval(() => {}, 1000);"
            )
            try sv.ok("start", app, "--time", "--log-date-format", "YYYY-MM-DD HH:mm:ss")
            let out = sv.home + "/logs/stamps-out.log"
            #expect(eventually { read(out).contains("three") })
            let lines = read(out).split(separator: "\n") + read(sv.home + "/logs/stamps-err.log").split(separator: "\n")
            #expect(lines.count == 4)
            for line in lines { #expect(Self.isStamped(line), "\(line)") }
            #expect(lines.contains { $0.hasSuffix(": split line") })
        }
    }

    /// "2026-12-01 08:15:00: …"
    static func isStamped(_ line: Substring) -> Bool {
        let shape = Array("dddd-dd-dd dd:dd:dd: ".utf8)
        let bytes = Array(line.utf8)
        guard bytes.count >= shape.count else { return false }
        for (b, s) in zip(bytes, shape) {
            if s == UInt8(ascii: "d") { if !(b >= 48 && b <= 57) { return false } } else if b != s { return false }
        }
        return true
    }

    @Test(arguments: [false, true])
    func rotationKeepsEveryLineInOrder(time: Bool) throws {
        try withSupervisor { (sv: Supervisor) throws in
            var arguments = ["start", testchild, "--name", "flood", "--log-max-size", "64K", "--log-keep", "50"]
            if time { arguments.append("--time") }
            let started = try sv.run(arguments + ["--", "lines", "40000", "print", "done", "forever"])
            #expect(started.status == 0, "\(started.stderr)")
            let out = sv.home + "/logs/flood-out.log"
            #expect(eventually(within: 20) { concatenated(out).hasSuffix("done\n") })
            let lines = concatenated(out).split(separator: "\n").map { line -> Substring in
                guard time, let colon = line.range(of: ": ") else { return line }
                return line[colon.upperBound...]
            }
            #expect(lines.count == 40001)
            #expect(lines.dropLast().enumerated().allSatisfy { $0.element == "line \($0.offset + 1)" })
            let rotated = (try FileManager.default.contentsOfDirectory(atPath: sv.home + "/logs")).filter { $0.hasPrefix("flood-out.log.") }
            #expect(rotated.count > 3)
            // No file beyond the size by more than one write.
            let current = (try FileManager.default.attributesOfItem(atPath: out)[.size] as? Int) ?? 0
            #expect(current < 64 * 1024 + 300 * 1024)
        }
    }

    @Test func rotationDropsTheOldestBeyondKeep() throws {
        try withSupervisor { (sv: Supervisor) throws in
            try sv.ok("start", testchild, "--name", "small", "--log-max-size", "4K", "--log-keep", "2", "--", "lines", "5000", "print", "done", "forever")
            let out = sv.home + "/logs/small-out.log"
            #expect(eventually(within: 20) { concatenated(out).hasSuffix("done\n") })
            let names = (try FileManager.default.contentsOfDirectory(atPath: sv.home + "/logs")).filter { $0.hasPrefix("small-out.log") }.sorted()
            #expect(names == ["small-out.log", "small-out.log.1", "small-out.log.2"])
        }
    }

    @Test func flushEmptiesInPlace() throws {
        try withSupervisor { (sv: Supervisor) throws in
            let app = try sv.file("ticker.js", "let n = 0; setInterval(() => console.log('tick ' + n++), 20);")
            try sv.ok("start", app)
            let out = sv.home + "/logs/ticker-out.log"
            #expect(eventually { read(out).contains("tick 5") })
            try sv.ok("flush", "ticker")
            // The app's descriptor still works: new lines land at the start of the emptied file.
            #expect(eventually { read(out).hasPrefix("tick ") && !read(out).contains("tick 1\n") })
            #expect(!read(out).contains("tick 0\n"))
        }
    }

    @Test func fullDiskLogKeepsTheAppRunningAndCountsTheDrop() throws {
        try withSupervisor { (sv: Supervisor) throws in
            try sv.ok("start", testchild, "--name", "full", "-o", "/dev/full", "--", "lines", "100", "forever")
            #expect(try eventually {
                let detail = try JSONCoder.decode([JSON].self, from: try sv.ok("describe", "full", "--json")).first
                return (detail?["droppedLogBytes"]?.intValue ?? 0) > 0
            })
            #expect(try sv.app("full")?.status == .online)
            #expect(try sv.app("full")?.restarts == 0)
            #expect(try sv.ok("describe", "full").contains("No space left on device"))
        }
    }

    @Test func fifoAsLogPathIsRefused() throws {
        try withSupervisor { (sv: Supervisor) throws in
            let fifo = sv.work + "/pipe"
            #expect(mkfifo(fifo, 0o600) == 0)
            let result = try sv.sv("start", testchild, "--name", "ff", "-o", fifo, "--", "forever")
            #expect(result.status == 1)
            #expect(result.stderr.contains("is a FIFO"))
            #expect(try sv.list().isEmpty)
        }
    }

    @Test func unopenableLogPathIsAClearError() throws {
        try withSupervisor { (sv: Supervisor) throws in
            let result = try sv.sv("start", testchild, "--name", "x", "-e", "/nonexistent/dir/err.log", "--", "forever")
            #expect(result.status == 1)
            #expect(result.stderr.contains("/nonexistent/dir/err.log"))
            #expect(result.stderr.contains("No such file or directory"))
        }
    }

    /// logrotate moves the file, then runs `sv reload-logs`: new lines go to a new file.
    @Test func reloadLogsReopensMovedFiles() throws {
        try withSupervisor { (sv: Supervisor) throws in
            let app = try sv.file("ticker.js", "let n = 0; setInterval(() => console.log('tick ' + n++), 20);")
            try sv.ok("start", app)
            let out = sv.home + "/logs/ticker-out.log"
            #expect(eventually { read(out).contains("tick 3") })
            #expect(rename(out, out + ".moved") == 0)
            #expect(try sv.ok("reload-logs").contains("reopened 2"))
            #expect(eventually { read(out).contains("tick ") })
            #expect(try sv.sv("reloadLogs").status == 0)
        }
    }
}
