import Glibc
import SVCore

/// libsystemd, loaded with dlopen only when svd runs under systemd (NOTIFY_SOCKET, WATCHDOG_USEC
/// or JOURNAL_STREAM set; design.md §3): outside systemd nothing is mapped. The typed function
/// pointers of this file are the only calls into it.
final class Systemd: @unchecked Sendable {  // immutable after init: a handle and function pointers
    private typealias Notify = @convention(c) (Int32, UnsafePointer<CChar>?) -> Int32
    private typealias WatchdogEnabled = @convention(c) (Int32, UnsafeMutablePointer<UInt64>?) -> Int32
    private typealias JournalSendv = @convention(c) (UnsafePointer<iovec>?, Int32) -> Int32

    private let handle: UnsafeMutableRawPointer
    private let notifyFunction: Notify?
    private let watchdogFunction: WatchdogEnabled?
    private let journalFunction: JournalSendv?

    /// Loads libsystemd.so.0 when the environment says systemd runs svd; nil otherwise (or when
    /// the library is missing: then svd runs as if outside systemd).
    static func loadIfUnderSystemd(_ environment: [String: String]) -> Systemd? {
        guard environment["NOTIFY_SOCKET"] != nil || environment["WATCHDOG_USEC"] != nil
            || environment["JOURNAL_STREAM"] != nil
        else { return nil }
        guard let handle = dlopen("libsystemd.so.0", RTLD_NOW | RTLD_LOCAL) else { return nil }
        return Systemd(handle: handle)
    }

    private init(handle: UnsafeMutableRawPointer) {
        self.handle = handle
        notifyFunction = dlsym(handle, "sd_notify").map { unsafeBitCast($0, to: Notify.self) }
        watchdogFunction = dlsym(handle, "sd_watchdog_enabled").map { unsafeBitCast($0, to: WatchdogEnabled.self) }
        journalFunction = dlsym(handle, "sd_journal_sendv").map { unsafeBitCast($0, to: JournalSendv.self) }
    }

    /// `sd_notify(0, state)`: READY=1, STATUS=…, WATCHDOG=1, STOPPING=1, EXTEND_TIMEOUT_USEC=….
    func notify(_ state: String) {
        guard let notifyFunction else { return }
        _ = state.withCString { notifyFunction(0, $0) }
    }

    /// Half of the watchdog interval systemd expects pings at, or nil without a watchdog.
    var watchdogPingInterval: Duration? {
        guard let watchdogFunction else { return nil }
        var usec: UInt64 = 0
        guard watchdogFunction(0, &usec) > 0, usec > 0 else { return nil }
        return .microseconds(Int64(usec / 2))
    }

    /// Whether svd's stderr is the journal stream systemd set up (`JOURNAL_STREAM=dev:inode`).
    static func stderrIsJournal(_ environment: [String: String]) -> Bool {
        guard let value = environment["JOURNAL_STREAM"] else { return false }
        let parts = value.split(separator: ":")
        guard parts.count == 2, let device = UInt64(parts[0]), let inode = UInt64(parts[1]) else { return false }
        var info = stat()
        guard fstat(2, &info) == 0 else { return false }
        return UInt64(info.st_dev) == device && UInt64(info.st_ino) == inode
    }

    /// One journal entry with a priority (syslog levels: 3 error … 6 info, 7 debug).
    func journal(_ message: String, priority: Int) -> Bool {
        guard let journalFunction else { return false }
        var text = Array(("MESSAGE=" + message).utf8)
        var level = Array("PRIORITY=\(priority)".utf8)
        var tag = Array("SYSLOG_IDENTIFIER=svd".utf8)
        return text.withUnsafeMutableBytes { a in
            level.withUnsafeMutableBytes { b in
                tag.withUnsafeMutableBytes { c in
                    let vectors = [
                        iovec(iov_base: a.baseAddress, iov_len: a.count), iovec(iov_base: b.baseAddress, iov_len: b.count),
                        iovec(iov_base: c.baseAddress, iov_len: c.count),
                    ]
                    return journalFunction(vectors, Int32(vectors.count)) >= 0
                }
            }
        }
    }
}
