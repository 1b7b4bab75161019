import CShims
import Glibc
import SystemPackage

/// The one epoll set of svd's loop. Wraps `epoll_create1(2)`, `epoll_ctl(2)` and `epoll_wait(2)`.
public struct Epoll: ~Copyable {
    public let fd: FileDescriptor
    private var events: UnsafeMutableBufferPointer<epoll_event>

    /// What a descriptor is watched for.
    public struct Readiness: OptionSet, Sendable {
        public let rawValue: UInt32
        public init(rawValue: UInt32) { self.rawValue = rawValue }
        public static let readable = Readiness(rawValue: EPOLLIN.rawValue)
        public static let writable = Readiness(rawValue: EPOLLOUT.rawValue)
        public static let hangup = Readiness(rawValue: EPOLLHUP.rawValue)
        public static let error = Readiness(rawValue: EPOLLERR.rawValue)
    }

    /// One ready descriptor: the token it was added with.
    public struct Event: Sendable {
        public var token: UInt64
        public var readiness: Readiness
    }

    public init(capacity: Int = 64) throws(SyscallError) {
        fd = FileDescriptor(rawValue: try syscall("epoll_create1") { epoll_create1(Int32(EPOLL_CLOEXEC)) })
        events = .allocate(capacity: capacity)
    }

    deinit {
        events.deallocate()
        _ = try? fd.close()
    }

    /// Adds `fd`, reporting `token` when it is ready. Wraps `epoll_ctl(2)` with `EPOLL_CTL_ADD`.
    public func add(_ target: FileDescriptor, for readiness: Readiness, token: UInt64) throws(SyscallError) {
        try control(EPOLL_CTL_ADD, target, readiness, token)
    }

    /// Changes what `fd` is watched for. Wraps `epoll_ctl(2)` with `EPOLL_CTL_MOD`.
    public func modify(_ target: FileDescriptor, for readiness: Readiness, token: UInt64) throws(SyscallError) {
        try control(EPOLL_CTL_MOD, target, readiness, token)
    }

    /// Removes `fd`. Wraps `epoll_ctl(2)` with `EPOLL_CTL_DEL`.
    public func remove(_ target: FileDescriptor) {
        _ = epoll_ctl(fd.rawValue, EPOLL_CTL_DEL, target.rawValue, nil)
    }

    private func control(_ op: Int32, _ target: FileDescriptor, _ readiness: Readiness, _ token: UInt64)
        throws(SyscallError)
    {
        var event = epoll_event()
        event.events = readiness.rawValue
        event.data.u64 = token
        _ = try syscall("epoll_ctl") { epoll_ctl(fd.rawValue, op, target.rawValue, &event) }
    }

    /// Waits until something is ready (-1: forever) and calls `body` for each ready descriptor.
    /// Returns how many were ready.
    public func wait(timeoutMs: Int32 = -1, _ body: (Event) -> Void) throws(SyscallError) -> Int {
        let count = try syscall("epoll_wait") { epoll_wait(fd.rawValue, events.baseAddress, Int32(events.count), timeoutMs) }
        for n in 0..<Int(count) {
            body(Event(token: events[n].data.u64, readiness: Readiness(rawValue: events[n].events)))
        }
        return Int(count)
    }
}
