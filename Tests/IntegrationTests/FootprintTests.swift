import Foundation
import Testing

/// svd links no Foundation and no FoundationEssentials (design.md §2): checked on the release
/// binary that Scripts/install ships, and on the sources of every target svd links.
@Suite struct FootprintTests {
    static let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().path

    @Test func releaseSvdHasNoFoundationSymbols() throws {
        let path = ProcessInfo.processInfo.environment["SV_RELEASE_SVD"] ?? Self.packageRoot + "/.build/release/svd"
        guard FileManager.default.isExecutableFile(atPath: path) else {
            Issue.record("no release svd at \(path): run the tests with Scripts/test, which builds it")
            return
        }
        let symbols = try runTool("/usr/bin/nm", [path])
        #expect(symbols.count > 1000, "nm printed too little to judge")
        let foundation = symbols.split(separator: "\n").filter { $0.contains("Foundation") }
        #expect(foundation.isEmpty, "Foundation symbols in svd: \(foundation.prefix(5))")
    }

    @Test func svdTargetsImportNoFoundation() throws {
        for target in ["SVCore", "SVLinux", "SVStore", "SVProtocol", "SVDaemon", "svd"] {
            let directory = Self.packageRoot + "/Sources/" + target
            let files = try FileManager.default.subpathsOfDirectory(atPath: directory).filter { $0.hasSuffix(".swift") }
            #expect(!files.isEmpty)
            for file in files {
                let text = try String(contentsOfFile: directory + "/" + file, encoding: .utf8)
                for line in text.split(separator: "\n") {
                    let words = line.split(separator: " ")
                    if let index = words.firstIndex(of: "import"), index + 1 < words.count {
                        let module = words[index + 1]
                        #expect(module != "Foundation" && module != "FoundationEssentials", "\(target)/\(file): \(line)")
                    }
                }
            }
        }
    }
}

/// Runs a tool and returns its standard output (posix_spawn: Foundation's Process loses exits).
func runTool(_ path: String, _ arguments: [String]) throws -> String {
    let output = NSTemporaryDirectory() + "sv-tool-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
    defer { unlink(output) }
    var actions = posix_spawn_file_actions_t()
    posix_spawn_file_actions_init(&actions)
    defer { posix_spawn_file_actions_destroy(&actions) }
    posix_spawn_file_actions_addopen(&actions, 1, output, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
    posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0)
    let argv = ([path] + arguments).map { strdup($0) } + [nil]
    defer { for pointer in argv { free(pointer) } }
    var pid: pid_t = 0
    let rc = posix_spawn(&pid, path, &actions, nil, argv, environ)
    guard rc == 0 else { throw CLIFailure("cannot run \(path): \(String(cString: strerror(rc)))") }
    var status: Int32 = 0
    while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
    return (try? String(contentsOfFile: output, encoding: .utf8)) ?? ""
}
