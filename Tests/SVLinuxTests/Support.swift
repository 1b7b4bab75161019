import Glibc
import SVCore
import SVLinux
import SystemPackage
import Testing

/// The directory of the test binary, where SwiftPM also puts `testchild`, `sv` and `svd`.
let binDirectory: String = {
    var buffer = [UInt8](repeating: 0, count: 4096)
    let n = buffer.withUnsafeMutableBytes { readlink("/proc/self/exe", $0.baseAddress!.assumingMemoryBound(to: CChar.self), 4095) }
    let path = String(decoding: buffer[0..<max(n, 0)], as: UTF8.self)
    var parts = path.split(separator: "/").map(String.init)
    // …/debug/svPackageTests.xctest (a file on Linux)
    parts.removeLast()
    return "/" + parts.joined(separator: "/")
}()

let testchild = binDirectory + "/testchild"

/// Polls `condition` until it holds or `seconds` pass (STYLE.md 36).
func eventually(within seconds: Double = 5, _ condition: () -> Bool) -> Bool {
    let deadline = SystemClock.now + .milliseconds(Int64(seconds * 1000))
    while SystemClock.now < deadline {
        if condition() { return true }
        var pause = timespec(tv_sec: 0, tv_nsec: 2_000_000)  // poll interval
        nanosleep(&pause, nil)
    }
    return condition()
}

/// Gone, or a zombie nobody reaps (a container's pid 1 may not).
func isGone(_ pid: Int32) -> Bool {
    guard let stat = Files.readSmall("/proc/\(pid)/stat"), let close = stat.lastIndex(of: UInt8(ascii: ")")) else { return true }
    return stat.count > close + 2 && stat[close + 2] == UInt8(ascii: "Z")
}

func openDescriptors() -> Set<Int32> {
    var out: Set<Int32> = []
    guard let directory = opendir("/proc/self/fd") else { return out }
    let own = dirfd(directory)
    while let entry = readdir(directory) {
        let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        if let fd = Int32(name), fd != own { out.insert(fd) }
    }
    closedir(directory)
    return out
}

/// Reads a pipe until `needle` lines arrived or the deadline passed.
func readLines(_ fd: FileDescriptor, count: Int, within seconds: Double = 5) -> [String] {
    var text: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 4096)
    _ = eventually(within: seconds) {
        let n = chunk.withUnsafeMutableBytes { (try? fd.readAvailable(into: $0)) ?? nil } ?? 0
        if n > 0 { text += chunk[0..<n] }
        return text.filter { $0 == 0x0A }.count >= count
    }
    return text.split(separator: 0x0A).map { String(decoding: $0, as: UTF8.self) }
}

/// Spawns testchild with `arguments`, stdout on a non-blocking pipe the test reads.
func spawnChild(_ arguments: [String], extras: [FileDescriptor] = []) throws -> (ProcessID, Pipe) {
    let out = try Pipe.make(nonblockingRead: true)
    let null = try FileDescriptor.open("/dev/null", .readWrite, options: .closeOnExec)
    defer { null.closeQuietly() }
    let request = SpawnRequest(
        path: testchild, argv: [testchild] + arguments, environment: ["PATH=/usr/bin:/bin"], cwd: "/",
        descriptors: [null, out.write, null] + extras)
    let pid = try Spawner.spawn(request).get()
    out.write.closeQuietly()
    return (pid, Pipe(read: out.read, write: out.read))
}

/// Waits for `pid` to exit and reaps it.
func waitExit(_ pid: ProcessID, within seconds: Double = 5) -> SVCore.ExitStatus? {
    var status: SVCore.ExitStatus?
    _ = eventually(within: seconds) {
        status = Reaper.reap(pid)
        return status != nil
    }
    return status
}
