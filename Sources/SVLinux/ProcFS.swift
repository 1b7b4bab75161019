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
        guard let stat = Files.readOnce("/proc/\(pid.rawValue)/stat"),
            let close = stat.lastIndex(of: UInt8(ascii: ")"))
        else { return nil }
        // Fields after "(comm)": state is field 3; utime 14, stime 15, starttime 22, session 6,
        // rss (pages) 24.
        let fields = stat[(close + 2)...].split(separator: UInt8(ascii: " "))
        func field(_ n: Int) -> UInt64 {
            let i = n - 3
            guard i < fields.count else { return 0 }
            var value: UInt64 = 0
            for b in fields[i] where b >= 48 && b <= 57 { value = value &* 10 &+ UInt64(b - 48) }
            return value
        }
        return Usage(
            cpuTicks: field(14) + field(15), startTicks: field(22), residentBytes: field(24) * pageSize,
            sessionID: Int32(truncatingIfNeeded: field(6)))
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
        guard !groups.isEmpty, let directory = opendir("/proc") else { return [] }
        defer { closedir(directory) }
        var live: Set<Int32> = []
        while let entry = readdir(directory) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
            }
            guard let pid = Int32(name), let stat = Files.readSmall("/proc/\(pid)/stat", limit: 1024),
                let close = stat.lastIndex(of: UInt8(ascii: ")"))
            else { continue }
            // After "(comm) ": state, ppid, pgrp.
            let fields = stat[(close + 2)...].split(separator: UInt8(ascii: " "), maxSplits: 3)
            guard fields.count >= 3, fields[0].first != UInt8(ascii: "Z") else { continue }
            var pgrp: Int32 = 0
            for b in fields[2] where b >= 48 && b <= 57 { pgrp = pgrp &* 10 &+ Int32(b - 48) }
            if groups.contains(pgrp) { live.insert(pgrp) }
        }
        return live
    }
}
