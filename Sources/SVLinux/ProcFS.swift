import CShims
import Glibc
import SVCore

/// Readings from `/proc/PID`: cheap per-process figures for `list` (design.md §7b).
public enum ProcFS {
    public struct Usage: Sendable, Equatable {
        /// CPU time (user + system) in clock ticks.
        public var cpuTicks: UInt64
        /// Start time after boot in clock ticks.
        public var startTicks: UInt64
        /// Resident memory in bytes.
        public var residentBytes: UInt64
        public var sessionID: Int32
    }

    static let ticksPerSecond = UInt64(max(sv_clock_ticks(), 1))
    static let pageSize = UInt64(max(sv_page_size(), 4096))

    /// Reads `/proc/PID/stat` (one read: `list` does this for every app); nil when the process is gone.
    public static func usage(of pid: ProcessID) -> Usage? {
        stat(of: pid.rawValue).map {
            Usage(
                cpuTicks: $0.utime + $0.stime, startTicks: $0.startTicks, residentBytes: $0.rssPages * pageSize,
                sessionID: $0.session)
        }
    }

    /// The fields of `/proc/PID/stat` svd reads.
    public struct Stat: Sendable, Equatable {
        public var state: UInt8 = 0
        public var parent: Int32 = 0
        public var group: Int32 = 0
        public var session: Int32 = 0
        public var utime: UInt64 = 0
        public var stime: UInt64 = 0
        public var startTicks: UInt64 = 0
        public var rssPages: UInt64 = 0
        public var threads: UInt64 = 0
    }

    /// `/proc/PID/stat` read into a stack buffer and parsed in one pass (no allocation but the
    /// path): `list` of 1,000 apps and the memory-limit scan read one per process.
    public static func stat(of pid: Int32) -> Stat? {
        let fd = open("/proc/\(pid)/stat", O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { Glibc.close(fd) }
        return stat(reading: fd)
    }

    /// `stat` read again from a descriptor kept open on it (`pread` at 0 makes the kernel
    /// produce it anew): no path lookup, no open or close.
    public static func stat(reading fd: Int32) -> Stat? {
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 1024) { buffer -> Stat? in
            var n: Int
            repeat { n = pread(fd, buffer.baseAddress, buffer.count, 0) } while n < 0 && errno == EINTR
            guard n > 0 else { return nil }
            return parseStat(UnsafeBufferPointer(rebasing: buffer[0..<n]))
        }
    }

    /// A leader's `stat` and main thread's `children`, opened once per run and read again by
    /// every `list` (1,000 apps: 4,000 opens and closes less per list).
    public struct LeaderFiles: Sendable {
        public let pid: Int32
        public let stat: Int32
        public let children: Int32

        public init?(pid: Int32) {
            let stat = open("/proc/\(pid)/stat", O_RDONLY | O_CLOEXEC)
            guard stat >= 0 else { return nil }
            let children = open("/proc/\(pid)/task/\(pid)/children", O_RDONLY | O_CLOEXEC)
            guard children >= 0 else {
                Glibc.close(stat)
                return nil
            }
            (self.pid, self.stat, self.children) = (pid, stat, children)
        }

        public func close() {
            Glibc.close(stat)
            Glibc.close(children)
        }
    }

    /// Parses the text of `/proc/PID/stat`. The command name may hold spaces and parentheses:
    /// fields are counted from the last ')'.
    public static func parseStat(_ bytes: UnsafeBufferPointer<UInt8>) -> Stat? {
        guard var i = bytes.lastIndex(of: UInt8(ascii: ")")) else { return nil }
        i += 2  // ") "
        var stat = Stat()
        var field = 3
        var value: UInt64 = 0
        while i <= bytes.count {
            let byte = i < bytes.count ? bytes[i] : UInt8(ascii: " ")
            if byte == UInt8(ascii: " ") || byte == 0x0A {
                switch field {
                case 4: stat.parent = Int32(truncatingIfNeeded: value)
                case 5: stat.group = Int32(truncatingIfNeeded: value)
                case 6: stat.session = Int32(truncatingIfNeeded: value)
                case 14: stat.utime = value
                case 15: stat.stime = value
                case 20: stat.threads = value
                case 22: stat.startTicks = value
                case 24:
                    stat.rssPages = value
                    return stat
                default: break
                }
                field += 1
                value = 0
            } else if field == 3 {
                stat.state = byte
            } else if byte >= 48 && byte <= 57 {
                value = value &* 10 &+ UInt64(byte - 48)
            }
            i += 1
        }
        return field > 6 ? stat : nil
    }

    /// Seconds since boot, from `/proc/uptime`, in clock ticks.
    public static func uptimeTicks() -> UInt64? {
        guard let bytes = Files.readSmall("/proc/uptime") else { return nil }
        var seconds: UInt64 = 0
        var hundredths: UInt64 = 0
        var afterDot = false
        var digits = 0
        for b in bytes {
            if b == UInt8(ascii: ".") {
                afterDot = true
            } else if b >= 48 && b <= 57 {
                if afterDot {
                    if digits < 2 { hundredths = hundredths * 10 + UInt64(b - 48) }
                    digits += 1
                } else {
                    seconds = seconds * 10 + UInt64(b - 48)
                }
            } else {
                break
            }
        }
        return seconds * ticksPerSecond + hundredths * ticksPerSecond / 100
    }

    /// Average CPU % over the process's life: its CPU ticks over its elapsed ticks.
    public static func cpuPercent(_ usage: Usage, uptimeTicks: UInt64) -> Double {
        guard uptimeTicks > usage.startTicks else { return 0 }
        let elapsed = Double(uptimeTicks - usage.startTicks)
        return (Double(usage.cpuTicks) / elapsed * 1000).rounded() / 10
    }
}

extension ProcFS {
    /// This boot's id (`/proc/sys/kernel/random/boot_id`): a pid recorded under another boot
    /// names some other process.
    public static func bootID() -> String {
        guard let bytes = Files.readSmall("/proc/sys/kernel/random/boot_id") else { return "unknown" }
        return String(decoding: bytes.prefix { $0 != 0x0A }, as: UTF8.self)
    }

    /// The executable of `pid` (`/proc/PID/exe`), nil when it is gone or not ours to read.
    public static func executable(of pid: ProcessID) -> String? {
        var buffer = [UInt8](repeating: 0, count: 4096)
        let n = buffer.withUnsafeMutableBytes { raw in
            readlink("/proc/\(pid.rawValue)/exe", raw.baseAddress!.assumingMemoryBound(to: CChar.self), 4095)
        }
        guard n > 0 else { return nil }
        return String(decoding: buffer[0..<n], as: UTF8.self)
    }
}

extension ProcFS {
    /// Of `groups`, those with at least one live (not zombie) member: one scan of `/proc`.
    /// A zombie whose parent has not reaped it yet (another parent than svd) does not count.
    public static func groupsWithLiveMembers(_ groups: Set<Int32>) -> Set<Int32> {
        guard !groups.isEmpty else { return [] }
        var live: Set<Int32> = []
        forEachLiveProcess { _, stat in
            if groups.contains(stat.group) { live.insert(stat.group) }
        }
        return live
    }

    /// Every process of `/proc` that is not a zombie, with its `stat`: one pass, each name read
    /// in place and parsed as a pid without making a String of it.
    static func forEachLiveProcess(_ body: (Int32, Stat) -> Void) {
        guard let directory = opendir("/proc") else { return }
        defer { closedir(directory) }
        while let entry = readdir(directory) {
            var pid: Int32 = 0
            for byte in Directory.name(of: entry) {
                guard byte >= 48 && byte <= 57 else {
                    pid = 0
                    break
                }
                pid = pid &* 10 &+ Int32(byte - 48)
            }
            guard pid > 0, let stat = stat(of: pid), stat.state != UInt8(ascii: "Z") else { continue }
            body(pid, stat)
        }
    }
}

extension ProcFS {
    /// What the processes of one session use together: the app's whole tree as long as no
    /// child called `setsid` (design.md §7b).
    public struct SessionTotals: Sendable, Equatable {
        public var residentBytes: UInt64 = 0
        public var cpuTicks: UInt64 = 0
        public var processes = 0
        /// The session leader's start time (clock ticks after boot), for CPU % over its life.
        public var leaderStartTicks: UInt64 = 0

        /// Counts one live process of the tree.
        mutating func add(_ stat: Stat, isLeader: Bool) {
            residentBytes += stat.rssPages * ProcFS.pageSize
            cpuTicks += stat.utime + stat.stime
            processes += 1
            if isLeader { leaderStartTicks = stat.startTicks }
        }

        /// CPU % of the tree: its CPU time over the leader's life.
        public func cpuPercent(uptimeTicks: UInt64) -> Double {
            ProcFS.cpuPercent(Usage(cpuTicks: cpuTicks, startTicks: leaderStartTicks, residentBytes: 0, sessionID: 0), uptimeTicks: uptimeTicks)
        }
    }

    /// The totals of each leader's process tree: the leader and its descendants that stayed in
    /// its session, found through `/proc/PID/task/TID/children` (one file per thread). Cheaper
    /// than a scan of all of /proc when the machine runs many other processes: `list` uses it.
    public static func treeTotals(of leaders: [(pid: Int32, files: LeaderFiles?)]) -> [Int32: SessionTotals] {
        var out: [Int32: SessionTotals] = [:]
        for (leader, files) in leaders {
            var totals = SessionTotals()
            var queue = [leader]
            var seen: Set<Int32> = []
            while let pid = queue.popLast() {
                let kept = pid == leader ? files : nil
                let read = kept.map { stat(reading: $0.stat) } ?? stat(of: pid)
                guard seen.insert(pid).inserted, let stat = read, stat.state != UInt8(ascii: "Z") else { continue }
                // One that called setsid is not the app's any more.
                guard pid == leader || stat.session == leader else { continue }
                totals.add(stat, isLeader: pid == leader)
                if let kept, stat.threads <= 1 {
                    queue += parsePids(childrenFile(kept.children, pread: true) ?? [])
                } else {
                    queue += children(of: pid, threads: stat.threads)
                }
            }
            if totals.processes > 0 { out[leader] = totals }
        }
        return out
    }

    /// The children of every thread of `pid` (a single-threaded process has one file to read).
    static func children(of pid: Int32, threads: UInt64) -> [Int32] {
        var tids = [pid]
        if threads > 1 {
            guard let directory = opendir("/proc/\(pid)/task") else { return [] }
            defer { closedir(directory) }
            tids = []
            while let entry = readdir(directory) {
                if let tid = Int32(String(decoding: Directory.name(of: entry), as: UTF8.self)) { tids.append(tid) }
            }
        }
        var out: [Int32] = []
        for tid in tids {
            let fd = open("/proc/\(pid)/task/\(tid)/children", O_RDONLY | O_CLOEXEC)
            guard fd >= 0 else { continue }
            defer { Glibc.close(fd) }
            out += parsePids(childrenFile(fd, pread: false) ?? [])
        }
        return out
    }

    /// The pids of a `children` file ("12 34 ").
    static func parsePids(_ bytes: [UInt8]) -> [Int32] {
        var out: [Int32] = []
        var value: Int32 = 0
        var inNumber = false
        for byte in bytes {
            if byte >= 48 && byte <= 57 {
                value = value &* 10 &+ Int32(byte - 48)
                inNumber = true
            } else if inNumber {
                out.append(value)
                (value, inNumber) = (0, false)
            }
        }
        if inNumber { out.append(value) }
        return out
    }

    /// A `children` file's contents: one read into a stack buffer (most are empty or a few
    /// pids), then the rest if it is larger; from offset 0 with `pread` (a kept descriptor).
    static func childrenFile(_ fd: Int32, pread fromStart: Bool) -> [UInt8]? {
        var out: [UInt8] = []
        var offset = 0
        var full = true
        while full {
            let n = withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 1024) { buffer -> Int in
                var n: Int
                repeat {
                    n = fromStart ? pread(fd, buffer.baseAddress, buffer.count, off_t(offset)) : read(fd, buffer.baseAddress, buffer.count)
                } while n < 0 && errno == EINTR
                if n > 0 { out.append(contentsOf: buffer[0..<n]) }
                full = n == buffer.count
                return n
            }
            if n < 0 { return nil }
            offset += max(n, 0)
        }
        return out
    }

    /// One scan of `/proc`: the totals of each of `sessions` (live processes only; zombies hold
    /// no memory). `list` and the memory limit share it: one read of every process's stat.
    public static func sessionTotals(_ sessions: Set<Int32>) -> [Int32: SessionTotals] {
        guard !sessions.isEmpty else { return [:] }
        var totals: [Int32: SessionTotals] = [:]
        forEachLiveProcess { pid, stat in
            guard sessions.contains(stat.session) else { return }
            totals[stat.session, default: SessionTotals()].add(stat, isLeader: pid == stat.session)
        }
        return totals
    }
}

extension ProcFS {
    /// A live process as the orphan check sees it: its pid, session and start time.
    public struct Member: Sendable, Equatable {
        public var pid: Int32
        public var session: Int32
        public var startTicks: UInt64
        public init(pid: Int32, session: Int32, startTicks: UInt64) {
            self.pid = pid
            self.session = session
            self.startTicks = startTicks
        }
    }

    /// One scan of `/proc`: every live process, by session id.
    public static func processesBySession() -> [Int32: [Member]] {
        var sessions: [Int32: [Member]] = [:]
        forEachLiveProcess { pid, stat in
            sessions[stat.session, default: []].append(Member(pid: pid, session: stat.session, startTicks: stat.startTicks))
        }
        return sessions
    }

    /// The live members of `session`: one scan of `/proc`.
    public static func members(ofSession session: Int32) -> [Member] {
        var out: [Member] = []
        forEachLiveProcess { pid, stat in
            if stat.session == session { out.append(Member(pid: pid, session: session, startTicks: stat.startTicks)) }
        }
        return out
    }

    /// The variables `pid` was started with (`/proc/PID/environ`), at most `limit` bytes; nil
    /// when it is gone or not ours to read.
    public static func environment(of pid: Int32, limit: Int = 256 * 1024) -> [String: String]? {
        let fd = open("/proc/\(pid)/environ", O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 16384)
        while bytes.count < limit {
            let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { break }
            bytes += chunk[0..<n]
        }
        var out: [String: String] = [:]
        for entry in bytes.split(separator: 0) {
            guard let equals = entry.firstIndex(of: UInt8(ascii: "=")) else { continue }
            out[String(decoding: entry[..<equals], as: UTF8.self)] = String(decoding: entry[(equals + 1)...], as: UTF8.self)
        }
        return out
    }
}
