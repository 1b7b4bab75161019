import Glibc
import SVCore
import SVLinux
import SVProtocol
import SVStore

/// `sv save` and `sv resurrect` (cli.md): the saved set lives in sv.db and, readable, in
/// `$SV_HOME/saved.json`, written atomically; resurrect never creates an app twice.
extension Daemon {
    /// Records every app desired online (waiting and errored ones too) as the saved set.
    func save() throws(ReplyError) -> JSON {
        let chosen = apps.values.filter { $0.machine.desired == .online }.sorted { $0.id < $1.id }
        var entries: [SavedApp] = []
        var documents: [JSON] = []
        for app in chosen {
            let spec = app.machine.spec.json
            entries.append(SavedApp(name: app.name, spec: spec.serialized, instance: Int64(app.instance)))
            documents.append(.object(JSONObject([
                ("name", .string(app.name)), ("instance", .int(Int64(app.instance))), ("spec", spec),
            ])))
        }
        do {
            // FULL for this commit: a saved set must survive a power cut (design.md §5).
            try store.setDurable(true)
            defer { try? store.setDurable(false) }
            try store.replaceSaved(entries)
        } catch {
            throw ReplyError(.failed, "cannot save the app list in \(store.path): \(error.message)")
        }
        let document = JSON.object(JSONObject([
            ("version", .int(1)), ("savedAtMs", .int(SystemClock.wallNow.milliseconds)), ("apps", .array(documents)),
        ]))
        do {
            try Files.writeAtomically(home.savedSet, contents: Array(document.pretty.utf8) + [0x0A])
        } catch {
            throw ReplyError(.failed, "saved in sv.db, but cannot write \(home.savedSet): \(error)")
        }
        log.info("saved \(entries.count) apps")
        return .object(JSONObject([("saved", .int(Int64(entries.count))), ("path", .string(home.savedSet))]))
    }

    /// Starts the saved set: an instance that exists (same name and index, any status) is
    /// started if it is not up, never created again. Reads sv.db, or `saved.json` when the db
    /// cannot say.
    func resurrect() throws(ReplyError) -> JSON {
        var saved: [SavedApp]
        do {
            saved = try store.saved()
        } catch {
            log.warning("cannot read the saved set from \(store.path) (\(error.message)): using \(home.savedSet)")
            saved = try savedFromFile()
        }
        // A db with no saved set next to a saved.json that has one was made anew (the old one
        // was lost or moved aside): the file is the saved set.
        if saved.isEmpty, Files.exists(home.savedSet) { saved = try savedFromFile() }
        var results: [JSON] = []
        for entry in saved {
            guard let spec = try? JSONCoder.decode(AppSpec.self, from: entry.spec) else {
                results.append(Self.outcome(entry.name, nil, "skipped: its options cannot be read"))
                continue
            }
            let instance = Int(entry.instance)
            if let existing = instances(named: entry.name).first(where: { $0.instance == instance }) {
                switch existing.machine.status {
                case .stopped, .errored:
                    feed(existing, .startRequested)
                    results.append(Self.outcome(entry.name, existing.id, "started"))
                case .online, .launching, .stopping, .waitingRestart:
                    results.append(Self.outcome(entry.name, existing.id, "already \(existing.machine.status.rawValue)"))
                }
                continue
            }
            let suffix = spec.instanceCount > 1 || !instances(named: entry.name).isEmpty
            let app = try createApp(spec: spec, instance: instance, instanceSuffix: suffix)
            feed(app, .startRequested)
            results.append(Self.outcome(entry.name, app.id, "created and started"))
        }
        return .array(results)
    }

    /// After a corrupt sv.db was moved aside: the saved set of `saved.json` becomes the apps
    /// (desired online, started) and the new db's saved set. Never a silent empty start: without
    /// saved.json the log says so.
    func recoverFromSavedSet() {
        guard Files.exists(home.savedSet) else {
            log.error("no \(home.savedSet) to recover apps from: starting with none (sv.db was moved aside)")
            return
        }
        do {
            let entries = try savedFromFile()
            try? store.replaceSaved(entries)
            let results = try resurrect()
            log.info("recovered \(results.arrayValue?.count ?? 0) apps from \(home.savedSet)")
        } catch {
            log.error("cannot recover apps from \(home.savedSet): \(error.message)")
        }
    }

    private static func outcome(_ name: String, _ id: AppID?, _ what: String) -> JSON {
        var object = JSONObject([("name", .string(name)), ("what", .string(what))])
        if let id { object["id"] = .int(Int64(id.rawValue)) }
        return .object(object)
    }

    /// The saved set from `saved.json`.
    func savedFromFile() throws(ReplyError) -> [SavedApp] {
        guard let bytes = Files.readSmall(home.savedSet, limit: 64 << 20, following: false) else {
            throw ReplyError(.notFound, "no saved set: sv.db cannot be read and \(home.savedSet) is missing (run 'sv save' first)")
        }
        guard let document = try? JSON.parse(bytes), let list = document["apps"]?.arrayValue else {
            throw ReplyError(.failed, "\(home.savedSet) is not a saved set sv can read")
        }
        return list.compactMap { entry in
            guard let name = entry["name"]?.stringValue, let spec = entry["spec"] else { return nil }
            return SavedApp(name: name, spec: spec.serialized, instance: entry["instance"]?.intValue ?? 0)
        }
    }
}
