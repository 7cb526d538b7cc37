import ArgumentParser
import FleetInventory
import FleetRollout
import FleetStore
import FleetTestSupport
import Foundation
import Testing
@testable import FleetCLI

/// `fleet sweep --config FILE`: the file read, checked and merged under the command line.
/// Every expected line:column is found in the text the test wrote, not copied from output.
@Suite struct SweepConfigTests {
    let dir: String

    init() throws {
        dir = NSTemporaryDirectory() + "fleet-sweepcfg-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    }

    func write(_ name: String, _ text: String) throws -> String {
        let path = dir + "/" + name
        try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent,
                                                withIntermediateDirectories: true)
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    /// 1-based line and column of the first occurrence of `needle` in `text`.
    static func position(of needle: String, in text: String, after: String? = nil) throws -> (line: Int, column: Int) {
        var search = text.startIndex..<text.endIndex
        if let after, let a = text.range(of: after) { search = a.upperBound..<text.endIndex }
        let r = try #require(text.range(of: needle, range: search), "'\(needle)' not in the test's own file")
        let before = text[text.startIndex..<r.lowerBound]
        let line = before.filter { $0 == "\n" }.count + 1
        let lineStart = before.lastIndex(of: "\n").map { text.index(after: $0) } ?? text.startIndex
        return (line, text.distance(from: lineStart, to: r.lowerBound) + 1)
    }

    /// `fleet sweep ARGS` run in-process with no SSH (no test here reaches a node): its exit
    /// status (0 when it returned) and what it wrote.
    static func sweep(_ args: [String]) async throws -> (code: Int32, capture: OutputCapture) {
        let (output, capture) = FleetOutput.capture()
        let ctx = FleetContext(makeExecutor: { _ in ScriptedExecutor([:]) }, output: output, environment: [:])
        do {
            try await Sweep.parse(args).run(ctx)
        } catch let e as ExitCode {
            return (e.rawValue, capture)
        }
        return (0, capture)
    }

    /// `fleet sweep ARGS` resolved as the command does it.
    static func resolve(_ args: [String]) throws -> (Sweep, SweepConfig) {
        let cmd = try Sweep.parse(args)
        return try SweepConfig.resolve(cmd, path: try #require(cmd.config))
    }

    /// The error `fleet sweep ARGS` reports for its config file.
    static func failure(_ args: [String]) throws -> InventoryError {
        do {
            _ = try resolve(args)
        } catch let f as SweepConfig.Failure {
            return f.error
        }
        Issue.record("no error for \(args)")
        throw ExitCode.failure
    }

    static let full = """
    # every key, none at its default
    inventory: nodes.yaml
    db: /var/lib/fleet/history.sqlite
    lock: /run/fleet/sweep.lock
    limit: "rack-a,!node-7"
    metrics_file: /var/lib/prometheus/node-exporter/fleet.prom
    report: report.html
    log_format: json
    clean:
      enabled: true
      confirm_after: 10m
      batch: 10
      max_in_flight: 5
      rate: 20/min
      pause: 30s
      max_failures: 3
    access: {forks: 32, connect_timeout: 7s, command_timeout: 90s, probe_timeout: 20s, host_key_policy: accept-new,
             ssh_config: /etc/fleet/ssh_config, jump: ops@bastion}
    kubernetes: {enabled: true, kubeconfig: kube/config, context: prod, kubectl: kubectl, rules: rules.json, node_label: k8s, timeout: 20s}
    discovery: {full: true, full_after: 12h}

    """

    @Test func fullFile() throws {
        _ = try write("rules.json", "[]")
        let path = try write("sweep.yaml", Self.full)
        let (s, c) = try Self.resolve(["--config", path])
        #expect(s.config == path)
        #expect(s.inventory?.value == dir + "/nodes.yaml")
        #expect(s.database.path?.value == "/var/lib/fleet/history.sqlite")
        #expect(s.lock?.value == "/run/fleet/sweep.lock")
        #expect(s.limit?.value == "rack-a,!node-7")
        #expect(s.metricsFile?.value == "/var/lib/prometheus/node-exporter/fleet.prom")
        #expect(s.report?.value == dir + "/report.html", "relative to the file's folder")
        #expect(s.logFormat.value == .json)
        #expect(s.clean == true)
        #expect(s.pacing.confirmAfter.value.duration == .seconds(600))
        #expect(s.pacing.batch.value.description == "10")
        #expect(s.pacing.maxInFlight.value == 5)
        #expect(s.pacing.rate?.value.description == "20/min")
        #expect(s.pacing.pause.value.duration == .seconds(30))
        #expect(s.pacing.maxFailures?.value.description == "3")
        #expect(s.access.forks.value == 32)
        #expect(s.access.connectTimeout.value.duration == .seconds(7))
        #expect(s.access.commandTimeout.value.duration == .seconds(90))
        #expect(s.access.probeTimeout.value.duration == .seconds(20))
        #expect(s.access.hostKeyPolicy.value == .acceptNew)
        #expect(s.access.sshConfig?.value == "/etc/fleet/ssh_config")
        #expect(s.access.jump?.value == "ops@bastion")
        #expect(s.kube.kubernetes == true && s.kube.kubeconfig?.value == dir + "/kube/config" && s.kube.context?.value == "prod")
        #expect(s.kube.kubectl.value == "kubectl" && s.kube.kubernetesRules?.value == dir + "/rules.json")
        #expect(s.kube.kubernetesNodeLabel.value == "k8s" && s.kube.kubernetesTimeout.value.duration == .seconds(20))
        #expect(s.phases.full == true && s.phases.fullAfter.value.duration == .seconds(12 * 3600))
        // The policy clean builds from them.
        let policy = s.pacing.policy
        #expect(policy.maxInFlight == 5)
        #expect(policy.batches.count == 1)
        #expect(policy.rate != nil)
        #expect(policy.maxFailures != nil)
        #expect(Set(c.inEffect) == Set(SweepConfigFile.keys.map(\.name)), "the file sets every key once")
    }

    @Test func minimalFile() throws {
        let path = try write("min.yaml", "inventory: nodes.yaml\n")
        let (s, c) = try Self.resolve(["--config", path])
        let defaults = try Sweep.parse(["--inventory", "x"])
        #expect(s.inventory?.value == dir + "/nodes.yaml")
        #expect(c.inEffect == ["inventory"])
        #expect(s.database.path?.value == nil)
        #expect(s.lock?.value == nil && s.limit?.value == nil && s.metricsFile?.value == nil && s.report?.value == nil)
        #expect(s.logFormat.value == .text)
        #expect(s.clean != true)
        #expect(s.pacing.batch.value == defaults.pacing.batch.value)
        #expect(s.pacing.confirmAfter.value.duration == .seconds(300))
        #expect(s.pacing.maxInFlight.value == defaults.pacing.maxInFlight.value)
        #expect(s.pacing.rate == nil && s.pacing.maxFailures == nil)
        #expect(s.access.forks.value == 64)
        #expect(s.access.connectTimeout.value.duration == .seconds(10))
        #expect(s.access.hostKeyPolicy.value == .strict)
    }

    @Test func flagOverridesFileOverridesDefault() throws {
        _ = try write("rules.json", "[]")
        let path = try write("sweep.yaml", Self.full)
        let args = ["--config", path, "--batch", "2", "--no-clean", "--log-format=text", "--forks", "7",
                    "--inventory", "other.yaml"]
        let (s, c) = try Self.resolve(args)
        // Command line.
        #expect(s.pacing.batch.value.description == "2")
        #expect(s.clean != true)
        #expect(s.logFormat.value == .text)
        #expect(s.access.forks.value == 7)
        #expect(s.inventory?.value == "other.yaml", "a path on the command line stays relative to the working directory")
        // File.
        #expect(s.pacing.maxInFlight.value == 5)
        #expect(s.access.connectTimeout.value.duration == .seconds(7))
        #expect(s.limit?.value == "rack-a,!node-7")
        #expect(Set(c.inEffect) == Set(SweepConfigFile.keys.map(\.name))
            .subtracting(["clean.batch", "clean.enabled", "log_format", "access.forks", "inventory"]))

        // Default: a key the file does not set and no flag.
        let minimal = try write("partial.yaml", "inventory: n.yaml\nclean: {enabled: false, batch: 3}\n")
        let (p, _) = try Self.resolve(["--config", minimal, "--clean"])
        #expect(p.clean == true, "--clean on the command line wins over enabled: false")
        #expect(p.pacing.batch.value.description == "3")
        #expect(p.pacing.maxInFlight.value == 8)
        #expect(p.access.probeTimeout.value.duration == .seconds(15))
    }

    @Test func relativePathsAreRelativeToTheFile() throws {
        let text = """
        inventory: ../inv/nodes.yaml
        db: state/history.sqlite
        lock: /run/fleet.lock
        metrics_file: ~/fleet.prom

        """
        let path = try write("etc/fleet/sweep.yaml", text)
        let (s, _) = try Self.resolve(["--config", path])
        #expect(s.inventory?.value == dir + "/etc/fleet/../inv/nodes.yaml")
        #expect(s.database.path?.value == dir + "/etc/fleet/state/history.sqlite")
        #expect(s.lock?.value == "/run/fleet.lock")
        let home = ProcessInfo.processInfo.environment["HOME"] ?? "/root"
        #expect(s.metricsFile?.value == home + "/fleet.prom")

        // A config path given relative to the working directory: its folder still anchors.
        let cwd = FileManager.default.currentDirectoryPath
        let up = String(repeating: "../", count: cwd.split(separator: "/").count)
        let relative = up + String(path.dropFirst())
        let (r, _) = try Self.resolve(["--config", relative])
        let resolved = try #require(r.inventory?.value)
        #expect(URL(fileURLWithPath: resolved).standardized.path == URL(fileURLWithPath: dir + "/etc/inv/nodes.yaml").standardized.path)
    }

    // MARK: - Errors: each names FILE:LINE:COLUMN and what was expected.

    func expectError(_ text: String, at needle: String, after: String? = nil, contains: [String]) throws {
        let path = try write("bad-\(UUID().uuidString.prefix(6)).yaml", text)
        let e = try Self.failure(["--config", path])
        let (line, column) = try Self.position(of: needle, in: text, after: after)
        #expect(e.file == path)
        #expect(e.line == line, "\(e)")
        #expect(e.column == column, "\(e)")
        #expect(e.description.hasPrefix("\(path):\(line):\(column): "))
        for c in contains { #expect(e.message.contains(c), "\(e.message) lacks \(c)") }
    }

    @Test func unknownKeys() throws {
        try expectError("inventory: n.yaml\nmetrics_fle: /tmp/x.prom\n", at: "metrics_fle",
                        contains: ["unknown key 'metrics_fle'", "did you mean 'metrics_file'"])
        try expectError("inventory: n.yaml\nclean:\n  enabled: true\n  batches: 5\n", at: "batches",
                        contains: ["clean: unknown key 'batches'", "did you mean 'batch'"])
        try expectError("inventory: n.yaml\nbatch: 5\n", at: "batch",
                        contains: ["unknown key 'batch'", "under 'clean:'", "clean.batch"])
        try expectError("inventory: n.yaml\naccess:\n  timeout: 5s\n", at: "timeout",
                        contains: ["access: unknown key 'timeout'"])
        try expectError("clean:\n  inventory: n.yaml\n", at: "inventory",
                        contains: ["clean: unknown key 'inventory'", "belongs at the top level (inventory)"])
        try expectError("inventory: n.yaml\nclean:\n  forks: 8\n", at: "forks",
                        contains: ["clean: unknown key 'forks'", "belongs under 'access:' (access.forks)"])
    }

    @Test func wrongTypes() throws {
        try expectError("inventory: n.yaml\naccess: {forks: \"64\"}\n", at: "\"64\"",
                        contains: ["access.forks: expected a whole number 1-4096", "found a string '64'"])
        try expectError("inventory: n.yaml\nclean:\n  enabled: maybe\n", at: "maybe",
                        contains: ["clean.enabled: expected true or false", "found a string 'maybe'"])
        try expectError("inventory: [a.yaml, b.yaml]\n", at: "[",
                        contains: ["inventory: expected the inventory file's path", "found a list"])
        try expectError("inventory: n.yaml\nclean: true\n", at: "true",
                        contains: ["clean: expected a mapping, found a boolean"])
        try expectError("inventory: n.yaml\nlog_format: yaml\n", at: "yaml", after: "log_format",
                        contains: ["log_format: expected text or json", "found a string 'yaml'"])
        try expectError("inventory:\ndb: h.sqlite\n", at: "\n", contains: ["inventory: expected the inventory file's path, found nothing"])
    }

    @Test func badValuesAreCheckedByTheFlagsOwnParsers() throws {
        try expectError("inventory: n.yaml\nclean:\n  rate: 20/day\n", at: "20/day",
                        contains: ["clean.rate: expected N/s, N/min or N/h, e.g. 30/min (as --rate)", "found '20/day'"])
        try expectError("inventory: n.yaml\nclean:\n  pause: 10 minutes\n", at: "10 minutes",
                        contains: ["clean.pause: expected a duration", "(as --pause)", "found '10 minutes'"])
        try expectError("inventory: n.yaml\nclean:\n  batch: \"1,x\"\n", at: "\"1,x\"",
                        contains: ["clean.batch: expected e.g. 1,5,25%", "(as --batch); found '1,x'"])
        try expectError("inventory: n.yaml\nclean: {max_failures: many}\n", at: "many",
                        contains: ["clean.max_failures:", "expected N or P%", "(as --max-failures)"])
        try expectError("inventory: n.yaml\nclean: {max_in_flight: 0}\n", at: "0",
                        contains: ["clean.max_in_flight:", "clean.max_in_flight: must be at least 1 (as --max-in-flight)"])
        try expectError("inventory: n.yaml\naccess:\n  forks: 5000\n", at: "5000",
                        contains: ["access.forks:", "access.forks: must be between 1 and 4096 (as --forks)"])
        try expectError("inventory: n.yaml\naccess:\n  connect_timeout: 90\n", at: "90",
                        contains: ["access.connect_timeout: expected a duration", "(as --connect-timeout)"])
        // 0s is a valid --confirm-after (CleanDuration) but not a valid --probe-timeout.
        try expectError("inventory: n.yaml\nclean: {confirm_after: 0s}\naccess: {probe_timeout: 0s}\n", at: "0s",
                        after: "probe_timeout", contains: ["access.probe_timeout", "(as --probe-timeout)"])
    }

    @Test func malformedEmptyDuplicateAndMissing() throws {
        try expectError("inventory: n.yaml\nclean:\n\tbatch: 3\n", at: "\t",
                        contains: ["malformed YAML"])
        // Yams marks the first of the two.
        try expectError("inventory: n.yaml\ndb: a.sqlite\ndb: b.sqlite\n", at: "db: a", contains: ["duplicate key 'db'"])

        let empty = try write("empty.yaml", "# nothing yet\n")
        let e = try Self.failure(["--config", empty])
        #expect(e.line == 1 && e.column == 1)
        #expect(e.message.contains("empty sweep config"))

        let nothing = try Self.failure(["--config", dir + "/missing.yaml"])
        #expect(nothing.line == nil)
        #expect(nothing.message.contains("cannot read sweep config"))
    }

    /// A bad config ends the sweep before anything else: exit 65, one config.invalid line
    /// naming the place, no lock, no history, no metrics.
    @Test func badConfigExits65AndTouchesNothing() async throws {
        let text = """
        inventory: nodes.yaml
        db: history.sqlite
        metrics_file: fleet.prom
        log_format: json
        clean: {rate: fast}

        """
        let path = try write("sweep.yaml", text)
        let (code, capture) = try await Self.sweep(["--config", path])
        #expect(code == 65)
        let (line, column) = try Self.position(of: "fast", in: text)
        let lines = capture.stderr.split(separator: "\n")
        #expect(lines.count == 1)
        let event = try JSONSerialization.jsonObject(with: Data(lines[0].utf8)) as? [String: Any]
        #expect(event?["event"] as? String == "config.invalid", "the file's log_format is used")
        let fields = event?["fields"] as? [String: Any]
        #expect((fields?["error"] as? String)?.hasPrefix("\(path):\(line):\(column): clean.rate:") == true, "\(capture.stderr)")
        for f in ["history.sqlite", "history.sqlite.lock", "fleet.prom"] {
            #expect(!FileManager.default.fileExists(atPath: dir + "/" + f), "\(f) was written")
        }
        #expect(capture.stdout.isEmpty)
    }

    /// A limit that selects nothing is only known once the inventory is read: when it came
    /// from the file, the error points at its line there.
    @Test func limitFromTheFileIsReportedAtItsLine() async throws {
        _ = try write("nodes.yaml", "nodes:\n  - {name: node-1, address: 127.0.14.250}\n")
        let text = "inventory: nodes.yaml\ndb: history.sqlite\nlimit: \"node-1,rack-z\"\n"
        let path = try write("sweep.yaml", text)
        let (code, capture) = try await Self.sweep(["--config", path])
        #expect(code == 65)
        let (line, column) = try Self.position(of: "\"node-1,rack-z\"", in: text)
        #expect(capture.stderr.contains("inventory.invalid"))
        #expect(capture.stderr.contains("\(path):\(line):\(column): limit: 'node-1,rack-z': 'rack-z' matches no node"), "\(capture.stderr)")

        // The same limit on the command line is the command line's mistake.
        let (_, c2) = try await Self.sweep(["--config", path, "--limit", "rack-y"])
        #expect(c2.stderr.contains("--limit 'rack-y': 'rack-y' matches no node"), "\(c2.stderr)")
        #expect(!c2.stderr.contains("\(path):"))
    }

    @Test func missingInventoryIsAConfigError() async throws {
        let path = try write("sweep.yaml", "db: h.sqlite\n")
        let (code, capture) = try await Self.sweep(["--config", path])
        #expect(code == 65)
        #expect(capture.stderr.contains("config.invalid"))
        #expect(capture.stderr.contains("no inventory"))
        #expect(!FileManager.default.fileExists(atPath: dir + "/h.sqlite"))
        // Neither --inventory nor --config: a usage error, as before.
        #expect(throws: (any Error).self) { try Sweep.parse(["--db", "x"]) }
    }

    /// Every `fleet sweep` option has a key (a new flag without one fails here), and every
    /// key's flag is one `fleet sweep` takes.
    @Test func everyOptionHasAKey() throws {
        // The OPTIONS section: one line per option, `  --clean/--no-clean   Clean ...`.
        let help = Sweep.helpMessage(columns: 400)
        var options = Set<String>()
        for line in help.split(separator: "\n") {
            let t = line.drop(while: { $0 == " " })
            guard t.hasPrefix("--"), let names = t.split(separator: " ").first else { continue }
            for n in names.split(separator: "/") { options.insert(String(n)) }
        }
        #expect(options.contains("--probe-timeout") && options.contains("--no-clean"), "\(options)")
        let notKeys: Set<String> = ["--config", "--help", "--version"]
        let covered = Set(SweepConfigFile.keys.flatMap(\.flags))
        #expect(options.subtracting(notKeys).subtracting(covered).isEmpty,
                "options without a config key: \(options.subtracting(notKeys).subtracting(covered).sorted())")
        #expect(covered.subtracting(options).isEmpty, "keys naming no sweep option: \(covered.subtracting(options).sorted())")
    }

    /// contrib/fleet-sweep.yaml is valid, and names the paths the contrib unit and crontab
    /// can write (ReadWritePaths, StateDirectory, the crontab's mkdir).
    @Test func contribExampleWorksWithTheUnitAndCrontab() throws {
        let root = Fixtures.repoRoot.appendingPathComponent("contrib")
        let example = root.appendingPathComponent("fleet-sweep.yaml").path
        let (s, c) = try Self.resolve(["--config", example])
        #expect(c.inEffect.contains("clean.enabled"))
        let service = try String(contentsOf: root.appendingPathComponent("fleet-sweep.service"), encoding: .utf8)
        let crontab = try String(contentsOf: root.appendingPathComponent("crontab"), encoding: .utf8)
        let writable = try #require(service.split(separator: "\n").first { $0.hasPrefix("ReadWritePaths=") })
            .dropFirst("ReadWritePaths=".count).split(separator: " ").map(String.init)
        let db = try #require(s.database.path?.value)
        let metrics = try #require(s.metricsFile?.value)
        for p in [db, metrics] {
            let folder = (p as NSString).deletingLastPathComponent
            #expect(writable.contains(folder), "\(p) is outside ReadWritePaths \(writable)")
            #expect(crontab.contains(folder), "the crontab does not create \(folder)")
        }
        // The installed path of the example is what both run.
        let installed = "/etc/fleet/sweep.yaml"
        #expect(service.contains("fleet sweep --config \(installed)"))
        #expect(crontab.contains("fleet sweep --config \(installed)"))
        #expect(s.inventory?.value == root.path + "/nodes.yaml", "relative: installed next to the config, /etc/fleet/nodes.yaml")
    }
}
