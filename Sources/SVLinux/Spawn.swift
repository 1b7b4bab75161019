import CShims
import Glibc
import SVCore
import SystemPackage

/// Why a spawn failed, in the words users read: "No such file or directory".
public struct SpawnError: Error, Equatable, Sendable, CustomStringConvertible {
    public enum Stage: Sendable, Equatable {
        case fork, setup, chdir, exec
    }
    public var stage: Stage
    public var errno: Errno
    public var path: String
    public var cwd: String?

    public var description: String {
        switch stage {
        case .exec: return "\(path): \(errno.message)"
        case .chdir: return "cwd \(cwd ?? "?"): \(errno.message)"
        case .fork: return "fork: \(errno.message)"
        case .setup: return "setting up the child: \(errno.message)"
        }
    }
}

/// What `Spawner.spawn` runs: the C child's whole job (design.md §1).
public struct SpawnRequest: Sendable {
    public var path: String
    public var argv: [String]
    public var environment: [String]
    public var cwd: String?
    /// The child's descriptors in order: element i (a descriptor of svd) becomes fd i in the child.
    public var descriptors: [FileDescriptor]
    public var umask: mode_t?
    public var nofileSoft: UInt64?

    public init(path: String, argv: [String], environment: [String], cwd: String?, descriptors: [FileDescriptor]) {
        self.path = path
        self.argv = argv
        self.environment = environment
        self.cwd = cwd
        self.descriptors = descriptors
    }
}

/// Starts processes through `sv_spawn` (CShims): no Swift runs between fork and exec.
public enum Spawner {
    /// Forks and execs; the child leads a new session. Returns its pid, or the exact failure.
    public static func spawn(_ request: SpawnRequest) -> Result<ProcessID, SpawnError> {
        var failure = sv_spawn_failure()
        let pid: pid_t = withCStrings(request.argv) { argv in
            withCStrings(request.environment) { envp in
                let mappings = request.descriptors.enumerated().map {
                    sv_fd_mapping(source: $0.element.rawValue, target: Int32($0.offset))
                }
                return mappings.withUnsafeBufferPointer { fds in
                    request.path.withCString { path in
                        withOptionalCString(request.cwd) { cwd in
                            var c = sv_spawn_request(
                                path: path, argv: argv, envp: envp, cwd: cwd, fds: fds.baseAddress,
                                fd_count: Int32(fds.count), umask_value: request.umask.map { Int32($0) } ?? -1,
                                nofile_soft: request.nofileSoft.map { Int64($0) } ?? -1)
                            return sv_spawn(&c, &failure)
                        }
                    }
                }
            }
        }
        if pid > 0 { return .success(ProcessID(pid)) }
        let stage: SpawnError.Stage
        switch Int(failure.stage) {
        case Int(SV_STAGE_FORK): stage = .fork
        case Int(SV_STAGE_CHDIR): stage = .chdir
        case Int(SV_STAGE_EXEC): stage = .exec
        default: stage = .setup
        }
        return .failure(SpawnError(stage: stage, errno: Errno(rawValue: failure.error), path: request.path, cwd: request.cwd))
    }
}

/// Calls `body` with a NULL-terminated C array of `strings`, valid for the call only.
public func withCStrings<R>(_ strings: [String], _ body: (UnsafePointer<UnsafeMutablePointer<CChar>?>) -> R) -> R {
    var pointers: [UnsafeMutablePointer<CChar>?] = strings.map { strdup($0) }
    pointers.append(nil)
    defer { for pointer in pointers { free(pointer) } }
    return pointers.withUnsafeBufferPointer { body($0.baseAddress!) }  // a non-empty array has a base address
}

func withOptionalCString<R>(_ string: String?, _ body: (UnsafePointer<CChar>?) -> R) -> R {
    guard let string else { return body(nil) }
    return string.withCString { body($0) }
}
