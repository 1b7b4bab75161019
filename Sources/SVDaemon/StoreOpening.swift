import Glibc
import Logging
import SVCore
import SVLinux
import SVStore
import SystemPackage

/// Opening `sv.db` at start (design.md §5, docs/state.md): checked with `PRAGMA quick_check`; a
/// corrupt file is moved aside (kept, never deleted) and a new one made, the apps then coming back
/// from `saved.json`; a read-only file or a newer schema stops svd with one line saying what to do.
enum StoreOpening {
    struct Opened {
        let store: Store
        /// The old file was corrupt and moved here; the apps come from saved.json.
        let movedAside: String?
    }

    static func open(_ home: StateDirectory, log: Logger) -> Result<Opened, StoreOpeningFailure> {
        let path = home.database
        // svd's own files only: a planted or linked sv.db is refused (STYLE.md 27b).
        for suffix in ["", "-wal", "-shm"] {
            if let problem = Ownership.ownFileProblem(path + suffix) { return .failure(.init(problem)) }
        }
        if Files.exists(path) && access(path, W_OK) != 0 {
            return .failure(.init("\(path) is read-only (make it writable: chmod u+w \(path))"))
        }
        let store: Store
        do {
            store = try Store(path: path)
        } catch {
            return corrupt(error, home: home, log: log)
        }
        let start = SystemClock.now
        var damage: StoreError?
        do {
            if let problem = try store.quickCheck() { damage = StoreError(code: SQLITE_CORRUPT_CODE, message: problem) }
        } catch {
            damage = error
        }
        if let damage {
            // Closed first: closing later would checkpoint into, and delete, the moved files' names.
            store.close()
            return corrupt(damage, home: home, log: log)
        }
        log.info("\(path): quick_check ok in \((SystemClock.now - start).milliseconds) ms")
        return .success(Opened(store: store, movedAside: nil))
    }

    static let SQLITE_CORRUPT_CODE: Int32 = 11

    private static func corrupt(_ error: StoreError, home: StateDirectory, log: Logger)
        -> Result<Opened, StoreOpeningFailure>
    {
        let path = home.database
        if error.isNewerSchema {
            return .failure(.init("\(path): \(error.message)"))
        }
        if error.isReadOnly {
            return .failure(.init("\(path) cannot be written (\(error.message)): check its permissions and the file system"))
        }
        guard error.isCorruption else {
            return .failure(.init("cannot open \(path): \(error.message)"))
        }
        let aside = path + ".corrupt-" + String(SystemClock.wallNow.milliseconds / 1000)
        for suffix in ["", "-wal", "-shm"] where Files.exists(path + suffix) {
            if rename(path + suffix, aside + suffix) != 0 {
                return .failure(.init("\(path) is corrupt (\(error.message)) and cannot be moved aside: \(Errno(rawValue: errno).message)"))
            }
        }
        log.error("\(path) is corrupt (\(error.message)): moved aside to \(aside) (kept); the apps come back from \(home.savedSet)")
        do {
            return .success(Opened(store: try Store(path: path), movedAside: aside))
        } catch {
            return .failure(.init("cannot create a new \(path): \(error.message)"))
        }
    }
}

/// Why svd cannot start on its database: one line for the user.
struct StoreOpeningFailure: Error {
    let message: String
    init(_ message: String) { self.message = message }
}
