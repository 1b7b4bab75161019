import CShims
import Glibc
import SystemPackage

/// A pipe whose both ends are close-on-exec (STYLE.md 18). Wraps `pipe2(2)`.
public struct Pipe: Sendable {
    public var read: FileDescriptor
    public var write: FileDescriptor

    public init(read: FileDescriptor, write: FileDescriptor) {
        self.read = read
        self.write = write
    }

    /// A new pipe; the read end non-blocking when the loop reads it.
    public static func make(nonblockingRead: Bool) throws(SyscallError) -> Pipe {
        var fds: [Int32] = [-1, -1]
        _ = try syscall("pipe2") { fds.withUnsafeMutableBufferPointer { sv_pipe_cloexec($0.baseAddress, nonblockingRead ? 1 : 0) } }
        return Pipe(read: FileDescriptor(rawValue: fds[0]), write: FileDescriptor(rawValue: fds[1]))
    }

    public func close() {
        _ = try? read.close()
        _ = try? write.close()
    }
}

/// A connected pair of Unix stream sockets, both close-on-exec. Wraps `socketpair(2)`.
public enum SocketPair {
    public static func make() throws(SyscallError) -> (FileDescriptor, FileDescriptor) {
        var fds: [Int32] = [-1, -1]
        _ = try syscall("socketpair") { fds.withUnsafeMutableBufferPointer { sv_socketpair_cloexec($0.baseAddress) } }
        return (FileDescriptor(rawValue: fds[0]), FileDescriptor(rawValue: fds[1]))
    }
}

extension FileDescriptor {
    /// Sets O_NONBLOCK. Wraps `fcntl(2)`.
    public func setNonblocking() throws(SyscallError) {
        _ = try syscall("fcntl") { sv_set_nonblocking(rawValue, 1) }
    }

    /// Reads what is there without blocking: the byte count, 0 at end of file, nil when it would block.
    public func readAvailable(into buffer: UnsafeMutableRawBufferPointer) throws(SyscallError) -> Int? {
        while true {
            let n = Glibc.read(rawValue, buffer.baseAddress, buffer.count)
            if n >= 0 { return n }
            if errno == EINTR { continue }
            if errno == EAGAIN { return nil }
            throw SyscallError(call: "read", errno: Errno(rawValue: errno))
        }
    }

    /// Writes what it can without blocking: the byte count (0 when it would block).
    public func writeAvailable(_ buffer: UnsafeRawBufferPointer) throws(SyscallError) -> Int {
        while true {
            let n = Glibc.write(rawValue, buffer.baseAddress, buffer.count)
            if n >= 0 { return n }
            if errno == EINTR { continue }
            if errno == EAGAIN { return 0 }
            throw SyscallError(call: "write", errno: Errno(rawValue: errno))
        }
    }

    /// Closes, ignoring errors: Linux closes the descriptor even when close(2) reports EINTR or EIO.
    public func closeQuietly() { _ = Glibc.close(rawValue) }
}
