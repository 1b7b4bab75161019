import SVCore
import SVLinux
import SVProtocol
import SystemPackage

/// One output stream of an app: the pipe svd reads, and the file it appends to (design.md §7).
/// A failing write never blocks the app: the bytes are dropped and counted.
final class LogStream {
    let pipe: Pipe
    let path: String
    let file: FileDescriptor
    private(set) var droppedBytes: Int64 = 0
    private(set) var lastError: String?

    init(pipe: Pipe, path: String, file: FileDescriptor) {
        self.pipe = pipe
        self.path = path
        self.file = file
    }

    /// Most bytes read from one pipe per loop iteration: a flooding app cannot starve the others
    /// (the descriptor stays ready, so the rest comes at the next iteration).
    static let budgetPerIteration = 256 * 1024

    /// Moves what the pipe holds to the file, through svd's one shared buffer.
    func drain(using buffer: UnsafeMutableRawBufferPointer) {
        var moved = 0
        while moved < Self.budgetPerIteration {
            let count: Int
            do {
                guard let n = try pipe.read.readAvailable(into: buffer), n > 0 else { return }
                count = n
            } catch {
                lastError = error.description
                return
            }
            moved += count
            write(UnsafeRawBufferPointer(rebasing: buffer[0..<count]))
        }
    }

    private func write(_ bytes: UnsafeRawBufferPointer) {
        var rest = bytes
        while !rest.isEmpty {
            do {
                let n = try file.writeAvailable(rest)
                if n == 0 {
                    droppedBytes += Int64(rest.count)
                    lastError = "write would block"
                    return
                }
                rest = UnsafeRawBufferPointer(rebasing: rest[n...])
            } catch {
                droppedBytes += Int64(rest.count)
                lastError = error.description
                return
            }
        }
    }

    func close() {
        pipe.close()
        file.closeQuietly()
    }
}

/// svd's end of a Node app's IPC channel: one JSON value per line (json serialization mode).
/// svd reads and records; it never writes (invalid JSON would kill the child).
final class IPCChannel {
    let socket: FileDescriptor
    let run: RunID
    var lines = LineBufferWrapper()

    init(socket: FileDescriptor, run: RunID) {
        self.socket = socket
        self.run = run
    }
}

/// The channel's framing: lines up to 1 MiB; longer ones are dropped.
struct LineBufferWrapper {
    var buffer = LineBuffer()
    mutating func append(_ bytes: UnsafeRawBufferPointer) -> [[UInt8]] {
        do {
            return try buffer.append(bytes)
        } catch {
            buffer = LineBuffer()
            return []
        }
    }
}
