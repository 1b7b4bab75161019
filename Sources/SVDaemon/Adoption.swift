import CShims
import Glibc
import SVCore
import SVLinux
import SVProtocol
import SVStore
import SystemPackage

/// The new image's side of `sv update`: read the handover, adopt every app as it was.
extension Daemon {
    /// An app that cannot be adopted: its process is stopped (nobody would read its pipes) and
    /// its descriptors closed, so nothing runs unsupervised.
    private func abandon(_ entry: JSON, fds: [FileDescriptor], why: String) {
        log.error("handover: cannot adopt \(entry["id"]?.intValue ?? -1): \(why); its process is stopped")
        if entry["phase"]?.stringValue == "running", let pid = entry["pid"]?.intValue {
            Reaper.signalGroup(ProcessID(Int32(pid)), .kill)
        }
        for fd in fds { fd.closeQuietly() }
    }

    /// Takes over the apps of the previous image. Their processes are svd's children already
    /// (same pid); what exited during the exec is reaped right after, and no orphan check runs.
    func adopt(_ state: JSON) throws(StoreError) {
        var rows: [Int64: AppRow] = [:]
        for row in try store.apps() { rows[row.id] = row }
        execGeneration = Int(state["execGeneration"]?.intValue ?? 0) + 1
        wakeups = Int(state["wakeups"]?.intValue ?? 0)
        if let ns = state["startedAtNs"]?.intValue { startedAt = Instant(nanoseconds: ns) }
        for entry in state["apps"]?.arrayValue ?? [] {
            let fds = entry["pipes"]?.arrayValue?.compactMap { $0.intValue.map { FileDescriptor(rawValue: Int32($0)) } } ?? []
            let ipcFD = entry["ipc"]?.intValue.map { FileDescriptor(rawValue: Int32($0)) }
            // A spec out of bounds (an older svd stored it) is clamped: the app keeps running.
            guard let rawID = entry["id"]?.intValue, let row = rows[rawID], let (spec, _) = restoredSpec(of: row), fds.count == 6
            else {
                abandon(entry, fds: fds + (ipcFD.map { [$0] } ?? []), why: "its row or descriptors are missing")
                continue
            }
            for fd in fds { _ = sv_set_cloexec(fd.rawValue, 1) }
            let id = AppID(Int(rawID))
            let app: App
            do {
                app = try createApp(
                    spec: spec, restoring: id, instance: Int(row.instance), outPath: row.outLog, errPath: row.errLog,
                    inherited: (Pipe(read: fds[0], write: fds[1]), Pipe(read: fds[2], write: fds[3]), Pipe(read: fds[4], write: fds[5])))
            } catch {
                abandon(entry, fds: fds + (ipcFD.map { [$0] } ?? []), why: error.message)
                continue
            }
            let phase: AppMachine.Phase
            switch entry["phase"]?.stringValue {
            case "running":
                let pid = ProcessID(Int32(entry["pid"]?.intValue ?? 0))
                var run = AppMachine.Run(
                    id: RunID(Int(entry["run"]?.intValue ?? 0)), pid: pid,
                    since: Instant(nanoseconds: entry["sinceNs"]?.intValue ?? 0))
                run.isReady = entry["ready"]?.boolValue ?? false
                phase = .running(run)
                appsByPid[pid] = id
                app.startedAt = WallTime(nanoseconds: (entry["startedAtMs"]?.intValue ?? 0) * 1_000_000)
            case "waitingRestart":
                let timer = TimerID(Int(entry["timer"]?.intValue ?? 0))
                let at = Instant(nanoseconds: entry["atNs"]?.intValue ?? 0)
                phase = .waitingRestart(timer, at: at)
                let key = TimerKey(app: id, timer: timer)
                timers.insert(PendingTimer(deadline: at, key: key))
                liveTimers.insert(key)
            case "errored": phase = .errored
            default: phase = .stopped
            }
            app.machine = AppMachine(
                adopting: app.machine.spec, desired: Desired(rawValue: entry["desired"]?.stringValue ?? "") ?? .stopped, phase: phase,
                restarts: Int(entry["restarts"]?.intValue ?? 0), unstableRuns: Int(entry["unstableRuns"]?.intValue ?? 0),
                lastRun: RunID(Int(entry["lastRun"]?.intValue ?? 0)), lastTimer: TimerID(Int(entry["lastTimer"]?.intValue ?? 0)),
                lastDecision: entry["lastDecision"]?.stringValue ?? "adopted")
            app.messages = Int(entry["messages"]?.intValue ?? 0)
            app.runs = ((try? store.runs(appID: rawID, limit: App.historyLimit)) ?? []).map(Self.record(from:))
            if let ipc = entry["ipc"]?.intValue {
                let socket = FileDescriptor(rawValue: Int32(ipc))
                _ = sv_set_cloexec(socket.rawValue, 1)
                app.ipc = IPCChannel(socket: socket, run: RunID(Int(entry["ipcRun"]?.intValue ?? 0)))
                try? epoll.add(socket, for: .readable, token: Token(.ipc, id.rawValue).rawValue)
            }
        }
        for row in rows.values where apps[AppID(Int(row.id))] == nil && row.desired == Desired.online.rawValue {
            log.warning("\(row.name) (id \(row.id)) was not in the handover: it comes back at the next svd start")
        }
        log.info("svd \(svVersion) took over \(apps.count) apps in place, exec generation \(execGeneration)")
        // Exits during the exec left zombies and a pending SIGCHLD: reap them now.
        reapChildren()
    }
}
