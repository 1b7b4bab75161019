import Glibc
import SVCore
import SVLinux
import SVStore
import SystemPackage

/// What a crashed svd left running of one app (issue 11, docs/state.md): every live process of
/// the sessions of its open runs, each pinned by a pidfd so that a signal never reaches a later
/// process of the same pid. The app's machine stops them like a stop of that run (kill signal,
/// SIGKILL after the kill timeout) while the loop serves clients and runs the other apps.
final class Leftover {
    /// The run the machine stops: the newest of the app's runs found alive.
    let run: RunID
    /// The session the machine knows as that run's pid.
    let leader: Int32
    /// Every session being emptied (usually one).
    var sessions: Set<Int32>
    /// The live members, by their pidfd's number (an epoll token).
    var members: [Int32: (pid: Int32, handle: PidFD)] = [:]
    /// The last signal sent: a member found later gets it too.
    var signal: Signal?
    /// The earliest start time of the runs: no member of theirs started before it.
    let notBefore: UInt64

    init(run: RunID, leader: Int32, sessions: Set<Int32>, notBefore: UInt64) {
        self.run = run
        self.leader = leader
        self.sessions = sessions
        self.notBefore = notBefore
    }
}

/// One run found alive at restore: its app, run, session and when it started.
struct FoundRun {
    let app: AppID
    let run: RunID
    let session: Int32
    let startTicks: UInt64
    /// Not in sv.db: the previous svd spawned it and died before committing (found by its mark).
    let unrecorded: Bool
}

extension Daemon {
    /// The variables every run carries (EffectPerformer.spawn): the mark that tells a process
    /// of this SV_HOME's svd whose run was never committed.
    static let markHome = "SV_HOME"
    static let markApp = "SV_APP_ID"
    static let markRun = "SV_RUN"

    /// The runs of the previous svd still alive: one scan of /proc.
    /// - A recorded open run (this boot) whose session has live members: they are its processes
    ///   if its leader is gone (a session id cannot be reused while any member lives), or if the
    ///   leader is the recorded process (same start time).
    /// - With `crashed` (the previous svd did not shut down), a session leader carrying this
    ///   home's mark with a run newer than the app's last recorded one: spawned, never committed.
    func findLeftovers(openRuns: [AppID: [RunRow]], lastRuns: [AppID: Int], crashed: Bool) -> [FoundRun] {
        let sessions = ProcFS.processesBySession()
        var found: [FoundRun] = []
        var claimed: Set<Int32> = []
        for (app, runs) in openRuns {
            for run in runs where run.bootID == bootID && run.pid > 0 {
                let session = Int32(truncatingIfNeeded: run.pid)
                guard let members = sessions[session], !members.isEmpty else { continue }
                if let leader = members.first(where: { $0.pid == session }), Int64(leader.startTicks) != run.startTicks {
                    continue  // the pid now leads another session: a stranger's
                }
                claimed.insert(session)
                found.append(
                    FoundRun(app: app, run: RunID(Int(run.run)), session: session, startTicks: UInt64(max(run.startTicks, 0)), unrecorded: false))
            }
        }
        guard crashed else { return found }
        for (session, members) in sessions where !claimed.contains(session) && session != getpid() {
            guard let leader = members.first(where: { $0.pid == session }),
                let environment = ProcFS.environment(of: session), environment[Self.markHome] == home.root,
                let id = environment[Self.markApp].flatMap({ Int($0) }), let last = lastRuns[AppID(id)],
                let run = environment[Self.markRun].flatMap({ Int($0) }), run > last
            else { continue }
            found.append(FoundRun(app: AppID(id), run: RunID(run), session: session, startTicks: leader.startTicks, unrecorded: true))
        }
        return found
    }

    /// Starts stopping what `found` names for `app`: pins the members, feeds `.leftoverFound`.
    func stopLeftovers(of app: App, _ found: [FoundRun]) {
        guard let newest = found.max(by: { $0.run < $1.run }) else { return }
        let leftover = Leftover(
            run: newest.run, leader: newest.session, sessions: Set(found.map(\.session)),
            notBefore: found.map(\.startTicks).min() ?? 0)
        app.leftover = leftover
        pinMembers(of: leftover, app: app)
        let sessions = found.map { "session \($0.session)\($0.unrecorded ? " (spawned, never recorded)" : "")" }
        log.warning("\(app.name) (id \(app.id)): the previous svd left \(leftover.members.count) processes running (\(sessions.joined(separator: ", "))): stopping them")
        let run = AppMachine.Run(id: newest.run, pid: ProcessID(newest.session), since: SystemClock.now)
        feed(app, .leftoverFound(run: run))
        if leftover.members.isEmpty { leftoverEmptied(app) }
    }

    /// Pins every live member of the leftover's sessions not pinned yet (a member may have forked
    /// since): a pidfd, then the member checked again through /proc with the pidfd held.
    private func pinMembers(of leftover: Leftover, app: App) {
        let pinned = Set(leftover.members.values.map(\.pid))
        for session in leftover.sessions {
            for member in ProcFS.members(ofSession: session)
            where !pinned.contains(member.pid) && member.startTicks >= leftover.notBefore {
                guard let handle = PidFD(ProcessID(member.pid)) else { continue }
                guard let stat = ProcFS.stat(of: member.pid), stat.session == session, stat.startTicks == member.startTicks,
                    stat.state != UInt8(ascii: "Z")
                else { continue }
                do {
                    try epoll.add(handle.fd, for: .readable, token: Token(.leftover, Int(handle.fd.rawValue)).rawValue)
                } catch {
                    log.error("\(app.name) (id \(app.id)): cannot watch pid \(member.pid) of the previous svd: \(error)")
                    continue
                }
                leftover.members[handle.fd.rawValue] = (member.pid, handle)
                leftoverOwners[handle.fd.rawValue] = app.id
                if let signal = leftover.signal { handle.send(signal) }
            }
        }
    }

    /// The machine's `.signalGroup` for a leftover run: every member of its sessions.
    func signalLeftover(_ app: App, _ signal: Signal) {
        guard let leftover = app.leftover else { return }
        leftover.signal = signal
        pinMembers(of: leftover, app: app)
        for (_, member) in leftover.members { member.handle.send(signal) }
    }

    /// A pinned member exited (its pidfd turned readable).
    func handleLeftoverExit(fd: Int32) {
        guard let id = leftoverOwners.removeValue(forKey: fd), let app = apps[id], let leftover = app.leftover,
            let member = leftover.members.removeValue(forKey: fd)
        else { return }
        epoll.remove(member.handle.fd)
        if leftover.members.isEmpty {
            // Something may have forked meanwhile: pinned (and signalled) before the sessions count as empty.
            pinMembers(of: leftover, app: app)
            if leftover.members.isEmpty { leftoverEmptied(app) }
        }
    }

    private func leftoverEmptied(_ app: App) {
        guard let leftover = app.leftover else { return }
        app.leftover = nil
        log.info("\(app.name) (id \(app.id)): what the previous svd left running is gone")
        feed(app, .groupEmptied(run: leftover.run))
    }

    /// Forgets a leftover (its app is removed): the pidfds close.
    func dropLeftover(of app: App) {
        guard let leftover = app.leftover else { return }
        for (fd, member) in leftover.members {
            epoll.remove(member.handle.fd)
            leftoverOwners[fd] = nil
        }
        app.leftover = nil
    }
}
