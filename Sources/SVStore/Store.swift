import CSQLite

/// One app as `sv.db` keeps it. The spec is the JSON of `AppSpec` (SVProtocol's codec).
public struct AppRow: Equatable, Sendable {
    public var id: Int64
    public var name: String
    public var spec: String
    public var desired: String
    public var restarts: Int64
    public var unstableRuns: Int64
    public var outLog: String
    public var errLog: String
    /// The instance's index among the instances of its name (0, 1, …).
    public var instance: Int64

    public init(
        id: Int64, name: String, spec: String, desired: String, restarts: Int64, unstableRuns: Int64,
        outLog: String, errLog: String, instance: Int64 = 0
    ) {
        self.instance = instance
        self.id = id
        self.name = name
        self.spec = spec
        self.desired = desired
        self.restarts = restarts
        self.unstableRuns = unstableRuns
        self.outLog = outLog
        self.errLog = errLog
    }
}

/// One entry of the saved set: an instance's name, spec (JSON) and index.
public struct SavedApp: Equatable, Sendable {
    public var name: String
    public var spec: String
    public var instance: Int64

    public init(name: String, spec: String, instance: Int64 = 0) {
        self.name = name
        self.spec = spec
        self.instance = instance
    }
}

/// One run of an app: what the orphan check and `describe` read.
public struct RunRow: Equatable, Sendable {
    public var appID: Int64
    public var run: Int64
    public var pid: Int64
    /// `/proc/sys/kernel/random/boot_id` when the run started.
    public var bootID: String
    /// The process's start time after boot, in clock ticks (`/proc/PID/stat` field 22).
    public var startTicks: Int64
    /// `/proc/PID/exe` right after the exec.
    public var exe: String?
    public var startedAtMs: Int64
    public var endedAtMs: Int64?
    public var exitCode: Int64?
    public var signal: Int64?
    public var escalated: Bool
    public var decision: String?

    public init(appID: Int64, run: Int64, pid: Int64, bootID: String, startTicks: Int64, exe: String?, startedAtMs: Int64) {
        self.appID = appID
        self.run = run
        self.pid = pid
        self.bootID = bootID
        self.startTicks = startTicks
        self.exe = exe
        self.startedAtMs = startedAtMs
        self.escalated = false
    }
}

/// `sv.db`: apps, their runs, the saved set (design.md §5). The only door to SQLite
/// (STYLE.md 28); the daemon batches its writes into one transaction per loop iteration.
public final class Store {
    public let path: String
    let db: Database

    /// Runs kept per app: older ones are deleted as new ones come (docs/state.md).
    public static let runsPerApp = 50

    /// The schema, one migration per version, append-only: never edit one that has shipped.
    public static let migrations: [String] = [
        """
        CREATE TABLE app (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            name TEXT NOT NULL CHECK (length(name) > 0),
            spec TEXT NOT NULL,
            desired TEXT NOT NULL CHECK (desired IN ('online', 'stopped')),
            restarts INTEGER NOT NULL DEFAULT 0 CHECK (restarts >= 0),
            unstableRuns INTEGER NOT NULL DEFAULT 0 CHECK (unstableRuns >= 0),
            outLog TEXT NOT NULL,
            errLog TEXT NOT NULL
        );
        CREATE TABLE run (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            appID INTEGER NOT NULL REFERENCES app(id) ON DELETE CASCADE,
            run INTEGER NOT NULL,
            pid INTEGER NOT NULL,
            bootID TEXT NOT NULL,
            startTicks INTEGER NOT NULL,
            exe TEXT,
            startedAt INTEGER NOT NULL,
            endedAt INTEGER,
            exitCode INTEGER,
            signal INTEGER,
            escalated INTEGER NOT NULL DEFAULT 0 CHECK (escalated IN (0, 1)),
            decision TEXT,
            UNIQUE (appID, run)
        );
        CREATE TABLE savedApp (
            id INTEGER PRIMARY KEY,
            name TEXT NOT NULL,
            spec TEXT NOT NULL
        );
        """,
        """
        ALTER TABLE app ADD COLUMN instance INTEGER NOT NULL DEFAULT 0 CHECK (instance >= 0);
        ALTER TABLE savedApp ADD COLUMN instance INTEGER NOT NULL DEFAULT 0 CHECK (instance >= 0);
        """,
    ]

    /// Opens (creating) the database and brings its schema up to date.
    public init(path: String) throws(StoreError) {
        self.path = path
        db = try Database(path: path)
        try db.execute(
            """
            PRAGMA journal_mode = WAL;
            PRAGMA synchronous = NORMAL;
            PRAGMA foreign_keys = ON;
            PRAGMA busy_timeout = 2000;
            PRAGMA cache_size = -64;
            """)
        let version = try db.userVersion()
        if version > Self.migrations.count {
            throw StoreError(
                code: StoreError.newerSchemaCode,
                message:
                    "schema version \(version) is newer than this svd knows (\(Self.migrations.count)): install the newer sv (Scripts/install from its checkout)")
        }
        try db.migrate(Self.migrations)
    }

    /// Closes the connection now: before its files are moved aside.
    public func close() { db.close() }

    /// `PRAGMA quick_check`: nil when the database is sound, else SQLite's first complaint.
    public func quickCheck() throws(StoreError) -> String? {
        let statement = try db.prepare("PRAGMA quick_check")
        guard try statement.step() else { return "quick_check returned nothing" }
        let verdict = statement.text(at: 0) ?? ""
        return verdict == "ok" ? nil : verdict
    }

    /// Runs `body` in one transaction.
    public func transaction(_ body: () throws(StoreError) -> Void) throws(StoreError) {
        try db.transaction(body)
    }

    /// With `durable`, this connection's commits fsync (`synchronous = FULL`, for `sv save`).
    public func setDurable(_ durable: Bool) throws(StoreError) {
        try db.execute("PRAGMA synchronous = \(durable ? "FULL" : "NORMAL")")
    }

    // MARK: - Apps

    /// Inserts an app; its id comes from AUTOINCREMENT, so it is never reused.
    public func insertApp(
        name: String, spec: String, desired: String, outLog: String, errLog: String, instance: Int64 = 0
    ) throws(StoreError) -> Int64 {
        let statement = try db.prepare(
            "INSERT INTO app (name, spec, desired, outLog, errLog, instance) VALUES (?, ?, ?, ?, ?, ?)")
        try statement.bind(name, at: 1)
        try statement.bind(spec, at: 2)
        try statement.bind(desired, at: 3)
        try statement.bind(outLog, at: 4)
        try statement.bind(errLog, at: 5)
        try statement.bind(instance, at: 6)
        _ = try statement.step()
        return db.lastInsertRowID
    }

    /// Writes an app's spec, desired state and counters.
    public func updateApp(_ row: AppRow) throws(StoreError) {
        let statement = try db.prepare(
            "UPDATE app SET name = ?, spec = ?, desired = ?, restarts = ?, unstableRuns = ?, outLog = ?, errLog = ?, instance = ? WHERE id = ?")
        try statement.bind(row.name, at: 1)
        try statement.bind(row.spec, at: 2)
        try statement.bind(row.desired, at: 3)
        try statement.bind(row.restarts, at: 4)
        try statement.bind(row.unstableRuns, at: 5)
        try statement.bind(row.outLog, at: 6)
        try statement.bind(row.errLog, at: 7)
        try statement.bind(row.instance, at: 8)
        try statement.bind(row.id, at: 9)
        _ = try statement.step()
    }

    public func deleteApp(id: Int64) throws(StoreError) {
        let statement = try db.prepare("DELETE FROM app WHERE id = ?")
        try statement.bind(id, at: 1)
        _ = try statement.step()
    }

    public func apps() throws(StoreError) -> [AppRow] {
        let statement = try db.prepare(
            "SELECT id, name, spec, desired, restarts, unstableRuns, outLog, errLog, instance FROM app ORDER BY id")
        var rows: [AppRow] = []
        while try statement.step() {
            rows.append(
                AppRow(
                    id: statement.int(at: 0), name: statement.text(at: 1) ?? "", spec: statement.text(at: 2) ?? "",
                    desired: statement.text(at: 3) ?? "stopped", restarts: statement.int(at: 4),
                    unstableRuns: statement.int(at: 5), outLog: statement.text(at: 6) ?? "",
                    errLog: statement.text(at: 7) ?? "", instance: statement.int(at: 8)))
        }
        return rows
    }

    // MARK: - Runs

    /// Records a run's start, and drops the app's runs beyond `runsPerApp`.
    public func insertRun(_ row: RunRow) throws(StoreError) {
        let statement = try db.prepare(
            "INSERT INTO run (appID, run, pid, bootID, startTicks, exe, startedAt) VALUES (?, ?, ?, ?, ?, ?, ?)")
        try statement.bind(row.appID, at: 1)
        try statement.bind(row.run, at: 2)
        try statement.bind(row.pid, at: 3)
        try statement.bind(row.bootID, at: 4)
        try statement.bind(row.startTicks, at: 5)
        try statement.bind(row.exe, at: 6)
        try statement.bind(row.startedAtMs, at: 7)
        _ = try statement.step()
        let prune = try db.prepare("DELETE FROM run WHERE appID = ? AND run <= ?")
        try prune.bind(row.appID, at: 1)
        try prune.bind(row.run - Int64(Self.runsPerApp), at: 2)
        _ = try prune.step()
    }

    /// Records how a run ended.
    public func endRun(
        appID: Int64, run: Int64, endedAtMs: Int64, exitCode: Int64?, signal: Int64?, escalated: Bool, decision: String
    ) throws(StoreError) {
        let statement = try db.prepare(
            "UPDATE run SET endedAt = ?, exitCode = ?, signal = ?, escalated = ?, decision = ? WHERE appID = ? AND run = ?")
        try statement.bind(endedAtMs, at: 1)
        try statement.bind(exitCode, at: 2)
        try statement.bind(signal, at: 3)
        try statement.bind(escalated ? 1 : 0, at: 4)
        try statement.bind(decision, at: 5)
        try statement.bind(appID, at: 6)
        try statement.bind(run, at: 7)
        _ = try statement.step()
    }

    /// The latest `limit` runs of an app, oldest first.
    public func runs(appID: Int64, limit: Int) throws(StoreError) -> [RunRow] {
        let statement = try db.prepare(
            """
            SELECT appID, run, pid, bootID, startTicks, exe, startedAt, endedAt, exitCode, signal, escalated, decision
            FROM run WHERE appID = ? ORDER BY run DESC LIMIT ?
            """)
        try statement.bind(appID, at: 1)
        try statement.bind(Int64(limit), at: 2)
        var rows: [RunRow] = []
        while try statement.step() {
            var row = RunRow(
                appID: statement.int(at: 0), run: statement.int(at: 1), pid: statement.int(at: 2),
                bootID: statement.text(at: 3) ?? "", startTicks: statement.int(at: 4), exe: statement.text(at: 5),
                startedAtMs: statement.int(at: 6))
            row.endedAtMs = statement.optionalInt(at: 7)
            row.exitCode = statement.optionalInt(at: 8)
            row.signal = statement.optionalInt(at: 9)
            row.escalated = statement.int(at: 10) != 0
            row.decision = statement.text(at: 11)
            rows.append(row)
        }
        return rows.reversed()
    }

    // MARK: - The saved set

    /// Replaces the saved set (`sv save`).
    public func replaceSaved(_ apps: [SavedApp]) throws(StoreError) {
        try db.transaction { () throws(StoreError) in
            try db.execute("DELETE FROM savedApp")
            let insert = try db.prepare("INSERT INTO savedApp (id, name, spec, instance) VALUES (?, ?, ?, ?)")
            for (position, app) in apps.enumerated() {
                insert.reset()
                try insert.bind(Int64(position + 1), at: 1)
                try insert.bind(app.name, at: 2)
                try insert.bind(app.spec, at: 3)
                try insert.bind(app.instance, at: 4)
                _ = try insert.step()
            }
        }
    }

    public func saved() throws(StoreError) -> [SavedApp] {
        let statement = try db.prepare("SELECT name, spec, instance FROM savedApp ORDER BY id")
        var out: [SavedApp] = []
        while try statement.step() {
            out.append(SavedApp(name: statement.text(at: 0) ?? "", spec: statement.text(at: 1) ?? "", instance: statement.int(at: 2)))
        }
        return out
    }
}
