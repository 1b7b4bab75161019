import Foundation
import SVStore
import Testing

@Suite struct StoreTests {
    func temporaryPath() -> String {
        NSTemporaryDirectory() + "sv-store-\(getpid())-\(UInt64.random(in: 0...UInt64.max)).db"
    }

    func remove(_ path: String) {
        for suffix in ["", "-wal", "-shm"] { unlink(path + suffix) }
    }

    @Test func migratesFromEmpty() throws {
        let path = temporaryPath()
        defer { remove(path) }
        let store = try Store(path: path)
        #expect(try store.apps().isEmpty)
        #expect(try store.quickCheck() == nil)
    }

    /// A db of every earlier schema, committed as a fixture, opens and keeps its data.
    @Test func migratesFromTheSchema1Fixture() throws {
        let fixture = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/schema-1.db")
        let path = temporaryPath()
        defer { remove(path) }
        try FileManager.default.copyItem(atPath: fixture.path, toPath: path)
        let store = try Store(path: path)
        let apps = try store.apps()
        #expect(apps.map(\.name) == ["api"])
        #expect(apps.first?.restarts == 3)
        #expect(try store.runs(appID: 1, limit: 10).first?.exe == "/usr/bin/node")
        #expect(try store.saved().map(\.name) == ["api"])
        // Schema 2 added the instance index: rows of schema 1 are instance 0.
        #expect(apps.first?.instance == 0)
        #expect(try store.saved().first?.instance == 0)
        // The fixture deleted id 2: the next app gets 3.
        #expect(try store.insertApp(name: "new", spec: "{}", desired: "online", outLog: "", errLog: "") == 3)
    }

    @Test func instanceIndexRoundTrips() throws {
        let path = temporaryPath()
        defer { remove(path) }
        let store = try Store(path: path)
        let id = try store.insertApp(name: "web", spec: "{}", desired: "online", outLog: "", errLog: "", instance: 2)
        #expect(try store.apps().first?.instance == 2)
        var row = try store.apps()[0]
        row.instance = 3
        try store.updateApp(row)
        #expect(try store.apps().first(where: { $0.id == id })?.instance == 3)
        try store.replaceSaved([SavedApp(name: "web", spec: "{}", instance: 0), SavedApp(name: "web", spec: "{}", instance: 1)])
        #expect(try store.saved().map(\.instance) == [0, 1])
    }

    @Test func idsAreNeverReusedAfterDelete() throws {
        let path = temporaryPath()
        defer { remove(path) }
        let store = try Store(path: path)
        let a = try store.insertApp(name: "a", spec: "{}", desired: "online", outLog: "", errLog: "")
        let b = try store.insertApp(name: "b", spec: "{}", desired: "online", outLog: "", errLog: "")
        try store.deleteApp(id: b)
        let c = try store.insertApp(name: "c", spec: "{}", desired: "online", outLog: "", errLog: "")
        #expect([a, b, c] == [1, 2, 3])
    }

    @Test func constraintsLiveInTheSchema() throws {
        let path = temporaryPath()
        defer { remove(path) }
        let store = try Store(path: path)
        #expect(throws: StoreError.self) {
            try store.insertApp(name: "x", spec: "{}", desired: "sleepy", outLog: "", errLog: "")
        }
        #expect(throws: StoreError.self) {
            try store.insertApp(name: "", spec: "{}", desired: "online", outLog: "", errLog: "")
        }
        // A run needs its app (foreign key), and deleting the app deletes its runs.
        #expect(throws: StoreError.self) {
            try store.insertRun(RunRow(appID: 99, run: 1, pid: 1, bootID: "b", startTicks: 1, exe: nil, startedAtMs: 1))
        }
        let id = try store.insertApp(name: "a", spec: "{}", desired: "online", outLog: "", errLog: "")
        try store.insertRun(RunRow(appID: id, run: 1, pid: 1, bootID: "b", startTicks: 1, exe: nil, startedAtMs: 1))
        try store.deleteApp(id: id)
        #expect(try store.runs(appID: id, limit: 10).isEmpty)
    }

    @Test func historyIsBoundedPerApp() throws {
        let path = temporaryPath()
        defer { remove(path) }
        let store = try Store(path: path)
        let id = try store.insertApp(name: "a", spec: "{}", desired: "online", outLog: "", errLog: "")
        try store.transaction { () throws(StoreError) in
            for run in 1...(Store.runsPerApp + 30) {
                try store.insertRun(RunRow(appID: id, run: Int64(run), pid: 1, bootID: "b", startTicks: 1, exe: nil, startedAtMs: 1))
            }
        }
        let runs = try store.runs(appID: id, limit: 1000)
        #expect(runs.count == Store.runsPerApp)
        #expect(runs.last?.run == Int64(Store.runsPerApp + 30))
    }

    @Test func runEndsAreRecorded() throws {
        let path = temporaryPath()
        defer { remove(path) }
        let store = try Store(path: path)
        let id = try store.insertApp(name: "a", spec: "{}", desired: "online", outLog: "", errLog: "")
        try store.insertRun(RunRow(appID: id, run: 1, pid: 7, bootID: "b", startTicks: 9, exe: "/bin/x", startedAtMs: 10))
        try store.endRun(appID: id, run: 1, endedAtMs: 20, exitCode: nil, signal: 9, escalated: true, decision: "stopped by user")
        let run = try #require(try store.runs(appID: id, limit: 1).first)
        #expect(run.endedAtMs == 20)
        #expect(run.signal == 9)
        #expect(run.exitCode == nil)
        #expect(run.escalated)
        #expect(run.decision == "stopped by user")
    }

    @Test(arguments: ["header", "text", "truncated"])
    func damagedFilesAreReportedAsCorruption(damage: String) throws {
        let path = temporaryPath()
        defer { remove(path) }
        do {
            let store = try Store(path: path)
            for n in 0..<200 { _ = try store.insertApp(name: "app\(n)", spec: String(repeating: "x", count: 200), desired: "online", outLog: "", errLog: "") }
        }
        let db = try Database(path: path)
        try db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        switch damage {
        case "header":
            let handle = try #require(FileHandle(forWritingAtPath: path))
            handle.write(Data(repeating: 0x41, count: 100))
            try handle.close()
        case "text":
            remove(path)
            try "not a database".write(toFile: path, atomically: false, encoding: .utf8)
        default:
            truncate(path, 4096 + 1000)
        }
        #expect(Self.looksCorrupt(path))
    }

    /// Whether opening, checking or reading `path` reports corruption.
    static func looksCorrupt(_ path: String) -> Bool {
        let store: Store
        do { store = try Store(path: path) } catch { return error.isCorruption }
        do {
            if try store.quickCheck() != nil { return true }
            _ = try store.apps()
            return false
        } catch {
            return error.isCorruption
        }
    }

    @Test func newerSchemaIsRefused() throws {
        let path = temporaryPath()
        defer { remove(path) }
        _ = try Store(path: path)
        try Database(path: path).execute("PRAGMA user_version = 42")
        do {
            _ = try Store(path: path)
            Issue.record("a newer schema was opened")
        } catch {
            #expect(error.isNewerSchema)
        }
    }
}
