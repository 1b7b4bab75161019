import Foundation
import SVCore
import SVProtocol
import Testing

/// pm2 ecosystem files (issue 6, first slice): JSON and JavaScript, env and env_NAME, --only,
/// relative paths, stdin, start-or-restart, and errors that point at the place.
@Suite(.serialized, .timeLimit(.minutes(2)))
struct EcosystemTests {
    func read(_ path: String) -> String { (try? String(contentsOfFile: path, encoding: .utf8)) ?? "" }

    /// Two node apps that print their environment, in `dir`.
    func writeApps(_ sv: Supervisor) throws {
        try FileManager.default.createDirectory(atPath: sv.work + "/app", withIntermediateDirectories: true)
        try sv.file("app/show.js", "console.log('MODE=' + process.env.MODE + ' PORT=' + process.env.PORT + ' ARGS=' + process.argv.slice(2).join(',')); setInterval(() => {}, 1000);")
    }

    @Test func jsonFileWithEnvironments() throws {
        try withSupervisor { (sv: Supervisor) throws in
            try writeApps(sv)
            let file = try sv.file(
                "app/ecosystem.json",
                """
                {"apps": [
                  {"name": "web", "script": "show.js", "args": ["--port", "1"], "env": {"MODE": "dev", "PORT": 3000},
                   "env_production": {"MODE": "prod"}, "max_restarts": 4, "min_uptime": "2s"},
                  {"name": "jobs", "script": "./show.js", "args": "a b", "kill_timeout": 1234}
                ],
                "deploy": {"production": {"user": "x"}}}
                """)
            let result = try sv.run(["start", file, "--env", "production"])
            #expect(result.status == 0, "\(result.stderr)")
            #expect(result.stdout.contains("started web (id 1)"))
            #expect(result.stdout.contains("started jobs (id 2)"))
            #expect(result.stderr.isEmpty, "\(result.stderr)")  // the deploy section is ignored quietly
            #expect(eventually { read(sv.home + "/logs/web-out.log").contains("MODE=prod PORT=3000 ARGS=--port,1") })
            #expect(eventually { read(sv.home + "/logs/jobs-out.log").contains("ARGS=a,b") })
            let web = try sv.describe("web").spec
            #expect(web.policy.maxRestarts == 4)
            #expect(web.policy.minUptime == .seconds(2))
            #expect(web.script == sv.work + "/app/show.js")  // relative to the file's folder
            #expect(try sv.describe("jobs").spec.policy.killTimeout == .milliseconds(1234))
            // Again: what runs is restarted (pm2's behaviour deploy scripts rely on).
            let again = try sv.run(["start", file])
            #expect(again.stdout.contains("restarted web (id 1)"))
            #expect(try sv.list().count == 2)
            let only = try sv.run(["startOrRestart", file, "--only", "jobs"])
            #expect(only.stdout == "restarted jobs (id 2)\n")
        }
    }

    @Test func yamlFileWithEnvironments() throws {
        try withSupervisor { (sv: Supervisor) throws in
            try writeApps(sv)
            let file = try sv.file(
                "app/ecosystem.yaml",
                """
                # pm2's YAML form
                apps:
                  - name: web
                    script: show.js
                    args: [--port, "1"]
                    env:
                      MODE: dev
                      PORT: 3000
                    env_production:
                      MODE: prod
                    max_restarts: 4
                  - name: jobs
                    script: ./show.js
                    args: a b
                    kill_timeout: 1234
                deploy:
                  production: {user: x}
                """)
            let result = try sv.run(["start", file, "--env", "production"])
            #expect(result.status == 0, "\(result.stderr)")
            #expect(result.stdout == "started web (id 1)\nstarted jobs (id 2)\n", "\(result.stdout)")
            #expect(result.stderr.isEmpty, "\(result.stderr)")
            #expect(eventually { read(sv.home + "/logs/web-out.log").contains("MODE=prod PORT=3000 ARGS=--port,1") })
            #expect(eventually { read(sv.home + "/logs/jobs-out.log").contains("MODE=undefined PORT=undefined ARGS=a,b") })
            #expect(try sv.describe("web").spec.policy.maxRestarts == 4)
            #expect(try sv.describe("jobs").spec.policy.killTimeout == .milliseconds(1234))
            // .yml too, and as a target: stop by file.
            let yml = try sv.file("app/other.yml", "apps:\n  - name: other\n    script: show.js\n")
            #expect(try sv.run(["start", yml]).status == 0)
            #expect(try sv.run(["stop", yml]).status == 0)
            #expect(try sv.app("other")?.status == .stopped)
        }
    }

    @Test func yamlErrorsNameLineAndColumnAndStartNothing() throws {
        try withSupervisor { (sv: Supervisor) throws in
            try writeApps(sv)
            let broken = try sv.file("app/broken.yaml", "apps:\n  - name: a\n    script: show.js\n   bad: indent\n")
            let parse = try sv.run(["start", broken])
            #expect(parse.status == 1)
            #expect(parse.stderr.hasPrefix("sv: \(broken):4:"), "\(parse.stderr)")
            let typed = try sv.file("app/typed.yaml", "apps:\n  - name: a\n    script: show.js\n    instances: four\n")
            let type = try sv.run(["start", typed])
            #expect(type.status == 1)
            #expect(type.stderr.contains("apps[0] (a).instances: expected a number or \"max\", got \"four\""), "\(type.stderr)")
            let missing = try sv.run(["start", sv.work + "/app/none.yaml"])
            #expect(missing.status == 1)
            #expect(missing.stderr.contains("none.yaml"), "\(missing.stderr)")
            #expect(try sv.list().isEmpty)
        }
    }

    /// `namespace`: a target that names no app names the apps of its namespace (pm2's rule).
    @Test func namespaceIsATarget() throws {
        try withSupervisor { (sv: Supervisor) throws in
            try writeApps(sv)
            let file = try sv.file(
                "app/ns.json",
                """
                {"apps": [{"name": "a", "script": "show.js", "namespace": "shop"},
                          {"name": "b", "script": "show.js", "namespace": "shop"},
                          {"name": "c", "script": "show.js"}]}
                """)
            let result = try sv.run(["start", file])
            #expect(result.status == 0, "\(result.stderr)")
            #expect(result.stderr.isEmpty, "\(result.stderr)")
            #expect(try sv.list().map(\.namespace) == ["shop", "shop", nil])
            try sv.ok("stop", "shop")
            #expect(try sv.list().map(\.status) == [.stopped, .stopped, .online])
            try sv.ok("start", sv.work + "/app/show.js", "--name", "d", "--namespace", "jobs")
            #expect(try sv.ok("pid", "jobs").split(separator: "\n").count == 1)
        }
    }

    @Test func javascriptFilesCommonJSAndESM() throws {
        try withSupervisor { (sv: Supervisor) throws in
            try writeApps(sv)
            let apps = { (prefix: String) in
                """
                [{ name: '\(prefix)1', script: 'show.js', env: { MODE: 'dev', PORT: 1 }, env_production: { MODE: 'prod' } },
                 { name: '\(prefix)2', script: './show.js', args: ['x'], env: { MODE: 'two' } }]
                """
            }
            let cjs = try sv.file("app/a.config.js", "module.exports = { apps: \(apps("cjs")) };")
            let mjs = try sv.file("app/b.config.mjs", "export default { apps: \(apps("esm")) };")
            let commonJS = try sv.run(["start", cjs, "--env", "production"])
            #expect(commonJS.stdout == "started cjs1 (id 1)\nstarted cjs2 (id 2)\n", "\(commonJS.stderr)")
            #expect(try sv.run(["start", mjs, "--env-name", "production"]).status == 0)
            for prefix in ["cjs", "esm"] {
                #expect(eventually { read(sv.home + "/logs/\(prefix)1-out.log").contains("MODE=prod PORT=1") })
                #expect(eventually { read(sv.home + "/logs/\(prefix)2-out.log").contains("MODE=two PORT=undefined ARGS=x") })
            }
        }
    }

    @Test func standardInput() throws {
        try withSupervisor { (sv: Supervisor) throws in
            try writeApps(sv)
            let input = try sv.file("in.json", "{\"apps\": [{\"name\": \"piped\", \"script\": \"\(sv.work)/app/show.js\"}]}")
            let result = try sv.run(["start", "-"], stdin: input)
            #expect(result.status == 0, "\(result.stderr)")
            #expect(try sv.app("piped")?.status == .online)
        }
    }

    @Test func errorsPointAtThePlaceAndStartNothing() throws {
        try withSupervisor { (sv: Supervisor) throws in
            try writeApps(sv)
            let broken = try sv.file("app/broken.json", "{\"apps\": [\n  {\"name\": \"x\", \"script\": \"show.js\",}\n]}")
            let parse = try sv.run(["start", broken])
            #expect(parse.status == 1)
            #expect(parse.stderr.contains("broken.json:2:"), "\(parse.stderr)")
            let typed = try sv.file("app/typed.json", "{\"apps\": [{\"name\": \"ok\", \"script\": \"show.js\"}, {\"name\": \"api\", \"script\": \"show.js\", \"max_restarts\": \"four\"}]}")
            let type = try sv.run(["start", typed])
            #expect(type.status == 1)
            #expect(type.stderr.contains("apps[1] (api).max_restarts: expected a number, got \"four\""), "\(type.stderr)")
            let throwing = try sv.file("app/bad.config.js", "throw new Error('boom in config');")
            let thrown = try sv.run(["start", throwing])
            #expect(thrown.status == 1)
            #expect(thrown.stderr.contains("boom in config"))
            let cluster = try sv.file("app/cluster.json", "{\"apps\": [{\"name\": \"c\", \"script\": \"show.js\", \"exec_mode\": \"cluster\"}]}")
            let refused = try sv.run(["start", cluster])
            #expect(refused.status == 1)
            #expect(refused.stderr.contains("increment_var"))
            #expect(try sv.list().isEmpty)  // nothing started
        }
    }

    @Test func stopRestartAndDeleteByNamingTheFile() throws {
        try withSupervisor { (sv: Supervisor) throws in
            try writeApps(sv)
            let file = try sv.file("app/pair.json", "{\"apps\": [{\"name\": \"p1\", \"script\": \"show.js\"}, {\"name\": \"p2\", \"script\": \"show.js\"}]}")
            try sv.ok("start", file)
            try sv.ok("start", testchild, "--name", "other", "--", "forever")
            try sv.ok("stop", file)
            let apps = try sv.list()
            #expect(apps.filter { $0.status == .stopped }.map(\.name).sorted() == ["p1", "p2"])
            #expect(apps.first { $0.name == "other" }?.status == .online)
            try sv.ok("delete", file)
            #expect(try sv.list().map(\.name) == ["other"])
        }
    }

    @Test func unknownAndNotYetKeysWarn() throws {
        try withSupervisor { (sv: Supervisor) throws in
            try writeApps(sv)
            let file = try sv.file("app/warn.json", "{\"apps\": [{\"name\": \"w\", \"script\": \"show.js\", \"max_restart\": 3, \"wait_ready\": true}]}")
            let result = try sv.run(["start", file])
            #expect(result.status == 0)
            #expect(result.stderr.contains("apps[0] (w).max_restart: unknown key (did you mean 'max_restarts'?)"), "\(result.stderr)")
            #expect(result.stderr.contains("apps[0] (w).wait_ready: not supported yet"), "\(result.stderr)")
        }
    }
}

@Suite(.serialized, .timeLimit(.minutes(2)))
struct EnvironmentTests {
    func read(_ path: String) -> String { (try? String(contentsOfFile: path, encoding: .utf8)) ?? "" }

    @Test func valuesAreShownOnlyWhenAskedFor() throws {
        try withSupervisor { (sv: Supervisor) throws in
            let app = try sv.file("vars.js", "console.log(process.env.pm_id + ' ' + process.env.name + ' ' + process.env.SV_APP_ID); setInterval(() => {}, 1000);")
            try sv.ok("start", app, "--env", "SECRET=hunter2-value")
            #expect(eventually { read(sv.home + "/logs/vars-out.log").contains("1 vars 1") })  // pm2's pm_id and name
            #expect(!(try sv.ok("jlist")).contains("hunter2-value"))
            #expect(!(try sv.ok("describe", "vars")).contains("hunter2-value"))
            #expect(!(try sv.ok("describe", "vars", "--json")).contains("hunter2-value"))
            #expect(try sv.ok("describe", "vars", "--env").contains("SECRET=hunter2-value"))
            #expect(try sv.ok("env", "vars").split(separator: "\n").contains("SECRET=hunter2-value"))
        }
    }

    @Test func commandLinesRunThroughBash() throws {
        try withSupervisor { (sv: Supervisor) throws in
            let result = try sv.run(["start", "echo started-by-bash && sleep 60"])
            #expect(result.status == 0, "\(result.stderr)")
            let info = try sv.app("echo started-by-bash && sleep 60")
            #expect(info?.status == .online)
            #expect(eventually { read(info?.outLog ?? "").contains("started-by-bash") })
        }
    }

    /// The interpreter is found in the caller's PATH at start and stored absolute: an svd started
    /// later with another PATH (a boot) still runs the same node; `--interpreter none` execs.
    @Test func interpretersAreResolvedOnceAndStored() throws {
        try withSupervisor { (sv: Supervisor) throws in
            let bin = sv.work + "/nvm-bin"
            try FileManager.default.createDirectory(atPath: bin, withIntermediateDirectories: true)
            let node = try #require(["/usr/bin/node", "/usr/local/bin/node"].first { FileManager.default.isExecutableFile(atPath: $0) })
            try sv.file("nvm-bin/node", "#!/bin/sh\necho via-nvm-node >&2\nexec \(node) \"$@\"\n", executable: true)
            let app = try sv.file("hello.js", "console.log('hello'); setInterval(() => {}, 1000);")
            var environment = sv.environment
            environment["PATH"] = bin + ":" + (environment["PATH"] ?? "/usr/bin:/bin")
            let started = try sv.run(["start", app], environment: environment)
            #expect(started.status == 0, "\(started.stderr)")
            #expect(try sv.describe("hello").spec.interpreter == bin + "/node")
            let errLog = sv.home + "/logs/hello-err.log"
            #expect(eventually { read(errLog).contains("via-nvm-node") })
            // svd dies; the next one starts from a PATH without that folder, and brings the app
            // back with the node it was started with.
            for pid in sv.daemonPids() { kill(pid, SIGKILL) }
            var bare = sv.environment
            bare["PATH"] = "/usr/bin:/bin"
            #expect(try sv.run(["ping"], environment: bare).status == 0)
            #expect(eventually(within: 10) { read(errLog).components(separatedBy: "via-nvm-node").count == 3 })
            // none: the script runs as it is (its shebang).
            let script = try sv.file("tool.sh", "#!/bin/sh\necho run-directly\nsleep 60\n", executable: true)
            #expect(try sv.run(["start", script, "--interpreter", "none"]).status == 0)
            #expect(try sv.describe("tool").spec.interpreter == nil)
            #expect(eventually { read(sv.home + "/logs/tool-out.log").contains("run-directly") })
        }
    }

    @Test func typescriptNeedsAnInterpreter() throws {
        try withSupervisor { (sv: Supervisor) throws in
            let app = try sv.file("app.ts", "console.log('x')")
            let result = try sv.run(["start", app])
            #expect(result.status == 1)
            #expect(result.stderr.contains("--interpreter"))
            #expect(try sv.list().isEmpty)
        }
    }
}

/// `sv import pm2` of the dump pm2 7.0.3 wrote (../shared/fixtures/pm2): names, scripts, args,
/// cwd, env, restart options; instances and unmapped keys listed.
@Suite(.serialized, .timeLimit(.minutes(2)))
struct ImportTests {
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("shared/fixtures/pm2").path

    @Test func importsTheFixtureDump() throws {
        try withSupervisor { (sv: Supervisor) throws in
            let dump = Self.fixtures + "/dump.pm2"
            try #require(FileManager.default.fileExists(atPath: dump), "the pm2 fixture is missing at \(dump)")
            let result = try sv.run(["import", "pm2", dump])
            #expect(result.status == 0, "\(result.stderr)")
            // api ran as two cluster instances: two fork-mode instances here, told why they
            // cannot share PORT 8080.
            #expect(result.stdout.contains("imported api (id 1, instance 0)"), "\(result.stdout)")
            #expect(result.stdout.contains("imported api (id 2, instance 1)"))
            #expect(result.stdout.contains("imported worker (id 3)"))
            #expect(result.stdout.contains("imported cron-job (id 4)"))
            #expect(result.stdout.contains("api: cluster mode → 2 fork-mode instances; they cannot share one port (all on PORT 8080)"))
            #expect(!result.stdout.contains("max_memory_restart"))  // mapped now
            let apps = try sv.list()
            #expect(apps.map(\.name) == ["api", "api", "worker", "cron-job"])
            #expect(apps.map(\.instance) == [0, 1, 0, 0])
            #expect(try sv.describe("api").spec.instances == 2)
            #expect(try sv.describe("api").spec.maxMemoryBytes == 314_572_800)  // pm2 stored 300M in bytes
            #expect(apps.allSatisfy { $0.status == .stopped })  // nothing started without --start
            let worker = try sv.describe("worker").spec
            #expect(worker.script == "/srv/shop/worker.js")
            #expect(worker.cwd == "/srv/shop")
            #expect(worker.args == ["--queue", "emails", "--concurrency", "4"])
            #expect(worker.policy.restartDelay == .milliseconds(2000))
            #expect(worker.policy.maxRestarts == 10)
            #expect(worker.policy.minUptime == .milliseconds(5000))
            #expect(worker.policy.killTimeout == .milliseconds(8000))
            #expect(worker.interpreter?.hasSuffix("/node") == true)
            let env = try sv.ok("env", "worker")
            #expect(env.contains("QUEUE=emails-prod"))
            #expect(!env.contains("PM2_HOME"))
            #expect(try sv.ok("env", "api").contains("PORT=8080"))
            #expect(try sv.describe("cron-job").spec.policy.autorestart == false)
            #expect(try sv.describe("cron-job").spec.args == ["--once"])
            // Importing again creates nothing twice.
            let again = try sv.run(["import", "pm2", dump])
            #expect(again.stdout.contains("exists, left as it is: api (id 1)"))
            #expect(try sv.list().count == 4)
        }
    }

    @Test func importsAnEcosystemFile() throws {
        try withSupervisor { (sv: Supervisor) throws in
            // The fixture's ecosystem file uses cluster mode: refused with the increment_var line.
            let result = try sv.run(["import", "pm2", Self.fixtures + "/ecosystem.config.js"])
            #expect(result.status == 1)
            #expect(result.stderr.contains("increment_var"))
        }
    }
}

@Suite(.serialized, .timeLimit(.minutes(2)))
struct UpdateEnvTests {
    func read(_ path: String) -> String { (try? String(contentsOfFile: path, encoding: .utf8)) ?? "" }

    /// `restart --update-env` replaces (a removed variable disappears, pm2 issue #3486 merges);
    /// a plain restart keeps what the app had.
    @Test func updateEnvReplacesPlainRestartKeeps() throws {
        try withSupervisor { (sv: Supervisor) throws in
            try FileManager.default.createDirectory(atPath: sv.work + "/app", withIntermediateDirectories: true)
            try sv.file("app/env.js", "console.log('A=' + process.env.A + ' B=' + process.env.B); setInterval(() => {}, 1000);")
            let file = try sv.file("app/env.json", "{\"apps\": [{\"name\": \"envy\", \"script\": \"env.js\", \"env\": {\"A\": \"1\", \"B\": \"2\"}}]}")
            try sv.ok("start", file)
            let log = sv.home + "/logs/envy-out.log"
            #expect(eventually { read(log).contains("A=1 B=2") })
            // B removed, A changed in the file.
            try "{\"apps\": [{\"name\": \"envy\", \"script\": \"env.js\", \"env\": {\"A\": \"3\"}}]}".write(toFile: file, atomically: true, encoding: .utf8)
            try sv.ok("restart", "envy")
            #expect(eventually { read(log).split(separator: "\n").count >= 2 })
            #expect(read(log).split(separator: "\n").last == "A=1 B=2")  // plain restart keeps
            try sv.ok("restart", file, "--update-env")
            #expect(eventually { read(log).split(separator: "\n").last == "A=3 B=undefined" })
        }
    }
}
