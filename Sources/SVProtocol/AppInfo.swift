import SVCore

/// One instance as `list`, `jlist` and the other replies show it. The `jlist` schema
/// (docs/jlist.md); golden files pin it. Units are in the field names.
public struct AppInfo: Codable, Sendable, Equatable {
    public var id: AppID
    public var name: String
    /// The instance's index among those of its name (0 when there is one).
    public var instance: Int = 0
    /// The app's namespace, if it has one.
    public var namespace: String?
    public var status: AppStatus
    public var desired: Desired
    public var pid: ProcessID?
    /// Wall time the current process started, ms since the epoch.
    public var startedAtMs: Int64?
    public var uptimeMs: Int64?
    public var restarts: Int
    public var unstableRestarts: Int
    /// CPU % of the main process over its life, and its resident memory.
    public var cpuPercent: Double?
    public var memoryBytes: Int64?
    public var script: String
    public var interpreter: String?
    public var args: [String]
    public var cwd: String
    public var outLog: String
    public var errLog: String
    /// The latest decision in words.
    public var lastDecision: String
    /// When the next automatic restart is due, ms from now.
    public var nextRetryInMs: Int64?
    /// The app reported ready (`process.send('ready')`) during this run.
    public var ready: Bool

    public init(
        id: AppID, name: String, status: AppStatus, desired: Desired, restarts: Int, unstableRestarts: Int,
        script: String, interpreter: String?, args: [String], cwd: String, outLog: String, errLog: String,
        lastDecision: String, ready: Bool
    ) {
        self.id = id
        self.name = name
        self.status = status
        self.desired = desired
        self.restarts = restarts
        self.unstableRestarts = unstableRestarts
        self.script = script
        self.interpreter = interpreter
        self.args = args
        self.cwd = cwd
        self.outLog = outLog
        self.errLog = errLog
        self.lastDecision = lastDecision
        self.ready = ready
    }
}

/// One ended run, for `describe`.
public struct RunRecord: Codable, Sendable, Equatable {
    public var run: Int
    public var pid: ProcessID
    public var startedAtMs: Int64
    public var endedAtMs: Int64?
    public var exitCode: Int32?
    public var signal: String?
    /// SIGKILL was needed after the kill timeout.
    public var escalated: Bool
    /// What was decided after it ended.
    public var decision: String?

    public init(run: Int, pid: ProcessID, startedAtMs: Int64) {
        self.run = run
        self.pid = pid
        self.startedAtMs = startedAtMs
        self.escalated = false
    }
}

/// `describe`: the instance, its options, and its recent runs.
public struct AppDetail: Codable, Sendable {
    public var info: AppInfo
    public var spec: AppSpec
    public var runs: [RunRecord]
    public var messages: Int

    public init(info: AppInfo, spec: AppSpec, runs: [RunRecord], messages: Int) {
        self.info = info
        self.spec = spec
        self.runs = runs
        self.messages = messages
    }
}

/// `ping`'s answer.
public struct PingInfo: Codable, Sendable {
    public var version: String
    public var protocolVersion: Int
    public var pid: Int32
    public var uptimeMs: Int64
    public var execGeneration: Int
    /// How many times the loop woke from epoll_wait.
    public var wakeups: Int
    public var apps: Int

    public init(version: String, pid: Int32, uptimeMs: Int64, execGeneration: Int, wakeups: Int, apps: Int) {
        self.version = version
        self.protocolVersion = SVProtocol.protocolVersion
        self.pid = pid
        self.uptimeMs = uptimeMs
        self.execGeneration = execGeneration
        self.wakeups = wakeups
        self.apps = apps
    }
}

/// Splits a byte stream into lines: NDJSON framing, both directions.
public struct LineBuffer: Sendable {
    private var pending: [UInt8] = []
    public let limit: Int
    public init(limit: Int = maxFrameBytes) { self.limit = limit }

    /// Appends bytes; returns the complete lines (without "\n"), or throws when a line exceeds the limit.
    public mutating func append(_ bytes: UnsafeRawBufferPointer) throws(ProtocolError) -> [[UInt8]] {
        var lines: [[UInt8]] = []
        var start = 0
        for (i, byte) in bytes.enumerated() where byte == 0x0A {
            pending.append(contentsOf: bytes[start..<i])
            if pending.count > limit { throw .tooLarge }
            lines.append(pending)
            pending.removeAll(keepingCapacity: true)
            start = i + 1
        }
        pending.append(contentsOf: bytes[start...])
        if pending.count > limit { throw .tooLarge }
        return lines
    }

    public var isEmpty: Bool { pending.isEmpty }
}

extension AppInfo {
    /// The same JSON as its Codable form, built directly: `list` of 1,000 apps spent ~20 ms in the
    /// generic encoder (a golden test keeps the two identical).
    public var json: JSON {
        var o = JSONObject()
        o["id"] = .int(Int64(id.rawValue))
        o["name"] = .string(name)
        o["instance"] = .int(Int64(instance))
        if let namespace { o["namespace"] = .string(namespace) }
        o["status"] = .string(status.rawValue)
        o["desired"] = .string(desired.rawValue)
        if let pid { o["pid"] = .int(Int64(pid.rawValue)) }
        if let startedAtMs { o["startedAtMs"] = .int(startedAtMs) }
        if let uptimeMs { o["uptimeMs"] = .int(uptimeMs) }
        o["restarts"] = .int(Int64(restarts))
        o["unstableRestarts"] = .int(Int64(unstableRestarts))
        if let cpuPercent { o["cpuPercent"] = .double(cpuPercent) }
        if let memoryBytes { o["memoryBytes"] = .int(memoryBytes) }
        o["script"] = .string(script)
        if let interpreter { o["interpreter"] = .string(interpreter) }
        o["args"] = .array(args.map { .string($0) })
        o["cwd"] = .string(cwd)
        o["outLog"] = .string(outLog)
        o["errLog"] = .string(errLog)
        o["lastDecision"] = .string(lastDecision)
        if let nextRetryInMs { o["nextRetryInMs"] = .int(nextRetryInMs) }
        o["ready"] = .bool(ready)
        return .object(o)
    }

    /// Reads the JSON of `json` (or of the Codable form) without the generic decoder.
    public init(json: JSON) throws(ProtocolError) {
        guard case .object(let o) = json, let id = o["id"]?.intValue, let name = o["name"]?.stringValue,
            let status = o["status"]?.stringValue.flatMap(AppStatus.init(rawValue:)),
            let desired = o["desired"]?.stringValue.flatMap(Desired.init(rawValue:)),
            let script = o["script"]?.stringValue, let cwd = o["cwd"]?.stringValue
        else { throw .malformed("an app is missing id, name, status, desired, script or cwd") }
        self.init(
            id: AppID(Int(id)), name: name, status: status, desired: desired,
            restarts: Int(o["restarts"]?.intValue ?? 0), unstableRestarts: Int(o["unstableRestarts"]?.intValue ?? 0),
            script: script, interpreter: o["interpreter"]?.stringValue,
            args: o["args"]?.arrayValue?.compactMap(\.stringValue) ?? [], cwd: cwd,
            outLog: o["outLog"]?.stringValue ?? "", errLog: o["errLog"]?.stringValue ?? "",
            lastDecision: o["lastDecision"]?.stringValue ?? "", ready: o["ready"]?.boolValue ?? false)
        instance = Int(o["instance"]?.intValue ?? 0)
        namespace = o["namespace"]?.stringValue
        pid = o["pid"]?.intValue.map { ProcessID(Int32(truncatingIfNeeded: $0)) }
        startedAtMs = o["startedAtMs"]?.intValue
        uptimeMs = o["uptimeMs"]?.intValue
        switch o["cpuPercent"] {
        case .double(let d)?: cpuPercent = d
        case .int(let i)?: cpuPercent = Double(i)
        default: cpuPercent = nil
        }
        memoryBytes = o["memoryBytes"]?.intValue
        nextRetryInMs = o["nextRetryInMs"]?.intValue
    }
}

/// One row of `sv list`'s table as `listRows` sends it: `[id, name, pid, uptimeMs, restarts,
/// status, cpuPercent, memoryBytes]`, null where a figure is unknown. 1,000 apps as objects
/// cost svd and sv more than the whole `list` bar (design.md §8) in hashing keys alone.
public struct ListRow: Sendable, Equatable {
    public var id: AppID
    public var name: String
    public var pid: ProcessID?
    public var uptimeMs: Int64?
    public var restarts: Int
    public var status: AppStatus
    public var cpuPercent: Double?
    public var memoryBytes: Int64?

    public init(
        id: AppID, name: String, pid: ProcessID?, uptimeMs: Int64?, restarts: Int, status: AppStatus,
        cpuPercent: Double?, memoryBytes: Int64?
    ) {
        self.id = id
        self.name = name
        self.pid = pid
        self.uptimeMs = uptimeMs
        self.restarts = restarts
        self.status = status
        self.cpuPercent = cpuPercent
        self.memoryBytes = memoryBytes
    }

    public init(_ info: AppInfo) {
        self.init(
            id: info.id, name: info.name, pid: info.pid, uptimeMs: info.uptimeMs, restarts: info.restarts,
            status: info.status, cpuPercent: info.cpuPercent, memoryBytes: info.memoryBytes)
    }

    public var json: JSON {
        .array([
            .int(Int64(id.rawValue)), .string(name), pid.map { .int(Int64($0.rawValue)) } ?? .null,
            uptimeMs.map { .int($0) } ?? .null, .int(Int64(restarts)), .string(status.rawValue),
            cpuPercent.map { .double($0) } ?? .null, memoryBytes.map { .int($0) } ?? .null,
        ])
    }

    public init(json: JSON) throws(ProtocolError) {
        guard case .array(let cells) = json, cells.count == 8, let id = cells[0].intValue, let name = cells[1].stringValue,
            let restarts = cells[4].intValue, let status = cells[5].stringValue.flatMap(AppStatus.init(rawValue:))
        else { throw .malformed("a list row is not [id, name, pid, uptimeMs, restarts, status, cpu, memory]") }
        let cpu: Double?
        switch cells[6] {
        case .double(let d): cpu = d
        case .int(let i): cpu = Double(i)
        default: cpu = nil
        }
        self.init(
            id: AppID(Int(id)), name: name, pid: cells[2].intValue.map { ProcessID(Int32(truncatingIfNeeded: $0)) },
            uptimeMs: cells[3].intValue, restarts: Int(restarts), status: status, cpuPercent: cpu,
            memoryBytes: cells[7].intValue)
    }
}

extension AppSpec {
    /// The same JSON as its Codable form, built directly: each `sv start` spent ~45 % of its
    /// instructions in the generic encoder's runtime type lookups (a golden test keeps the two
    /// identical).
    public var json: JSON {
        func strings(_ list: [String]) -> JSON { .array(list.map { .string($0) }) }
        func map(_ dictionary: [String: String]) -> JSON {
            var o = JSONObject()
            for (key, value) in dictionary { o[key] = .string(value) }
            return .object(o)
        }
        var o = JSONObject()
        o["name"] = .string(name)
        o["script"] = .string(script)
        o["args"] = strings(args)
        if let interpreter { o["interpreter"] = .string(interpreter) }
        o["interpreterArgs"] = strings(interpreterArgs)
        o["cwd"] = .string(cwd)
        o["capturedEnv"] = map(capturedEnv)
        o["env"] = map(env)
        o["policy"] = .object(JSONObject([
            ("autorestart", .bool(policy.autorestart)), ("restartDelayMs", .int(policy.restartDelay.milliseconds)),
            ("expBackoffRestartDelayMs", .int(policy.expBackoffRestartDelay.milliseconds)),
            ("maxRestarts", .int(Int64(policy.maxRestarts))), ("minUptimeMs", .int(policy.minUptime.milliseconds)),
            ("killTimeoutMs", .int(policy.killTimeout.milliseconds)), ("killSignal", .int(Int64(policy.killSignal.rawValue))),
            ("stopExitCodes", .array(policy.stopExitCodes.map { .int(Int64($0)) })),
        ]))
        if let outFile { o["outFile"] = .string(outFile) }
        if let errorFile { o["errorFile"] = .string(errorFile) }
        if let time { o["time"] = .bool(time) }
        if let logDateFormat { o["logDateFormat"] = .string(logDateFormat) }
        if let logMaxSizeBytes { o["logMaxSizeBytes"] = .int(logMaxSizeBytes) }
        if let logKeep { o["logKeep"] = .int(Int64(logKeep)) }
        if let commandLine { o["commandLine"] = .string(commandLine) }
        if let instances { o["instances"] = .int(Int64(instances)) }
        if let instanceVar { o["instanceVar"] = .string(instanceVar) }
        if let cronRestart { o["cronRestart"] = .string(cronRestart) }
        if let maxMemoryBytes { o["maxMemoryBytes"] = .int(maxMemoryBytes) }
        if let memoryCheckIntervalMs { o["memoryCheckIntervalMs"] = .int(memoryCheckIntervalMs) }
        if let watch { o["watch"] = strings(watch) }
        if let ignoreWatch { o["ignoreWatch"] = strings(ignoreWatch) }
        if let watchDelayMs { o["watchDelayMs"] = .int(watchDelayMs) }
        if let namespace { o["namespace"] = .string(namespace) }
        if let incrementVar { o["incrementVar"] = .string(incrementVar) }
        return .object(o)
    }
}

extension StartArguments {
    /// The same JSON as its Codable form, built directly (AppSpec.json says why).
    public var json: JSON {
        var o = JSONObject()
        o["specs"] = .array(specs.map(\.json))
        o["force"] = .bool(force)
        if let ecosystem { o["ecosystem"] = .bool(ecosystem) }
        if let createOnly { o["createOnly"] = .bool(createOnly) }
        if let sharedCapturedEnv {
            var env = JSONObject()
            for (key, value) in sharedCapturedEnv { env[key] = .string(value) }
            o["sharedCapturedEnv"] = .object(env)
        }
        return .object(o)
    }
}
