import CShims
import Glibc
import SVCore
import SystemPackage

/// Signals read from a descriptor instead of handlers (STYLE.md 20). Wraps `signalfd(2)`.
public struct SignalFD: ~Copyable {
    public let fd: FileDescriptor

    /// Blocks `signals` for the calling thread. Call it first thing, before any thread exists,
    /// so every later thread inherits the mask. Wraps `sigprocmask(2)`.
    public static func block(_ signals: [Signal]) throws(SyscallError) {
        let numbers = signals.map(\.rawValue)
        _ = try syscall("sigprocmask") { numbers.withUnsafeBufferPointer { sv_block_signals($0.baseAddress, Int32($0.count)) } }
    }

    public init(_ signals: [Signal]) throws(SyscallError) {
        let numbers = signals.map(\.rawValue)
        fd = FileDescriptor(
            rawValue: try syscall("signalfd") { numbers.withUnsafeBufferPointer { sv_signalfd($0.baseAddress, Int32($0.count)) } })
    }

    deinit { _ = try? fd.close() }

    /// The signals waiting, oldest first; empty when none.
    public func drain() -> [Signal] {
        var out: [Signal] = []
        var info = signalfd_siginfo()
        while true {
            let n = read(fd.rawValue, &info, MemoryLayout<signalfd_siginfo>.size)
            if n != MemoryLayout<signalfd_siginfo>.size { return out }
            out.append(Signal(Int32(info.ssi_signo)))
        }
    }
}
