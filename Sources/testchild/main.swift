import Glibc

// A test program that does what its arguments say, in order (STYLE.md 35):
//   exit N            exit with code N
//   sleep MS          sleep
//   print TEXT        write TEXT and a newline to stdout
//   eprint TEXT       write TEXT and a newline to stderr
//   lines N           write lines "line 1" … "line N" to stdout
//   ignore SIG        ignore a signal number (e.g. 2 for SIGINT)
//   grandchild MS     fork a child that sleeps MS (stays in the group), print its pid
//   fds               print the open descriptors of this process, space-separated
//   pidfile PATH      write this pid to PATH
//   ticker MS         print "tick N" every MS forever (dies of SIGPIPE once nobody reads)
//   setsid            leave the session: a new one, led by this process
//   impostor PATH UID FILE  listen on the Unix socket PATH as UID (bound first, as root), and
//                     append whatever a client sends to FILE (an svd socket of another user)
//   forever           sleep until killed

func say(_ text: String, fd: Int32 = 1) {
    var bytes = Array((text + "\n").utf8)
    _ = bytes.withUnsafeMutableBytes { write(fd, $0.baseAddress, $0.count) }
}

func pause(ms: Int) {
    var spec = timespec(tv_sec: ms / 1000, tv_nsec: (ms % 1000) * 1_000_000)
    var rest = timespec()
    while nanosleep(&spec, &rest) != 0 && errno == EINTR { spec = rest }
}

var arguments = Array(CommandLine.arguments.dropFirst())
while !arguments.isEmpty {
    let command = arguments.removeFirst()
    func value() -> String { arguments.isEmpty ? "" : arguments.removeFirst() }
    switch command {
    case "exit": exit(Int32(value()) ?? 0)
    case "sleep": pause(ms: Int(value()) ?? 0)
    case "print": say(value())
    case "eprint": say(value(), fd: 2)
    case "lines":
        let count = Int(value()) ?? 0
        for n in 1...max(count, 1) where count > 0 { say("line \(n)") }
    case "ignore": signal(Int32(value()) ?? 0, SIG_IGN)
    case "grandchild":
        let ms = Int(value()) ?? 0
        let pid = fork()
        if pid == 0 {
            pause(ms: ms)
            exit(0)
        }
        say("grandchild \(pid)")
    case "fds":
        var fds: [String] = []
        if let directory = opendir("/proc/self/fd") {
            let own = dirfd(directory)
            while let entry = readdir(directory) {
                // Read in place: the kernel's record may end before d_name's 256 bytes do.
                let name = withUnsafeMutablePointer(to: &entry.pointee.d_name) {
                    String(cString: UnsafeRawPointer($0).assumingMemoryBound(to: CChar.self))
                }
                if let fd = Int32(name), fd != own { fds.append(name) }
            }
            closedir(directory)
        }
        say(fds.sorted { Int($0)! < Int($1)! }.joined(separator: " "))  // names are digits
    case "pidfile":
        let path = value()
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        var bytes = Array("\(getpid())".utf8)
        _ = bytes.withUnsafeMutableBytes { write(fd, $0.baseAddress, $0.count) }
        close(fd)
    case "ticker":
        let ms = Int(value()) ?? 100
        var n = 0
        while true {
            say("tick \(n)")
            n += 1
            pause(ms: ms)
        }
    case "setsid": _ = setsid()
    case "impostor":
        let path = value()
        let uid = uid_t(value()) ?? 65534
        let record = open(value(), O_WRONLY | O_CREAT | O_APPEND, 0o644)
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            for (i, byte) in path.utf8.enumerated() { raw[i] = byte }
        }
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        chmod(path, 0o777)
        // SO_PEERCRED gives the credentials of listen(2)'s caller: listen as UID.
        guard bound == 0, setuid(uid) == 0, listen(fd, 8) == 0 else { exit(70) }
        say("listening")
        while true {
            let client = accept(fd, nil, nil)
            if client < 0 { continue }
            var chunk = [UInt8](repeating: 0, count: 65536)
            let n = chunk.withUnsafeMutableBytes { read(client, $0.baseAddress, $0.count) }
            if n > 0 { _ = chunk.withUnsafeBytes { write(record, $0.baseAddress, n) } }
            close(client)
        }
    case "forever":
        while true { pause(ms: 60_000) }
    default:
        say("testchild: unknown command \(command)", fd: 2)
        exit(64)
    }
}
exit(0)
