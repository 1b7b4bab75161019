import SVCore
import SVProtocol

/// Instances (design.md §1): `sv start app.js -i 4` makes four instances of one name and one
/// spec, each with its own id, pid, restart count, logs and index (`NODE_APP_INSTANCE`).
extension Daemon {
    /// The instances of `name`, by index.
    func instances(named name: String) -> [App] {
        apps.values.filter { $0.name == name }.sorted { ($0.instance, $0.id) < ($1.instance, $1.id) }
    }

    /// Creates `count` instances of `spec` at the smallest free indices and, with `start`, starts
    /// them. Their log files carry the id (`<name>-<id>-out.log`) when the name has several
    /// instances. A first exec that fails undoes them all: the user is told exactly why, and
    /// nothing is kept.
    func addInstances(of spec: AppSpec, count: Int, start: Bool) throws(ReplyError) -> [App] {
        let existing = instances(named: spec.name)
        var used = Set(existing.map(\.instance))
        let suffix = spec.instanceCount > 1 || count > 1 || !existing.isEmpty
        var made: [App] = []
        var index = 0
        do throws(ReplyError) {
            for _ in 0..<count {
                while used.contains(index) { index += 1 }
                used.insert(index)
                let app = try createApp(spec: spec, instance: index, instanceSuffix: suffix)
                made.append(app)
                guard start else { continue }
                feed(app, .startRequested)
                if let error = app.lastSpawnError, app.machine.process == nil {
                    throw ReplyError(.failed, "cannot start '\(spec.name)': \(error)")
                }
                let which = suffix ? ", instance \(app.instance)" : ""
                log.info("\(app.name) (id \(app.id)\(which)): started, pid \(app.machine.process?.pid.description ?? "-")")
            }
        } catch {
            for app in made { feed(app, .deleteRequested) }
            throw error
        }
        return made
    }

    /// Stops and forgets the instances of `name` beyond the first `count` (the highest indices
    /// go); returns them. A stopped one is gone at once, a running one once it has stopped.
    func removeInstances(of name: String, keeping count: Int) -> [App] {
        let extra = Array(instances(named: name).dropFirst(count))
        for app in extra { feed(app, .deleteRequested) }
        return extra
    }

    /// Records the instance count in the spec of every instance of `name`.
    func recordInstanceCount(_ count: Int, of name: String) {
        for app in instances(named: name) where app.machine.spec.instances != count {
            var spec = app.machine.spec
            spec.instances = count
            reconfigure(app, spec)
            pendingWrites.append(.app(app.id))
        }
    }

    /// `sv scale NAME N` (or `+N`, `-N`): new instances copy the spec of the first and start if
    /// the app is desired online; removed ones are the highest indices. The reply waits until
    /// the removed ones are gone.
    func scale(_ arguments: ScaleArguments, client: Int, requestID: Int) throws(ReplyError) -> Result<JSON, ReplyError>? {
        let current = instances(named: arguments.name)
        guard let first = current.first else {
            throw ReplyError(.notFound, "no app named '\(arguments.name)' (sv scale takes a name; run 'sv list' to see them)")
        }
        let wanted = arguments.relative ? Saturating.add(current.count, arguments.count) : arguments.count
        guard wanted >= 1 else {
            throw ReplyError(
                .badRequest,
                "cannot scale '\(arguments.name)' to \(wanted) instances: give 1 or more ('sv delete \(arguments.name)' removes it)")
        }
        guard wanted <= SpecBounds.maxInstances else {
            throw ReplyError(
                .badRequest, "cannot scale '\(arguments.name)' to \(wanted) instances: at most \(SpecBounds.maxInstances) run under one name")
        }
        var results: [JSON] = []
        if wanted > current.count {
            var spec = first.machine.spec
            spec.instances = wanted
            let start = current.contains { $0.machine.desired == .online }
            for app in try addInstances(of: spec, count: wanted - current.count, start: start) {
                results.append(Self.instanceOutcome(start ? "started" : "created (stopped)", app))
            }
        }
        let removed = removeInstances(of: arguments.name, keeping: wanted)
        results += removed.map { Self.instanceOutcome("deleted", $0) }
        recordInstanceCount(wanted, of: arguments.name)
        log.info("\(arguments.name): scaled from \(current.count) to \(wanted) instances")
        guard !removed.isEmpty else { return .success(.array(results)) }
        waiters.append(Waiter(client: client, request: requestID, apps: removed.map(\.id), then: .reply(.array(results))))
        return nil
    }

    /// `{what, id, name, instance}`: what a start, scale or import did to one instance.
    static func instanceOutcome(_ what: String, _ app: App) -> JSON {
        .object(JSONObject([
            ("what", .string(what)), ("id", .int(Int64(app.id.rawValue))), ("name", .string(app.name)),
            ("instance", .int(Int64(app.instance))),
        ]))
    }
}
