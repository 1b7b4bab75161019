import CSQLite

/// A failed SQLite call: the result code and SQLite's message.
public struct StoreError: Error, Equatable, Sendable, CustomStringConvertible {
    public var code: Int32
    public var message: String
    public init(code: Int32, message: String) {
        self.code = code
        self.message = message
    }
    public var description: String { "sqlite error \(code): \(message)" }
    /// Not SQLite's: the database has a schema newer than this svd knows.
    public static let newerSchemaCode: Int32 = 10_001

    /// The file is damaged or is not a database at all.
    public var isCorruption: Bool {
        let primary = code & 0xFF
        return primary == SQLITE_CORRUPT || primary == SQLITE_NOTADB
    }
    public var isReadOnly: Bool { code & 0xFF == SQLITE_READONLY || code & 0xFF == SQLITE_PERM }
    public var isNewerSchema: Bool { code == Self.newerSchemaCode }

    /// The disk is full or failing: svd keeps supervising and fails only state changes (design.md §5).
    public var isStorageFailure: Bool {
        let primary = code & 0xFF
        return primary == SQLITE_FULL || primary == SQLITE_IOERR
    }
}

/// One SQLite connection: the only door to `sv.db` (STYLE.md 28). Single-threaded, as svd is.
public final class Database {
    let handle: OpaquePointer

    /// Opens (creating) the database at `path`; ":memory:" for tests.
    public init(path: String) throws(StoreError) {
        var db: OpaquePointer?
        let flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX
        let rc = sqlite3_open_v2(path, &db, flags, nil)
        guard rc == SQLITE_OK, let db else {
            let message = db.map { String(cString: sqlite3_errmsg($0)) } ?? "cannot open \(path)"
            sqlite3_close(db)
            throw StoreError(code: rc, message: message)
        }
        handle = db
        sqlite3_extended_result_codes(db, 1)
    }

    private var isClosed = false

    deinit { close() }

    /// Closes the connection now (its files may be moved right after).
    public func close() {
        guard !isClosed else { return }
        isClosed = true
        sqlite3_close_v2(handle)
    }

    /// Runs SQL without results (several statements allowed).
    public func execute(_ sql: String) throws(StoreError) {
        let rc = sqlite3_exec(handle, sql, nil, nil, nil)
        guard rc == SQLITE_OK else { throw error(rc) }
    }

    /// Compiles one statement.
    public func prepare(_ sql: String) throws(StoreError) -> Statement {
        var statement: OpaquePointer?
        let rc = sqlite3_prepare_v2(handle, sql, -1, &statement, nil)
        guard rc == SQLITE_OK, let statement else { throw error(rc) }
        return Statement(handle: statement, database: self)
    }

    /// Runs `body` in one transaction: committed if it returns, rolled back if it throws.
    public func transaction<T>(_ body: () throws(StoreError) -> T) throws(StoreError) -> T {
        try execute("BEGIN IMMEDIATE")
        do {
            let value = try body()
            try execute("COMMIT")
            return value
        } catch {
            try? execute("ROLLBACK")
            throw error
        }
    }

    /// `PRAGMA user_version`: the schema version. A failed read is an error, never version 0
    /// (which would run the first migration again).
    public func userVersion() throws(StoreError) -> Int {
        let statement = try prepare("PRAGMA user_version")
        guard try statement.step() else { throw StoreError(code: SQLITE_ERROR, message: "no user_version") }
        return Int(statement.int(at: 0))
    }

    /// Applies the migrations past `user_version`, each with its version bump in one transaction.
    /// Migrations are append-only: an applied one is never edited (STYLE.md 28).
    public func migrate(_ migrations: [String]) throws(StoreError) {
        let current = try userVersion()
        for (index, sql) in migrations.enumerated() where index + 1 > current {
            try transaction { () throws(StoreError) in
                try execute(sql)
                try execute("PRAGMA user_version = \(index + 1)")
            }
        }
    }

    /// The rowid of the last INSERT on this connection.
    public var lastInsertRowID: Int64 { sqlite3_last_insert_rowid(handle) }

    func error(_ rc: Int32) -> StoreError { StoreError(code: rc, message: String(cString: sqlite3_errmsg(handle))) }
}

/// A prepared statement with typed binds and columns.
public final class Statement {
    let handle: OpaquePointer
    let database: Database

    init(handle: OpaquePointer, database: Database) {
        self.handle = handle
        self.database = database
    }

    deinit { sqlite3_finalize(handle) }

    public func bind(_ value: Int64, at index: Int32) throws(StoreError) {
        try check(sqlite3_bind_int64(handle, index, value))
    }

    public func bind(_ value: String?, at index: Int32) throws(StoreError) {
        guard let value else { return try check(sqlite3_bind_null(handle, index)) }
        // SQLITE_TRANSIENT: SQLite copies the text before the call returns.
        let transient = unsafeBitCast(-1, to: sqlite3_destructor_type.self)
        try check(sqlite3_bind_text(handle, index, value, -1, transient))
    }

    /// Steps once: true when a row is ready, false when done.
    public func step() throws(StoreError) -> Bool {
        let rc = sqlite3_step(handle)
        if rc == SQLITE_ROW { return true }
        if rc == SQLITE_DONE { return false }
        throw database.error(rc)
    }

    public func reset() {
        sqlite3_reset(handle)
        sqlite3_clear_bindings(handle)
    }

    public func int(at column: Int32) -> Int64 { sqlite3_column_int64(handle, column) }

    public func optionalInt(at column: Int32) -> Int64? {
        sqlite3_column_type(handle, column) == SQLITE_NULL ? nil : sqlite3_column_int64(handle, column)
    }

    public func bind(_ value: Int64?, at index: Int32) throws(StoreError) {
        guard let value else { return try check(sqlite3_bind_null(handle, index)) }
        try bind(value, at: index)
    }

    public func text(at column: Int32) -> String? {
        guard let pointer = sqlite3_column_text(handle, column) else { return nil }
        return String(cString: pointer)
    }

    private func check(_ rc: Int32) throws(StoreError) {
        guard rc == SQLITE_OK else { throw database.error(rc) }
    }
}
