import Glibc
import SystemPackage

/// A failed system call: which call, on what, and errno.
public struct SyscallError: Error, Equatable, Sendable, CustomStringConvertible {
    public var call: String
    public var errno: Errno
    public init(call: String, errno: Errno) {
        self.call = call
        self.errno = errno
    }
    public var description: String { "\(call): \(errno.message)" }
}

extension Errno {
    /// strerror's text: "No such file or directory".
    public var message: String { String(cString: strerror(rawValue)) }
}

/// Runs a system call, retrying EINTR, turning -1 into `SyscallError` (STYLE.md 16).
@inline(__always)
public func syscall<T: FixedWidthInteger>(_ call: String, _ body: () -> T) throws(SyscallError) -> T {
    while true {
        let result = body()
        if result != -1 { return result }
        let code = Glibc.errno
        if code == EINTR { continue }
        precondition(code != EBADF && code != EFAULT, "\(call) failed with \(Errno(rawValue: code).message): a bug in svd")
        throw SyscallError(call: call, errno: Errno(rawValue: code))
    }
}
