import CShims
import Glibc
import HeapModule
import Logging
import SVCore
import SVLinux
import SVProtocol
import SVStore
import SystemPackage

/// svd: one thread, one epoll loop (design.md §1). Every source of work is a descriptor in one
/// epoll set; nothing sleeps, nothing polls, nothing takes a lock.
final class Daemon {
    let home: StateDirectory
    let log: Logger
    let epoll: Epoll
    let signals: SignalFD
    var timer: TimerFD
    let listener: FileDescriptor
    let lock: FileDescriptor
    var startedAt = SystemClock.now
    /// 1 at start, +1 per `sv update` (the handover carries it).
    var execGeneration = 1
    /// Set by `sv update` once the new svd accepted: exec at the end of this iteration.
    var pendingExec: PendingExec?
    /// The NOFILE soft limit and umask svd found at start: restored in every app (design.md §1).
    let appNofileSoft: UInt64?
    let appUmask: mode_t

    var apps: [AppID: App] = [:]
    /// `sv.db`, written through (Persistence.swift).
    let store: Store
    var pendingWrites: [StoreWrite] = []
    /// Why the last write to `sv.db` failed, until one succeeds: state changes are refused meanwhile.
    var storeProblem: String?
    let bootID = ProcFS.bootID()
    /// Captured environments seen lately: apps started from one shell share one copy (a
    /// dictionary is copy-on-write), about 5 kB less per app.
    var environments: [[String: String]] = []
    var appsByPid: [ProcessID: AppID] = [:]
    /// The app of each pidfd pinning a process the previous svd left running (Leftovers.swift).
    var leftoverOwners: [Int32: AppID] = [:]
    var clients: [Int: ControlClient] = [:]
    var nextClientID = 1
    var timers = Heap<PendingTimer>()
    /// Timers in the heap that will still fire; a cancelled one leaves this set for
    /// `cancelledTimers` and is dropped when it reaches the top of the heap.
    var liveTimers: Set<TimerKey> = []
    var cancelledTimers: Set<TimerKey> = []
    var waiters: [Waiter] = []
    var wakeups = 0
    var exitCode: Int32?
    /// After `kill`: exit once this client's reply is written (or the client is gone).
    var exitAfterReplyTo: Int?
    /// Set by SIGTERM/SIGINT or `kill`: exit once every app has stopped.
    var isShuttingDown = false
    /// libsystemd when svd runs under systemd (Systemd.swift), and the watchdog's own timer.
    var systemd: Systemd?
    /// Cron restarts (Schedules.swift): the local zone, each app's next firing (wall seconds),
    /// the wall-clock timer armed at the earliest, created when first needed.
    /// Read when the first schedule needs it (no TZif parsing in an svd without cron apps).
    lazy var localZone: (rules: TimeZoneRules, source: String) = LocalZone.rules(tz: getenv("TZ").map { String(cString: $0) })
    var zoneLogged = false
    var cronNext: [AppID: Int64] = [:]
    var cronTimer: WallTimerFD?
    /// `--watch` (Watch.swift): the one inotify descriptor, created when the first app
    /// watches; each app's pending restart (after its quiet time) and the timer for them.
    var watcher: Watcher?
    var watchPending: [AppID: (deadline: Instant, path: String)] = [:]
    var watchTimer: TimerFD?
    /// The memory limit's sampler (Limits.swift): armed only while some app has a limit.
    var memoryTimer: TimerFD?
    /// What to bring up to date after the iteration: everything when an app is created, removed
    /// or given new options; only the watches or the sampler for a desired-state change of a
    /// watched app or an event of a limited one (no cron recomputation per process event).
    var pendingRefresh: Refresh = []
    var watchdogTimer: TimerFD?
    var watchdogInterval: Duration?
    private var lastStatus = ""
    /// The one read buffer every pipe shares (design.md §7).
    let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 64 * 1024, alignment: 16)

    init(
        home: StateDirectory, log: Logger, lock: FileDescriptor, store: Store, appNofileSoft: UInt64?, appUmask: mode_t,
        inheritedListener: FileDescriptor? = nil
    ) throws(SyscallError) {
        self.home = home
        self.store = store
        self.log = log
        self.lock = lock
        self.appNofileSoft = appNofileSoft
        self.appUmask = appUmask
        epoll = try Epoll()
        signals = try SignalFD(Daemon.handledSignals)
        timer = try TimerFD()
        if let inheritedListener {
            listener = inheritedListener  // `sv update`: the same socket, never unbound
        } else {
            // Only the lock holder may remove a stale socket (design.md §1).
            unlink(home.socket)
            listener = try UnixSocket.listen(path: home.socket)
            _ = try syscall("chmod \(home.socket)") { chmod(home.socket, 0o600) }
        }
        try epoll.add(signals.fd, for: .readable, token: Token.signals.rawValue)
        try epoll.add(timer.fd, for: .readable, token: Token.timer.rawValue)
        try epoll.add(listener, for: .readable, token: Token.listener.rawValue)
    }

    static let handledSignals: [Signal] = [Signal(17), .term, .int, .hup]  // SIGCHLD first

    /// Runs until shutdown; returns the exit code.
    func run() -> Int32 {
        // Timers restored or adopted before the loop: armed before the first wait.
        armTimer()
        while exitCode == nil {
            do {
                _ = try epoll.wait(timeoutMs: -1) { event in dispatch(event) }
            } catch {
                log.critical("epoll_wait failed: \(error)")
                return 1
            }
            wakeups += 1
            afterIteration()
        }
        flushStore()
        unlink(home.socket)
        return exitCode ?? 0
    }

    private func dispatch(_ event: Epoll.Event) {
        let token = Token(rawValue: event.token)
        switch token.kind {
        case .signals: handleSignals()
        case .timer: handleTimers()
        case .listener: acceptClients()
        case .client: handleClient(id: token.value, readiness: event.readiness)
        case .stdout: apps[AppID(token.value)]?.stdout.drain(using: buffer)
        case .stderr: apps[AppID(token.value)]?.stderr.drain(using: buffer)
        case .ipc: handleIPC(app: AppID(token.value), readiness: event.readiness)
        case .watchdog: pingWatchdog()
        case .cron: handleCronTimer()
        case .memory: sampleMemory()
        case .inotify: handleWatchEvents()
        case .watchDelay: handleWatchTimer()
        case .leftover: handleLeftoverExit(fd: Int32(token.value))
        }
    }

    /// Work that follows every batch of events: pending replies, the timer descriptor, shutdown.
    private func afterIteration() {
        flushStore()
        settleWaiters()
        if let exec = pendingExec {
            pendingExec = nil
            performExec(exec)
        }
        if !pendingRefresh.isEmpty {
            let refresh = pendingRefresh
            pendingRefresh = []
            applyOptions(refresh)
        }
        if systemd != nil { reportStatus() }
        if let client = exitAfterReplyTo, (clients[client]?.output.isEmpty ?? true) { exitCode = 0 }
        armTimer()
        if isShuttingDown && apps.values.allSatisfy({ $0.machine.process == nil && !isDraining($0) }) && waiters.isEmpty {
            exitCode = 0
        }
    }

    /// Under systemd: READY=1 (after the apps are restored or adopted), the watchdog armed.
    func announceReady() {
        guard let systemd else { return }
        reportStatus(ready: true)
        if let interval = systemd.watchdogPingInterval {
            // Without its timer systemd would kill svd at every WatchdogSec: say so loudly.
            guard let timer = try? TimerFD() else {
                log.critical("cannot create the watchdog timer: systemd will restart svd")
                return
            }
            do { try epoll.add(timer.fd, for: .readable, token: Token(.watchdog, 0).rawValue) } catch {
                log.critical("cannot watch the watchdog timer (\(error)): systemd will restart svd")
                return
            }
            watchdogTimer = consume timer
            watchdogInterval = interval
            systemd.notify("WATCHDOG=1")
            watchdogTimer?.arm(at: SystemClock.now + interval)
        }
    }

    /// `STATUS=` with the counts, sent when they change ("3 online, 1 errored").
    func reportStatus(ready: Bool = false) {
        var counts: [AppStatus: Int] = [:]
        for app in apps.values { counts[app.machine.status, default: 0] += 1 }
        let parts = AppStatus.allCases.compactMap { status in counts[status].map { "\($0) \(status.rawValue)" } }
        let status = parts.isEmpty ? "no apps" : parts.joined(separator: ", ")
        guard ready || status != lastStatus else { return }
        lastStatus = status
        systemd?.notify((ready ? "READY=1\n" : "") + "STATUS=" + status)
    }

    private func pingWatchdog() {
        guard let interval = watchdogInterval else { return }
        watchdogTimer?.acknowledge()
        systemd?.notify("WATCHDOG=1")
        watchdogTimer?.arm(at: SystemClock.now + interval)
    }

    private func isDraining(_ app: App) -> Bool {
        if case .stopping = app.machine.phase { return true }
        return false
    }

    // MARK: - Signals and children

    private func handleSignals() {
        for signal in signals.drain() {
            switch signal.rawValue {
            case 17: reapChildren()
            case Signal.term.rawValue, Signal.int.rawValue:
                log.info("\(signal.name) received: stopping every app (desired states kept), then exiting")
                beginShutdown(event: .shutdownRequested)
            default:
                break  // SIGHUP: log reopening comes with the logs issue; ignoring it keeps svd alive.
            }
        }
    }

    /// Reaps every exited child (STYLE.md 20). An app's leader is peeked first, so its group
    /// gets the kill signal while the group id is still reserved by the zombie (design.md §1).
    func reapChildren() {
        var draining = false
        while let pid = Reaper.peek() {
            let owner = appsByPid[pid].flatMap { apps[$0] }
            if let owner, let process = owner.machine.process, process.pid == pid {
                feed(owner, .leaderExiting(run: process.run))
            }
            guard let status = Reaper.reap(pid) else { break }
            guard let owner, let process = owner.machine.process, process.pid == pid else {
                appsByPid[pid] = nil
                draining = true  // a grandchild: some draining group may now be empty
                continue
            }
            appsByPid[pid] = nil
            let groupEmpty = !Reaper.groupExists(pid)
            feed(owner, .exited(status, run: process.run, groupEmpty: groupEmpty))
            if !groupEmpty { draining = true }
        }
        // Leftovers of groups being drained: each reap may have emptied one.
        if draining { checkDrainingGroups() }
    }

    /// Tells each app whose leader is gone but whose group was not whether the group is empty now.
    func checkDrainingGroups() {
        // A leftover of the previous svd is told empty by its pidfds (Leftovers.swift): its
        // sessions may hold other groups than the leader's.
        for app in Array(apps.values) where app.leftover == nil {
            if case .stopping(let stopping) = app.machine.phase, stopping.leaderExited,
                !Reaper.groupExists(stopping.run.pid)
            {
                feed(app, .groupEmptied(run: stopping.run.id))
            }
        }
    }

    // MARK: - Timers

    private func handleTimers() {
        timer.acknowledge()
        // A group may be gone already (its last process was not svd's child): learn it before a
        // kill timeout sends SIGKILL to a group id that could have been reused.
        checkDrainingGroups()
        let now = SystemClock.now
        while let top = timers.min, top.deadline <= now {
            _ = timers.removeMin()
            if cancelledTimers.remove(top.key) != nil { continue }
            liveTimers.remove(top.key)
            guard let app = apps[top.key.app] else { continue }
            feed(app, .timerFired(top.key.timer))
        }
    }

    private func armTimer() {
        while let top = timers.min, cancelledTimers.contains(top.key) {
            _ = timers.removeMin()
            cancelledTimers.remove(top.key)
        }
        timer.arm(at: timers.min?.deadline)
    }

    // MARK: - Apps

    /// Feeds one event to an app's machine and performs the effects (EffectPerformer.swift).
    func feed(_ app: App, _ event: AppEvent) {
        let desired = app.machine.desired
        let effects = app.machine.handle(event, now: SystemClock.now)
        // `sv stop` stops watching, a start watches again.
        if app.machine.desired != desired && app.machine.spec.watch != nil { pendingRefresh.insert(.watches) }
        // The memory sampler ticks only while an app with a limit runs.
        if app.machine.spec.maxMemoryBytes != nil { pendingRefresh.insert(.memorySampler) }
        // Counters, desired state or spec may have changed: written with this iteration's batch.
        pendingWrites.append(.app(app.id))
        perform(effects, for: app)
    }

    func beginShutdown(event: AppEvent) {
        isShuttingDown = true
        // systemd waits while the apps stop in parallel: as long as the longest kill timeout.
        let longest = apps.values.map { $0.machine.spec.policy.killTimeout }.max() ?? .zero
        systemd?.notify("STOPPING=1\nEXTEND_TIMEOUT_USEC=\((longest + .seconds(5)).nanoseconds / 1000)")
        for app in apps.values.sorted(by: { $0.id < $1.id }) { feed(app, event) }
    }

    private func handleIPC(app id: AppID, readiness: Epoll.Readiness) {
        guard let app = apps[id], let channel = app.ipc else { return }
        while true {
            let n: Int?
            do { n = try channel.socket.readAvailable(into: buffer) } catch { n = 0 }
            guard let count = n else { return }  // drained
            if count == 0 {
                closeIPC(app)
                return
            }
            for line in channel.lines.append(UnsafeRawBufferPointer(rebasing: buffer[0..<count])) {
                app.messages += 1
                if let message = try? JSON.parse(line), message == .string("ready") {
                    feed(app, .readyReported(run: channel.run))
                }
            }
        }
    }

    func closeIPC(_ app: App) {
        guard let channel = app.ipc else { return }
        epoll.remove(channel.socket)
        channel.socket.closeQuietly()
        app.ipc = nil
    }
}

/// What an epoll token points at: a kind in the top byte, an id below.
struct Token {
    enum Kind: UInt64 {
        case signals = 1, timer, listener, client, stdout, stderr, ipc, watchdog, cron, memory, inotify, watchDelay, leftover
    }
    let rawValue: UInt64
    init(rawValue: UInt64) { self.rawValue = rawValue }
    init(_ kind: Kind, _ value: Int) { rawValue = kind.rawValue << 56 | UInt64(value) }
    static let signals = Token(.signals, 0)
    static let timer = Token(.timer, 0)
    static let listener = Token(.listener, 0)
    var kind: Kind { Kind(rawValue: rawValue >> 56) ?? .signals }
    var value: Int { Int(rawValue & 0x00FF_FFFF_FFFF_FFFF) }
}

/// What `applyOptions` brings up to date.
struct Refresh: OptionSet {
    let rawValue: Int
    static let cron = Refresh(rawValue: 1)
    static let memorySampler = Refresh(rawValue: 2)
    static let watches = Refresh(rawValue: 4)
    static let all: Refresh = [.cron, .memorySampler, .watches]
}

/// One armed timer of one app.
struct TimerKey: Hashable {
    let app: AppID
    let timer: TimerID
}

struct PendingTimer: Comparable {
    let deadline: Instant
    let key: TimerKey
    static func < (a: PendingTimer, b: PendingTimer) -> Bool { a.deadline < b.deadline }
    static func == (a: PendingTimer, b: PendingTimer) -> Bool { a.deadline == b.deadline && a.key == b.key }
}

/// A reply that waits until its apps have settled (stopped, restarted, removed).
struct Waiter {
    let client: Int
    let request: Int
    let apps: [AppID]
    let then: Then
    enum Then {
        /// The apps as they are once settled.
        case replyApps
        /// A result fixed when the request came (a delete's list: the apps are gone by then).
        case reply(JSON)
        /// The count of stopped apps, then svd exits.
        case replyKilled
    }
}
