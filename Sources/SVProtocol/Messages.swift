import SVCore

/// The protocol version every request carries. The frozen requests (`hello`, `ping`, `update`)
/// keep their shape in every version, so a new `sv` can always upgrade an old `svd` (design.md §6).
public let protocolVersion = 1

/// The version of sv and svd. Scripts/test also builds an svd with SV_ALT_VERSION, to test
/// `sv update` from one version to another.
#if SV_ALT_VERSION
public let svVersion = "0.1.0-alt"
#else
public let svVersion = "0.1.0"
#endif

/// Frames are capped: a longer line is an error and the connection is closed.
public let maxFrameBytes = 1 << 20

/// One request per line: `{"v":1,"id":7,"cmd":"stop","args":{...}}`.
public struct RequestFrame: Sendable {
    /// The requests every version serves (design.md §6).
    public static let frozenCommands: Set<String> = ["hello", "ping", "update"]

    public var version: Int
    public var id: Int
    public var request: Request

    public init(id: Int, request: Request, version: Int = protocolVersion) {
        self.version = version
        self.id = id
        self.request = request
    }

    public var json: JSON {
        var object = JSONObject()
        object["v"] = .int(Int64(version))
        object["id"] = .int(Int64(id))
        object["cmd"] = .string(request.command)
        if let args = request.args { object["args"] = args }
        return .object(object)
    }

    /// Parses a frame; the error says what is wrong in one line.
    public init(json: JSON) throws(ProtocolError) {
        guard case .object(let object) = json else { throw ProtocolError.malformed("a request is a JSON object") }
        guard let version = object["v"]?.intValue else { throw .malformed("missing protocol version 'v'") }
        guard let id = object["id"]?.intValue else { throw .malformed("missing request 'id'") }
        guard let command = object["cmd"]?.stringValue else { throw .malformed("missing 'cmd'") }
        self.version = Int(version)
        self.id = Int(id)
        self.request = try Request(command: command, args: object["args"] ?? .null)
    }
}

/// A reply: `{"id":7,"ok":true,"result":…}` or `{"id":7,"ok":false,"error":{"code":…,"message":…}}`.
public struct Reply: Sendable {
    public var id: Int
    public var outcome: Result<JSON, ReplyError>

    public init(id: Int, outcome: Result<JSON, ReplyError>) {
        self.id = id
        self.outcome = outcome
    }

    public var json: JSON {
        var object = JSONObject()
        object["id"] = .int(Int64(id))
        switch outcome {
        case .success(let result):
            object["ok"] = .bool(true)
            object["result"] = result
        case .failure(let error):
            object["ok"] = .bool(false)
            object["error"] = .object(JSONObject([("code", .string(error.code.rawValue)), ("message", .string(error.message))]))
        }
        return .object(object)
    }

    public init(json: JSON) throws(ProtocolError) {
        guard let id = json["id"]?.intValue, let ok = json["ok"]?.boolValue else {
            throw .malformed("a reply has 'id' and 'ok'")
        }
        self.id = Int(id)
        if ok {
            outcome = .success(json["result"] ?? .null)
        } else {
            let code = json["error"]?["code"]?.stringValue.flatMap(ReplyError.Code.init(rawValue:)) ?? .failed
            outcome = .failure(ReplyError(code, json["error"]?["message"]?.stringValue ?? "unknown error"))
        }
    }
}

/// An error reply: a code scripts can test, and one line for people.
public struct ReplyError: Error, Equatable, Sendable, CustomStringConvertible {
    public enum Code: String, Sendable {
        case badRequest = "bad_request"
        case versionMismatch = "version_mismatch"
        case notFound = "not_found"
        case conflict
        case failed
        case notSupported = "not_supported"
    }
    public var code: Code
    public var message: String
    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }
    public var description: String { message }
}

/// What went wrong with a frame itself.
public enum ProtocolError: Error, Equatable, Sendable, CustomStringConvertible {
    case malformed(String)
    case tooLarge
    case unknownCommand(String)

    public var description: String {
        switch self {
        case .malformed(let why): return "malformed frame: \(why)"
        case .tooLarge: return "frame larger than \(maxFrameBytes) bytes"
        case .unknownCommand(let command): return "unknown command '\(command)'"
        }
    }
}

/// Every request, one case per command (STYLE.md 30).
public enum Request: Sendable {
    /// Frozen. Versions of both sides.
    case hello
    /// Frozen. Version, pid, uptime, exec generation, wake-ups.
    case ping
    /// Frozen. Re-execute in place with the svd at `svdPath`.
    case update(svdPath: String)
    /// Create and start new apps.
    case start(StartArguments)
    /// Start existing apps (by id or name) that are stopped.
    case startExisting([Target])
    case stop([Target])
    case restart(RestartArguments)
    case delete([Target])
    case reset([Target])
    case list
    /// `list`'s table only: one array per instance (`ListRow`), no keys to hash or send.
    case listRows
    case describe([Target])
    case signal(Signal, [Target])
    /// Stop every app for good, then exit.
    case kill
    /// The environment apps get, values included (`sv env`, `describe --env`: asked for).
    case environment([Target])
    /// Empty the logs of the targets (all when none), in place.
    case flush([Target])
    /// Reopen every log file (after an external logrotate moved them).
    case reloadLogs
    /// Record the apps desired online as the saved set.
    case save
    /// Start the saved set, never creating an app twice.
    case resurrect
    /// Run N instances of a name (`sv scale`).
    case scale(ScaleArguments)

    public var command: String {
        switch self {
        case .hello: return "hello"
        case .ping: return "ping"
        case .update: return "update"
        case .start: return "start"
        case .startExisting: return "startExisting"
        case .stop: return "stop"
        case .restart: return "restart"
        case .delete: return "delete"
        case .reset: return "reset"
        case .list: return "list"
        case .listRows: return "listRows"
        case .describe: return "describe"
        case .signal: return "signal"
        case .kill: return "kill"
        case .environment: return "environment"
        case .flush: return "flush"
        case .reloadLogs: return "reloadLogs"
        case .save: return "save"
        case .resurrect: return "resurrect"
        case .scale: return "scale"
        }
    }

    var args: JSON? {
        func targets(_ list: [Target]) -> JSON { .object(JSONObject([("targets", .array(list.map { .string($0.description) }))])) }
        switch self {
        case .hello, .ping, .list, .listRows, .kill, .save, .resurrect, .reloadLogs: return nil
        case .update(let path): return .object(JSONObject([("svdPath", .string(path))]))
        case .start(let arguments): return arguments.json
        case .restart(let arguments): return try? JSONCoder.encode(arguments)
        case .scale(let arguments): return try? JSONCoder.encode(arguments)
        case .startExisting(let list), .stop(let list), .delete(let list), .reset(let list), .describe(let list),
            .flush(let list), .environment(let list):
            return targets(list)
        case .signal(let signal, let list):
            return .object(JSONObject([("signal", .int(Int64(signal.rawValue))), ("targets", targets(list)["targets"]!)]))
        }
    }

    init(command: String, args: JSON) throws(ProtocolError) {
        func targets() throws(ProtocolError) -> [Target] {
            guard let list = args["targets"]?.arrayValue else { throw .malformed("'\(command)' needs 'targets'") }
            var out: [Target] = []
            for item in list {
                guard let text = item.stringValue else { throw .malformed("a target is a string") }
                out.append(Target(parsing: text))
            }
            return out
        }
        func decode<T: Decodable>(_ type: T.Type) throws(ProtocolError) -> T {
            do { return try JSONCoder.decode(type, from: args) } catch { throw .malformed("bad '\(command)' arguments: \(error)") }
        }
        switch command {
        case "hello": self = .hello
        case "ping": self = .ping
        case "update":
            guard let path = args["svdPath"]?.stringValue else { throw .malformed("'update' needs 'svdPath'") }
            self = .update(svdPath: path)
        case "start": self = .start(try decode(StartArguments.self))
        case "startExisting": self = .startExisting(try targets())
        case "stop": self = .stop(try targets())
        case "restart": self = .restart(try decode(RestartArguments.self))
        case "delete": self = .delete(try targets())
        case "reset": self = .reset(try targets())
        case "list": self = .list
        case "listRows": self = .listRows
        case "describe": self = .describe(try targets())
        case "signal":
            guard let number = args["signal"]?.intValue, let signal = Signal(parsing: String(number)) else {
                throw .malformed("'signal' needs a signal number")
            }
            self = .signal(signal, try targets())
        case "kill": self = .kill
        case "environment": self = .environment(try targets())
        case "flush": self = .flush(try targets())
        case "reloadLogs": self = .reloadLogs
        case "save": self = .save
        case "resurrect": self = .resurrect
        case "scale": self = .scale(try decode(ScaleArguments.self))
        default: throw .unknownCommand(command)
        }
    }
}

/// `start` of new apps: their specs, resolved by the client (absolute paths, interpreter found).
public struct StartArguments: Codable, Sendable {
    public var specs: [AppSpec]
    /// Start even if an app of that name is online.
    public var force: Bool
    /// From an ecosystem file (pm2's behaviour): start what is missing, restart what runs, with
    /// the file's options. The reply then says what was done to each app.
    public var ecosystem: Bool?
    /// With `ecosystem`: create the missing apps stopped, touch nothing that exists (`sv import`).
    public var createOnly: Bool?
    /// The captured environment of every spec whose own is empty: sent once, not once per app
    /// (1,000 apps would not fit a 1 MiB frame otherwise).
    public var sharedCapturedEnv: [String: String]?
    public init(specs: [AppSpec], force: Bool, ecosystem: Bool? = nil, createOnly: Bool? = nil) {
        // Hoisted when every spec has the same captured environment (one sv start).
        var specs = specs
        if specs.count > 1, let first = specs.first?.capturedEnv, !first.isEmpty,
            specs.allSatisfy({ $0.capturedEnv == first })
        {
            for index in specs.indices { specs[index].capturedEnv = [:] }
            sharedCapturedEnv = first
        }
        self.specs = specs
        self.force = force
        self.ecosystem = ecosystem
        self.createOnly = createOnly
    }
}

/// `scale`: a name and its number of instances, or (`relative`) how many to add (or remove, < 0).
public struct ScaleArguments: Codable, Sendable {
    public var name: String
    public var count: Int
    public var relative: Bool
    public init(name: String, count: Int, relative: Bool) {
        self.name = name
        self.count = count
        self.relative = relative
    }
}

/// `restart`: the targets, and with `--update-env` the caller's environment to capture anew.
public struct RestartArguments: Codable, Sendable {
    public var targets: [Target]
    public var updatedEnv: [String: String]?
    /// `restart --watch`: watching on (the app's cwd when it had no paths).
    public var watch: Bool?
    public init(targets: [Target], updatedEnv: [String: String]?, watch: Bool? = nil) {
        self.targets = targets
        self.updatedEnv = updatedEnv
        self.watch = watch
    }
}
