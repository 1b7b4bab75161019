import CShims
import Glibc
import SystemPackage

/// Unix stream sockets: the control socket of svd and its clients.
public enum UnixSocket {
    /// Binds and listens on `path` (non-blocking, close-on-exec). Wraps `socket(2)`, `bind(2)`, `listen(2)`.
    public static func listen(path: String, backlog: Int32 = 128) throws(SyscallError) -> FileDescriptor {
        FileDescriptor(rawValue: try syscall("bind \(path)") { path.withCString { sv_listen_unix($0, backlog) } })
    }

    /// Connects to `path` (blocking). Wraps `connect(2)`.
    public static func connect(path: String) throws(SyscallError) -> FileDescriptor {
        FileDescriptor(rawValue: try syscall("connect \(path)") { path.withCString { sv_connect_unix($0) } })
    }

    /// Accepts one client, non-blocking and close-on-exec; nil when none waits. Wraps `accept4(2)`.
    public static func accept(_ listener: FileDescriptor) -> FileDescriptor? {
        while true {
            let fd = sv_accept(listener.rawValue)
            if fd >= 0 { return FileDescriptor(rawValue: fd) }
            if errno == EINTR { continue }
            // EAGAIN: none waiting; ECONNABORTED, EMFILE…: drop this one, the loop goes on.
            return nil
        }
    }

    /// The uid of the peer process. Wraps `getsockopt(SO_PEERCRED)`.
    public static func peerUID(_ socket: FileDescriptor) -> uid_t? {
        let uid = sv_peer_uid(socket.rawValue)
        return uid >= 0 ? uid_t(uid) : nil
    }
}
