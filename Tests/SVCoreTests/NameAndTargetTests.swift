import SVCore
import Testing

@Suite struct NameAndTargetTests {
    @Test(arguments: ["api", "my api", "café", "日本語", "a.b", "v2", "x-1_y"])
    func validNames(name: String) {
        #expect(AppName.problem(with: name) == nil)
    }

    @Test(arguments: ["", "all", ".hidden", "123", "a/b", "tab\there", "bell\u{07}", String(repeating: "x", count: 201)])
    func invalidNames(name: String) {
        #expect(AppName.problem(with: name) != nil)
    }

    @Test func fileComponentEscapesSpaceAndPercent() {
        #expect(AppName.fileComponent("my api") == "my%20api")
        #expect(AppName.fileComponent("100%") == "100%25")
        #expect(AppName.fileComponent("café") == "café")
    }

    @Test(arguments: [("app.js", "app"), ("/srv/api/server.mjs", "server"), ("worker", "worker"), (".env", ".env"),
                      ("a.b.c", "a.b")])
    func defaultNames(path: String, expected: String) {
        #expect(AppName.defaultName(forScript: path) == expected)
    }

    @Test func targets() {
        #expect(Target(parsing: "all") == .all)
        #expect(Target(parsing: "12") == .id(AppID(12)))
        #expect(Target(parsing: "api") == .name("api"))
        #expect(Target(parsing: "v2") == .name("v2"))
    }

    @Test(arguments: [("SIGINT", Int32(2)), ("INT", 2), ("sigterm", 15), ("9", 9), ("USR2", 12)])
    func signalParsing(text: String, number: Int32) {
        #expect(Signal(parsing: text)?.rawValue == number)
    }

    @Test func signalNames() {
        #expect(Signal.kill.name == "SIGKILL")
        #expect(Signal(parsing: "NOPE") == nil)
        #expect(Signal(parsing: "0") == nil)
    }

    @Test func capturedEnvironmentDropsServiceManagerVariables() {
        let filtered = CapturedEnvironment.filter(["PATH": "/bin", "NOTIFY_SOCKET": "/run/x", "LISTEN_FDS": "2", "INVOCATION_ID": "x"])
        #expect(filtered == ["PATH": "/bin"])
    }
}
