import ArgumentParser
import SVCore
import SVProtocol

/// The process table.
struct List: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "list", abstract: "List apps.", aliases: ["ls", "l", "ps", "status"])

    func run() throws {
        let rows: [ListRow]
        do {
            rows = try Render.rows(try Client.connectOrStart().send(.listRows))
        } catch let error as CLIError where error.description.contains("unknown command") {
            // An svd of an older version (before `sv update`): the full list.
            rows = try Render.apps(try Client.connectOrStart().send(.list)).map(ListRow.init)
        }
        say(Render.table(rows), terminator: "")
    }
}

/// The process list as JSON, for scripts (docs/jlist.md).
struct Jlist: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "jlist", abstract: "List apps as JSON (docs/jlist.md).")

    func run() throws { say(try Client.connectOrStart().send(.list).serialized) }
}

struct Prettylist: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "prettylist", abstract: "List apps as indented JSON.")

    func run() throws { say(try Client.connectOrStart().send(.list).pretty) }
}

/// The pids of apps, one a line.
struct Pid: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pid", abstract: "Print the pids of apps, one a line.")
    @OptionGroup var targets: TargetArguments

    func run() throws {
        let reply = try Client.connectOrStart().send(.describe(try targets.resolved()))
        for detail in try Render.details(reply) {
            if let pid = detail.info.pid { say(pid.description) }
        }
    }
}

/// Everything about apps: spec, status, restarts, recent runs, the next retry.
struct Describe: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "describe", abstract: "Show everything about an app.", aliases: ["show", "info"])
    @OptionGroup var targets: TargetArguments
    @Flag(help: "Print JSON (an array: one object per instance, with its recent runs).") var json = false
    @Flag(help: "Also print the environment's values (hidden otherwise).") var env = false

    func run() throws {
        let reply = try Client.connectOrStart().send(.describe(try targets.resolved()))
        if json {
            say(reply.pretty)
            return
        }
        let details = try Render.details(reply)
        let values = env ? try Client.connectOrStart().send(.environment(try targets.resolved())).arrayValue ?? [] : []
        for (n, detail) in details.enumerated() {
            if n > 0 { say("") }
            defer {
                if let entry = values.first(where: { $0["id"]?.intValue == Int64(detail.info.id.rawValue) }),
                    case .object(let variables)? = entry["env"]
                {
                    say("\nenvironment:")
                    for (key, value) in variables.pairs { say("  \(key)=\(value.stringValue ?? "")") }
                }
            }
            let raw = reply.arrayValue?[n]
            say(
                Self.render(
                    detail, dropped: raw?["droppedLogBytes"]?.intValue ?? 0, lastError: raw?["lastLogError"]?.stringValue,
                    watch: raw?["watch"], nextCron: raw?["nextCronRestartAtMs"]?.intValue), terminator: "")
        }
    }

    /// Watching, the memory limit and the cron schedule, when the app has them.
    static func watchAndLimitRows(_ spec: AppSpec, watch: JSON?, nextCron: Int64?) -> [[String]] {
        var rows: [[String]] = []
        if spec.watch != nil {
            if let watch {
                let roots = watch["roots"]?.arrayValue?.compactMap(\.stringValue).joined(separator: ", ") ?? ""
                rows.append(["watching", "\(roots) (\(watch["directories"]?.intValue ?? 0) directories)"])
                rows.append(["ignored", watch["ignore"]?.arrayValue?.compactMap(\.stringValue).joined(separator: ", ") ?? ""])
                if let missing = watch["missing"]?.arrayValue?.compactMap(\.stringValue), !missing.isEmpty {
                    rows.append(["watch root missing", missing.joined(separator: ", ") + " (watching resumes when it is back)"])
                }
                if let problem = watch["problem"]?.stringValue { rows.append(["watch problem", problem]) }
            } else {
                rows.append(["watching", "paused (the app is stopped)"])
            }
            rows.append(["watch delay", "\(spec.watchDelayMs ?? AppSpec.defaultWatchDelay.milliseconds) ms"])
        }
        if let limit = spec.maxMemoryBytes {
            let interval = spec.memoryCheckIntervalMs ?? AppSpec.defaultMemoryCheckInterval.milliseconds
            rows.append(["memory limit", "\(Render.bytes(limit)) (the process tree, checked every \(interval) ms)"])
        }
        if let cron = spec.cronRestart {
            let next = nextCron.map { " (next \(Render.timestamp(ms: $0)))" } ?? ""
            rows.append(["cron restart", cron + next])
        }
        return rows
    }

    static func render(
        _ detail: AppDetail, dropped: Int64, lastError: String?, watch: JSON? = nil, nextCron: Int64? = nil
    ) -> String {
        let info = detail.info
        let policy = detail.spec.policy
        var rows: [[String]] = [
            ["id", info.id.description], ["name", info.name], ["status", info.status.rawValue],
            ["desired", info.desired.rawValue], ["pid", info.pid?.description ?? "-"],
            ["uptime", info.uptimeMs.map { Render.duration(ms: $0) } ?? "-"], ["restarts", String(info.restarts)],
            ["unstable runs", String(info.unstableRestarts)], ["last decision", info.lastDecision],
        ]
        if let retry = info.nextRetryInMs { rows.append(["next retry", "in \(retry) ms"]) }
        rows += [
            ["script", info.script], ["interpreter", info.interpreter ?? "none"],
            ["args", info.args.joined(separator: " ")], ["cwd", info.cwd], ["out log", info.outLog],
            ["err log", info.errLog], ["log bytes dropped", String(dropped)], ["last log error", lastError ?? "-"],
            ["log timestamps", detail.spec.timestampFormat?.pattern ?? "off"],
            ["log rotation", "at \(detail.spec.logMaxSize), keep \(detail.spec.logKeepCount)"],
            ["autorestart", policy.autorestart ? "on" : "off"], ["restart delay", "\(policy.restartDelay.milliseconds) ms"],
            ["backoff first step", "\(policy.expBackoffRestartDelay.milliseconds) ms"],
            ["max restarts", String(policy.maxRestarts)], ["min uptime", "\(policy.minUptime.milliseconds) ms"],
            ["kill signal", policy.killSignal.name], ["kill timeout", "\(policy.killTimeout.milliseconds) ms"],
            ["stop exit codes", policy.stopExitCodes.map(String.init).joined(separator: " ")],
            ["env", (Array(detail.spec.env.keys) + Array(detail.spec.capturedEnv.keys)).count.description + " variables (values hidden)"],
            ["ready reported", info.ready ? "yes" : "no"], ["ipc messages", String(detail.messages)],
        ]
        rows += Self.watchAndLimitRows(detail.spec, watch: watch, nextCron: nextCron)
        var out = Render.columns(rows)
        out += "\nrecent runs:\n"
        var table = [["run", "pid", "started", "ended", "duration", "exit", "sigkill", "decision"]]
        for run in detail.runs.reversed() {
            let exit = run.exitCode.map { "code \($0)" } ?? run.signal ?? "-"
            let duration = run.endedAtMs.map { "\($0 - run.startedAtMs) ms" } ?? "running"
            table.append([
                String(run.run), run.pid.description, String(run.startedAtMs), run.endedAtMs.map(String.init) ?? "-",
                duration, exit, run.escalated ? "yes" : "no", run.decision ?? "-",
            ])
        }
        return out + Render.columns(table)
    }
}

/// Is the daemon up (starts it): version, pid, uptime, exec generation, wake-ups.
struct Ping: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ping", abstract: "Check the daemon (starts it).")
    @Flag(help: "Print JSON.") var json = false

    func run() throws { try Self.show(json: json) }

    static func show(json: Bool) throws {
        let reply = try Client.connectOrStart().send(.ping)
        if json {
            say(reply.serialized)
            return
        }
        let info = try JSONCoder.decode(PingInfo.self, from: reply)
        say(
            "svd \(info.version), pid \(info.pid), up \(Render.duration(ms: info.uptimeMs)), exec generation \(info.execGeneration), \(info.wakeups) wake-ups, \(info.apps) apps"
        )
    }
}

/// The environment an app gets, values included: `KEY=VALUE`, one a line.
struct Env: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "env", abstract: "Print the environment an app gets (values included).")
    @Argument(help: "An id or a name.") var target: String

    func run() throws {
        let reply = try Client.connectOrStart().send(.environment([Target(parsing: target)]))
        for entry in reply.arrayValue ?? [] {
            guard case .object(let variables)? = entry["env"] else { continue }
            for (key, value) in variables.pairs { say("\(key)=\(value.stringValue ?? "")") }
        }
    }
}
