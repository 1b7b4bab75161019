import SVStore
import Testing

@Suite struct DatabaseTests {
    @Test func migrationsRunOnceInOrder() throws {
        let db = try Database(path: ":memory:")
        let migrations = [
            "CREATE TABLE app (id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT NOT NULL)",
            "ALTER TABLE app ADD COLUMN desired TEXT NOT NULL DEFAULT 'online'",
        ]
        try db.migrate(migrations)
        #expect(try db.userVersion() == 2)
        try db.migrate(migrations)  // nothing left to apply
        #expect(try db.userVersion() == 2)
    }

    @Test func bindsAndColumnsRoundTrip() throws {
        let db = try Database(path: ":memory:")
        try db.execute("CREATE TABLE app (id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT NOT NULL, note TEXT)")
        let insert = try db.prepare("INSERT INTO app (name, note) VALUES (?, ?)")
        try insert.bind("café api", at: 1)
        try insert.bind(String?.none, at: 2)
        #expect(try insert.step() == false)
        let select = try db.prepare("SELECT id, name, note FROM app")
        #expect(try select.step())
        #expect(select.int(at: 0) == 1)
        #expect(select.text(at: 1) == "café api")
        #expect(select.text(at: 2) == nil)
    }

    @Test func constraintsAndRollback() throws {
        let db = try Database(path: ":memory:")
        try db.execute("CREATE TABLE app (id INTEGER PRIMARY KEY, name TEXT NOT NULL)")
        #expect(throws: StoreError.self) {
            try db.transaction { () throws(StoreError) in
                try db.execute("INSERT INTO app (name) VALUES ('a')")
                try db.execute("INSERT INTO app (name) VALUES (NULL)")  // NOT NULL fails: all rolled back
            }
        }
        let count = try db.prepare("SELECT count(*) FROM app")
        _ = try count.step()
        #expect(count.int(at: 0) == 0)
    }
}
