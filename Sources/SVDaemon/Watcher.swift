import Glibc
import SVCore
import SVProtocol
import SVLinux
import SystemPackage

/// `--watch` (docs/watch.md): one inotify descriptor for every app. The kernel gives one watch
/// per directory, so each directory counts the apps that watch it, and each event is filtered
/// per app (its roots, its ignore patterns, its own log files). The daemon debounces.
final class Watcher {
    let inotify: Inotify

    /// What an app watches.
    struct Config: Equatable {
        /// Absolute directories (watched recursively) or files.
        var roots: [String]
        /// Glob patterns: without a `/` against each path component, with one against the path
        /// relative to the root.
        var ignore: [String]
        /// The app's own logs (and their rotated copies): never a change.
        var logPaths: [String]
    }

    struct Directory {
        var path: String
        /// Apps watching its entries.
        var apps: Set<AppID> = []
        /// Apps watching one of its entries as a root (a symlinked or missing root): the root paths.
        var rootsOf: [AppID: Set<String>] = [:]
        /// Its subdirectories' names, read once and kept by the events: a second app watching a
        /// tree walks this instead of reading every folder again (100 apps sharing a tree of
        /// 10,000 files: 1.8 s → a few ms).
        var subdirectories: Set<String>?
        var isUnused: Bool { apps.isEmpty && rootsOf.isEmpty }
    }

    struct AppWatch {
        var config: Config
        var directories: Set<Int32> = []
        var parents: Set<Int32> = []
        var missingRoots: Set<String> = []
    }

    private(set) var directories: [Int32: Directory] = [:]
    private(set) var watches: [AppID: AppWatch] = [:]
    /// Set when the kernel's watch limit was reached.
    private(set) var limitProblem: String?
    /// How many times the kernel's event queue overflowed (each one read every tree again).
    private(set) var overflows = 0

    init() throws(SyscallError) { inotify = try Inotify() }

    // MARK: - What is watched

    /// Watches what `config` says for `app` (nil: nothing); a no-op when it already does.
    /// Returns the problem, if the watch limit was reached.
    func set(_ app: AppID, _ config: Config?) {
        if watches[app]?.config == config { return }
        remove(app)
        guard let config else { return }
        watches[app] = AppWatch(config: config)
        for root in config.roots { _ = addRoot(root, for: app, countFiles: false) }
    }

    func remove(_ app: AppID) {
        guard let watch = watches.removeValue(forKey: app) else { return }
        for wd in watch.directories { directories[wd]?.apps.remove(app) }
        for wd in watch.parents { directories[wd]?.rootsOf[app] = nil }
        for wd in watch.directories.union(watch.parents) { releaseIfUnused(wd) }
    }

    /// Watches `root` for `app`; true when files were found in directories added now (with
    /// `countFiles`: files made before the watch existed count as a change).
    private func addRoot(_ root: String, for app: AppID, countFiles: Bool) -> Bool {
        switch SVLinux.Directory.kind(root) {
        case .missing:
            watches[app]?.missingRoots.insert(root)
            watchParent(of: root, for: app)
            return false
        case .symlink:
            // `current -> releases/N`: the link's folder is watched too, so a flip is seen.
            watchParent(of: root, for: app)
            watches[app]?.missingRoots.remove(root)
            if SVLinux.Directory.isDirectory(root) { return addTree(root, for: app, countFiles: countFiles) }
            _ = addDirectory(Self.parent(of: root), for: app)
            return false
        case .directory:
            // Its folder too: a process's cwd inside it keeps the inode alive, so removing the
            // root sends no event on the root itself, only on its folder.
            watchParent(of: root, for: app)
            watches[app]?.missingRoots.remove(root)
            return addTree(root, for: app, countFiles: countFiles)
        case .other:
            // A file: its folder, filtered to it.
            watches[app]?.missingRoots.remove(root)
            _ = addDirectory(Self.parent(of: root), for: app)
            return false
        }
    }

    private func addTree(_ path: String, for app: AppID, countFiles: Bool) -> Bool {
        guard let wd = addDirectory(path, for: app) else { return false }
        if !countFiles, let known = directories[wd]?.subdirectories {
            for name in known.sorted() {
                let child = path + "/" + name
                if !isIgnored(child, for: app) { _ = addTree(child, for: app, countFiles: false) }
            }
            return false
        }
        guard let entries = SVLinux.Directory.entries(path) else { return false }
        directories[wd]?.subdirectories = Set(entries.filter(\.isDirectory).map(\.name))
        var found = false
        for entry in entries {
            let child = path + "/" + entry.name
            guard !isIgnored(child, for: app) else { continue }
            if entry.isDirectory {
                if addTree(child, for: app, countFiles: countFiles) { found = true }
            } else if countFiles {
                found = true
            }
        }
        return found
    }

    private func addDirectory(_ path: String, for app: AppID) -> Int32? {
        switch inotify.add(directory: path) {
        case .success(let wd):
            if directories[wd] == nil { directories[wd] = Directory(path: path) }
            directories[wd]?.apps.insert(app)
            watches[app]?.directories.insert(wd)
            return wd
        case .failure(let errno):
            if errno == .noSpace && limitProblem == nil {
                limitProblem =
                    "the kernel's inotify watch limit is reached (fs.inotify.max_user_watches = \(Inotify.maxUserWatches)): raise it with `sysctl fs.inotify.max_user_watches=524288` (and in /etc/sysctl.d to keep it); apps are supervised, some changes are not seen"
            }
            return nil
        }
    }

    private func watchParent(of root: String, for app: AppID) {
        guard case .success(let wd) = inotify.add(directory: Self.parent(of: root)) else { return }
        if directories[wd] == nil { directories[wd] = Directory(path: Self.parent(of: root)) }
        directories[wd]?.rootsOf[app, default: []].insert(root)
        watches[app]?.parents.insert(wd)
    }

    private func releaseIfUnused(_ wd: Int32) {
        guard let directory = directories[wd], directory.isUnused else { return }
        directories[wd] = nil
        inotify.remove(wd)
    }

    /// Stops watching `path` and what is below it, for `app`.
    private func removeSubtree(_ path: String, for app: AppID) {
        guard let watch = watches[app] else { return }
        for wd in watch.directories {
            guard let directory = directories[wd], directory.path == path || directory.path.hasPrefix(path + "/") else { continue }
            directories[wd]?.apps.remove(app)
            watches[app]?.directories.remove(wd)
            releaseIfUnused(wd)
        }
    }

    // MARK: - Filters

    private func root(of path: String, for app: AppID) -> String? {
        watches[app]?.config.roots.first { path == $0 || path.hasPrefix($0 + "/") }
    }

    func isIgnored(_ path: String, for app: AppID) -> Bool {
        guard let config = watches[app]?.config else { return true }
        let base = root(of: path, for: app) ?? Self.parent(of: path)
        let relative = path == base ? "" : String(path.dropFirst(base.count + 1))
        let components = relative.split(separator: "/").map(String.init)
        for pattern in config.ignore {
            if pattern.contains("/") {
                if SVLinux.Directory.matches(pattern, relative) { return true }
            } else if components.contains(where: { SVLinux.Directory.matches(pattern, $0) }) {
                return true
            }
        }
        return false
    }

    /// Whether a change at `path` concerns `app`.
    private func concerns(_ path: String, _ app: AppID) -> Bool {
        guard let config = watches[app]?.config, root(of: path, for: app) != nil else { return false }
        if config.logPaths.contains(where: { path == $0 || path.hasPrefix($0 + ".") }) { return false }
        return !isIgnored(path, for: app)
    }

    // MARK: - Events

    /// Reads every pending event: the apps with a change, each with its first changed path.
    func drain(using buffer: UnsafeMutableRawBufferPointer) -> [(AppID, String)] {
        var changed: [AppID: String] = [:]
        var order: [AppID] = []
        func note(_ app: AppID, _ path: String) {
            if changed[app] == nil {
                changed[app] = path
                order.append(app)
            }
        }
        while let events = inotify.read(into: buffer) {
            for event in events { handle(event, note: note) }
        }
        return order.map { ($0, changed[$0]!) }
    }

    private func handle(_ event: Inotify.Event, note: (AppID, String) -> Void) {
        if event.isOverflow {
            // Events were lost: every app counts as changed, and its tree is read again.
            overflows += 1
            for wd in directories.keys { directories[wd]?.subdirectories = nil }
            for (app, watch) in watches {
                note(app, "(events lost: the inotify queue overflowed)")
                let config = watch.config
                remove(app)
                set(app, config)
            }
            return
        }
        guard let directory = directories[event.wd] else { return }
        if event.has(Int32(IN_IGNORED)) || event.has(Int32(IN_DELETE_SELF)) || event.has(Int32(IN_MOVE_SELF)) {
            directoryGone(event.wd)
            return
        }
        let path = event.name.isEmpty ? directory.path : directory.path + "/" + event.name
        if event.isDirectory && !event.name.isEmpty {
            if event.has(Int32(IN_CREATE)) || event.has(Int32(IN_MOVED_TO)) {
                directories[event.wd]?.subdirectories?.insert(event.name)
            } else if event.has(Int32(IN_DELETE)) || event.has(Int32(IN_MOVED_FROM)) {
                directories[event.wd]?.subdirectories?.remove(event.name)
            }
        }
        // A root replaced (a symlink flipped), gone, or back (a deleted folder made again).
        let replaced = event.has(Int32(IN_CREATE)) || event.has(Int32(IN_DELETE)) || event.has(Int32(IN_MOVED_FROM))
            || event.has(Int32(IN_MOVED_TO))
        for (app, roots) in directory.rootsOf where replaced && roots.contains(path) {
            removeSubtree(path, for: app)
            if SVLinux.Directory.kind(path) == .missing {
                watches[app]?.missingRoots.insert(path)
            } else {
                _ = addRoot(path, for: app, countFiles: true)
                note(app, path)
            }
        }
        for app in directory.apps where concerns(path, app) {
            if event.isDirectory && (event.has(Int32(IN_CREATE)) || event.has(Int32(IN_MOVED_TO))) {
                _ = addTree(path, for: app, countFiles: true)
            } else if event.isDirectory && (event.has(Int32(IN_MOVED_FROM)) || event.has(Int32(IN_DELETE))) {
                removeSubtree(path, for: app)
            }
            note(app, path)
        }
    }

    /// The kernel dropped a watch (the folder was deleted or moved): forget it; a root that
    /// went is waited for in its parent.
    private func directoryGone(_ wd: Int32) {
        guard let directory = directories.removeValue(forKey: wd) else { return }
        inotify.remove(wd)
        for app in directory.apps {
            watches[app]?.directories.remove(wd)
            if watches[app]?.config.roots.contains(directory.path) == true {
                removeSubtree(directory.path, for: app)
                watches[app]?.missingRoots.insert(directory.path)
                watchParent(of: directory.path, for: app)
            }
        }
        for app in directory.rootsOf.keys { watches[app]?.parents.remove(wd) }
    }

    // MARK: - Status

    /// For `describe`: what is watched, and what is not.
    func status(of app: AppID) -> JSON? {
        guard let watch = watches[app] else { return nil }
        var object = JSONObject([
            ("roots", .array(watch.config.roots.map { .string($0) })),
            ("ignore", .array(watch.config.ignore.map { .string($0) })),
            ("directories", .int(Int64(watch.directories.count))),
        ])
        if !watch.missingRoots.isEmpty {
            object["missing"] = .array(watch.missingRoots.sorted().map { .string($0) })
        }
        if let limitProblem { object["problem"] = .string(limitProblem) }
        return .object(object)
    }

    static func parent(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/"), slash != path.startIndex else { return "/" }
        return String(path[..<slash])
    }
}
