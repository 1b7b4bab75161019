import Glibc
import SVCore
import SVLinux
import SVProtocol
import SVStore
import SystemPackage

/// One connection on the control socket: NDJSON in, NDJSON out (design.md §6).
final class ControlClient {
    let fd: FileDescriptor
    var input = LineBuffer()
    var output: [UInt8] = []
    var closeAfterFlush = false

    /// A client that reads nothing gets at most this much queued, then is dropped: a slow client
    /// never blocks the loop or grows svd without bound.
    static let outputLimit = 32 << 20

    init(fd: FileDescriptor) { self.fd = fd }
}

extension Daemon {
    func acceptClients() {
        while let fd = UnixSocket.accept(listener) {
            // Only svd's own user (or root) is served (design.md §6).
            guard let uid = UnixSocket.peerUID(fd), uid == getuid() || uid == 0 else {
                log.warning("refused a control connection from another user")
                fd.closeQuietly()
                continue
            }
            let id = nextClientID
            nextClientID += 1
            clients[id] = ControlClient(fd: fd)
            do {
                try epoll.add(fd, for: .readable, token: Token(.client, id).rawValue)
            } catch {
                clients[id] = nil
                fd.closeQuietly()
            }
        }
    }

    func handleClient(id: Int, readiness: Epoll.Readiness) {
        guard let client = clients[id] else { return }
        if readiness.contains(.writable) { flush(id) }
        guard readiness.contains(.readable) || readiness.contains(.hangup) else { return }
        while clients[id] != nil {
            let n: Int?
            do { n = try client.fd.readAvailable(into: buffer) } catch { n = 0 }
            guard let count = n else { return }
            if count == 0 {
                drop(id)
                return
            }
            let lines: [[UInt8]]
            do {
                lines = try client.input.append(UnsafeRawBufferPointer(rebasing: buffer[0..<count]))
            } catch {
                send(Reply(id: 0, outcome: .failure(ReplyError(.badRequest, error.description))), to: id, thenClose: true)
                return
            }
            for line in lines where !line.isEmpty {
                handleFrame(line, from: id)
                if clients[id]?.closeAfterFlush ?? true { return }
            }
        }
    }

    private func handleFrame(_ line: [UInt8], from client: Int) {
        let json: JSON
        do { json = try JSON.parse(line) } catch {
            send(Reply(id: 0, outcome: .failure(ReplyError(.badRequest, "malformed frame: \(error)"))), to: client, thenClose: true)
            return
        }
        let id = json["id"]?.intValue.map(Int.init) ?? 0
        // The version is checked before the arguments: a newer sv's request may not parse here.
        // Only the frozen requests are served across versions (design.md §6).
        if let version = json["v"]?.intValue, version != Int64(protocolVersion),
            !RequestFrame.frozenCommands.contains(json["cmd"]?.stringValue ?? "")
        {
            let message = "svd is version \(svVersion) (protocol \(protocolVersion)); run `sv update`"
            send(Reply(id: id, outcome: .failure(ReplyError(.versionMismatch, message))), to: client)
            return
        }
        let frame: RequestFrame
        do { frame = try RequestFrame(json: json) } catch {
            send(Reply(id: id, outcome: .failure(ReplyError(.badRequest, error.description))), to: client, thenClose: true)
            return
        }
        let hadProblem = storeProblem != nil
        if var outcome = handle(frame.request, client: client, requestID: frame.id) {
            // Written through: a change that cannot be committed is not reported as done.
            flushStore()
            if !hadProblem, let problem = storeProblem, case .success = outcome {
                outcome = .failure(
                    ReplyError(
                        .failed,
                        "done, but not saved in \(store.path): \(problem); it is lost if svd restarts (free some disk space)"))
            }
            send(Reply(id: frame.id, outcome: outcome), to: client)
        }
    }

    func send(_ reply: Reply, to id: Int, thenClose: Bool = false) {
        // Written through: what the command changed is committed before its reply (design.md §5).
        flushStore()
        guard let client = clients[id] else { return }
        client.output.append(contentsOf: reply.json.serializedBytes)
        client.output.append(0x0A)
        if thenClose { client.closeAfterFlush = true }
        if client.output.count > ControlClient.outputLimit {
            log.warning("dropped a control client that does not read its replies")
            drop(id)
            return
        }
        flush(id)
    }

    private func flush(_ id: Int) {
        guard let client = clients[id] else { return }
        while !client.output.isEmpty {
            let written: Int
            do {
                written = try client.output.withUnsafeBytes { (bytes) throws(SyscallError) in
                    try client.fd.writeAvailable(bytes)
                }
            } catch {
                drop(id)
                return
            }
            if written == 0 {
                try? epoll.modify(client.fd, for: [.readable, .writable], token: Token(.client, id).rawValue)
                return
            }
            client.output.removeFirst(written)
        }
        if client.closeAfterFlush {
            drop(id)
        } else {
            try? epoll.modify(client.fd, for: .readable, token: Token(.client, id).rawValue)
        }
    }

    func drop(_ id: Int) {
        guard let client = clients.removeValue(forKey: id) else { return }
        epoll.remove(client.fd)
        client.fd.closeQuietly()
    }

    /// Sends the replies whose apps have settled.
    func settleWaiters() {
        guard !waiters.isEmpty else { return }
        var pending: [Waiter] = []
        for waiter in waiters {
            let settled = waiter.apps.allSatisfy { id in
                guard let app = apps[id] else { return true }
                switch app.machine.phase {
                case .stopping, .launching: return false
                case .stopped, .running, .waitingRestart, .errored: return true
                }
            }
            guard settled else {
                pending.append(waiter)
                continue
            }
            switch waiter.then {
            case .replyApps:
                let infos = appInfos(waiter.apps.compactMap { apps[$0] })
                send(Reply(id: waiter.request, outcome: .success(infos)), to: waiter.client)
            case .reply(let result):
                send(Reply(id: waiter.request, outcome: .success(result)), to: waiter.client)
            case .replyKilled:
                send(
                    Reply(id: waiter.request, outcome: .success(.object(JSONObject([("stopped", .int(Int64(waiter.apps.count)))])))),
                    to: waiter.client)
                exitAfterReplyTo = waiter.client
            }
        }
        waiters = pending
    }

    func appInfos(_ list: [App]) -> JSON {
        let now = SystemClock.now
        let ticks = ProcFS.uptimeTicks()
        let totals = processTotals(of: list)
        return .array(list.sorted { $0.id < $1.id }.map { $0.info(now: now, uptimeTicks: ticks, totals: totals).json })
    }

    /// Memory and CPU of the running apps' process trees, only when asked: each tree walked
    /// from its leader (a scan of all of /proc costs ~10 µs for every process of the machine),
    /// the leaders' files kept open across lists.
    func processTotals(of list: [App]) -> [Int32: ProcFS.SessionTotals] {
        ProcFS.treeTotals(of: list.compactMap { app in app.machine.process.map { ($0.pid.rawValue, app.processFiles()) } })
    }
}
