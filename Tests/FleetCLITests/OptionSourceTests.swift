import ArgumentParser
import FleetInventory
import FleetRollout
import FleetTestSupport
import Foundation
import Testing
@testable import FleetCLI

/// Every option a config file can set knows where its value came from (``OptionSource``):
/// a flag and a config key merge the same way for scan, clean and sweep, the command line
/// wins even with a value equal to the default, and a file's value carries its
/// file:line:column. Values and places are read from the texts the tests write.
@Suite struct OptionSourceTests {
    /// A fresh folder and its `write(_:_:)`, as SweepConfigTests has them.
    let files: SweepConfigTests

    init() throws { files = try SweepConfigTests() }

    func write(_ name: String, _ text: String) throws -> String { try files.write(name, text) }

    /// The same non-default values as a config file (block style: one value per line, so
    /// each has its own place) and as the flags the file's keys name.
    func sameValues() throws -> (file: String, text: String, access: [String], pacing: [String], kube: [String], phases: [String]) {
        let rules = try write("rules.json", "[]")
        let text = """
        inventory: /etc/fleet/nodes.yaml
        clean:
          confirm_after: 10m
          batch: "2,50%"
          max_in_flight: 3
          rate: 30/min
          pause: 1m
          max_failures: 10%
        access:
          forks: 5
          connect_timeout: 7s
          command_timeout: 90s
          probe_timeout: 20s
          host_key_policy: accept-new
          ssh_config: none
          jump: ops@bastion
        kubernetes:
          kubeconfig: /etc/fleet/kubeconfig
          context: prod
          kubectl: /usr/local/bin/kubectl
          rules: \(rules)
          node_label: k8s
          timeout: 20s
        discovery:
          full: true
          full_after: 12h

        """
        let file = try write("sweep.yaml", text)
        let access = ["--forks", "5", "--connect-timeout", "7s", "--command-timeout", "90s", "--probe-timeout", "20s",
                      "--host-key-policy", "accept-new", "--ssh-config", "none", "--jump", "ops@bastion"]
        let pacing = ["--confirm-after", "10m", "--batch", "2,50%", "--max-in-flight", "3", "--rate", "30/min",
                      "--pause", "1m", "--max-failures", "10%"]
        let kube = ["--kubeconfig", "/etc/fleet/kubeconfig", "--context", "prod", "--kubectl", "/usr/local/bin/kubectl",
                    "--kubernetes-rules", rules, "--kubernetes-node-label", "k8s", "--kubernetes-timeout", "20s"]
        let phases = ["--full", "--full-after", "12h"]
        return (file, text, access, pacing, kube, phases)
    }

    static func fromFile(_ args: [String]) throws -> (Sweep, SweepConfig) {
        let cmd = try Sweep.parse(args)
        return try SweepConfig.resolve(cmd, path: try #require(cmd.config))
    }

    static func json(_ value: some Encodable) throws -> String {
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys]
        return String(decoding: try e.encode(value), as: UTF8.self)
    }

    @Test func sameValueByFlagOrByFileResolvesTheSameForScanCleanAndSweep() throws {
        let v = try sameValues()
        let (viaFile, config) = try Self.fromFile(["--config", v.file])
        #expect(config.inEffect.count == 22, "every key the file sets is used: \(config.inEffect)")
        // The values themselves, as the file wrote them.
        #expect(viaFile.access.forks.value == 5)
        #expect(viaFile.access.sshOptions(sessions: 1).connectTimeout == .seconds(7))
        #expect(viaFile.pacing.policy.maxInFlight == 3)
        #expect(viaFile.pacing.policy.rate == RateLimit(count: 30, per: .seconds(60)))
        #expect(viaFile.pacing.policy.maxFailures == .percent(10))
        #expect(try viaFile.kube.settings()?.context == "prod")
        let fileScan = viaFile.phases.applied(to: viaFile.access.scanOptions)
        #expect(fileScan.fullDiscovery && fileScan.fullAfter == .seconds(12 * 3600))

        let scan = try #require(try Fleet.parseAsRoot(["scan", "--inventory", "n.yaml"] + v.access + v.kube + v.phases) as? Scan)
        #expect(scan.access.scanOptions == viaFile.access.scanOptions)
        #expect(scan.phases.applied(to: scan.access.scanOptions) == fileScan)
        #expect(try Self.json(scan.phases.recorded) == Self.json(viaFile.phases.recorded))
        #expect(scan.access.sshOptions(sessions: 7) == viaFile.access.sshOptions(sessions: 7))
        #expect(scan.access.sshConfig?.value == viaFile.access.sshConfig?.value)
        #expect(scan.access.jump?.value == viaFile.access.jump?.value)
        #expect(try Self.json(scan.access.recorded) == Self.json(viaFile.access.recorded))
        #expect(try scan.kube.settings() == viaFile.kube.settings())

        let clean = try #require(try Fleet.parseAsRoot(["clean", "--inventory", "n.yaml"] + v.access + v.pacing + v.kube) as? Clean)
        var cleanOptions = clean.options
        cleanOptions.execute = true; cleanOptions.fromRun = 41
        #expect(cleanOptions == viaFile.cleanOptions(fromRun: 41), "policy, limits, confirm-after and Kubernetes alike")
        #expect(try Self.json(clean.pacing.recorded) == Self.json(viaFile.pacing.recorded))

        let viaFlags = try Sweep.parse(["--inventory", "/etc/fleet/nodes.yaml"] + v.access + v.pacing + v.kube + v.phases)
        #expect(viaFlags.cleanOptions(fromRun: 41) == viaFile.cleanOptions(fromRun: 41))
        #expect(viaFlags.phases.applied(to: viaFlags.access.scanOptions) == fileScan)
        #expect(try Self.json(RecordedOptions(viaFlags.pacing.recorded, viaFlags.access.recorded))
            == Self.json(RecordedOptions(viaFile.pacing.recorded, viaFile.access.recorded)))
    }

    @Test func eachValueSaysWhereItCameFrom() throws {
        let v = try sameValues()
        let (s, _) = try Self.fromFile(["--config", v.file, "--forks", "9", "--limit", "rack-a"])
        #expect(s.access.forks.value == 9 && s.access.forks.source == .commandLine)
        #expect(s.limit?.source == .commandLine)
        let place = try SweepConfigTests.position(of: "7s", in: v.text, after: "connect_timeout:")
        #expect(s.access.connectTimeout.source == .configFile(path: v.file, line: place.line, column: place.column))
        let rate = try SweepConfigTests.position(of: "30/min", in: v.text)
        #expect(s.pacing.rate?.source == .configFile(path: v.file, line: rate.line, column: rate.column))
        #expect(s.logFormat.source == .builtInDefault && s.logFormat.value == .text)
        #expect(s.lock == nil, "neither given nor in the file")

        // Without --config nothing but the command line and the defaults.
        let scan = try #require(try Fleet.parseAsRoot(["scan", "--inventory", "n.yaml", "--probe-timeout", "15s"]) as? Scan)
        #expect(scan.access.probeTimeout.source == .commandLine)
        #expect(scan.access.commandTimeout.source == .builtInDefault && scan.access.commandTimeout.value.text == "60s")
    }

    /// What reading the arguments got right and a "value != default" test gets wrong.
    @Test func aFlagEqualToTheDefaultStillBeatsTheFile() throws {
        let text = """
        inventory: nodes.yaml
        log_format: json
        clean: {enabled: true, batch: 3, max_in_flight: 2, confirm_after: 1h}
        access: {forks: 32, host_key_policy: accept-new, connect_timeout: 3s}
        kubernetes: {enabled: false, node_label: k8s}
        discovery: {full: true, full_after: 2h}

        """
        let file = try write("sweep.yaml", text)
        // Every flag below gives fleet's own default (see `fleet sweep --help`).
        let (s, c) = try Self.fromFile([
            "--config", file, "--log-format", "text", "--no-clean", "--batch", "1,5,25%", "--max-in-flight", "8",
            "--confirm-after", "5m", "--forks", "64", "--host-key-policy", "strict", "--connect-timeout", "10s",
            "--kubernetes", "--kubernetes-node-label", "k8s-node", "--no-full", "--full-after", "24h"])
        #expect(s.logFormat.value == .text)
        #expect(s.clean == false)
        #expect(s.pacing.batch.value.description == "1,5,25%")
        #expect(s.pacing.maxInFlight.value == 8)
        #expect(s.pacing.confirmAfter.value.duration == .seconds(300))
        #expect(s.access.forks.value == 64)
        #expect(s.access.hostKeyPolicy.value == .strict)
        #expect(s.access.connectTimeout.value.duration == .seconds(10))
        #expect(!s.kube.noKubernetes)
        #expect(s.kube.kubernetesNodeLabel.value == "k8s-node")
        #expect(s.phases.full == false && s.phases.fullAfter.value.duration == .seconds(86400))
        #expect(c.inEffect == ["inventory"], "only the key no flag gave: \(c.inEffect)")

        // The same file without those flags: every value is the file's.
        let (f, _) = try Self.fromFile(["--config", file])
        #expect(f.logFormat.value == .json && f.clean == true && f.access.forks.value == 32 && f.kube.noKubernetes)
        #expect(f.pacing.maxInFlight.value == 2 && f.access.hostKeyPolicy.value == .acceptNew)
        #expect(f.phases.full == true && f.phases.fullAfter.value.duration == .seconds(7200))
    }

    /// A bad value is reported at its place even when a flag overrides it (the cron line
    /// that hides it may change), and in the log format the command line asked for.
    @Test func aBadValueIsReportedAtItsPlaceInTheFormatTheFlagAsks() async throws {
        let text = "inventory: nodes.yaml\nlog_format: json\naccess:\n  forks: 5000\n"
        let file = try write("sweep.yaml", text)
        let place = try SweepConfigTests.position(of: "5000", in: text)
        do {
            _ = try Self.fromFile(["--config", file, "--forks", "8"])
            Issue.record("forks: 5000 accepted")
        } catch let f as SweepConfig.Failure {
            #expect(f.error.file == file && f.error.line == place.line && f.error.column == place.column, "\(f)")
            #expect(f.error.message.contains("access.forks: must be between 1 and 4096 (as --forks); found '5000'"), "\(f)")
        }

        let (code, err) = try await Self.sweep(["--config", file, "--log-format", "text"])
        #expect(code == 65)
        #expect(!err.hasPrefix("{"), "--log-format text beats the file's json: \(err)")
        #expect(err.contains("config.invalid"))
        #expect(err.contains("\(file):\(place.line):\(place.column): access.forks"), "\(err)")
    }

    /// `fleet sweep ARGS` in-process (SweepConfigTests's, no node reached): exit status and stderr.
    static func sweep(_ args: [String]) async throws -> (code: Int32, stderr: String) {
        let (code, capture) = try await SweepConfigTests.sweep(args)
        return (code, capture.stderr)
    }

    /// A file the config names that cannot be read is reported at the key that names it;
    /// the same file named by a flag is the flag's mistake, reported as before.
    @Test func anUnreadableFileTheConfigNamesIsReportedAtItsKey() async throws {
        let text = "inventory: missing/nodes.yaml\ndb: history.sqlite\n"
        let file = try write("sweep.yaml", text)
        let place = try SweepConfigTests.position(of: "missing/nodes.yaml", in: text)
        let (code, err) = try await Self.sweep(["--config", file])
        #expect(code == 65)
        #expect(err.contains("inventory.invalid"))
        #expect(err.contains("\(file):\(place.line):\(place.column): inventory: \(files.dir)/missing/nodes.yaml: cannot read inventory"),
                "\(err)")
        let (flagCode, flagErr) = try await Self.sweep(["--config", file, "--inventory", files.dir + "/other.yaml"])
        #expect(flagCode == 65)
        #expect(flagErr.contains("\(files.dir)/other.yaml: cannot read inventory") && !flagErr.contains("\(file):"), "\(flagErr)")

        _ = try write("nodes.yaml", "nodes:\n  - {name: node-1, address: 127.0.22.1}\n")
        let sshText = "inventory: nodes.yaml\ndb: history.sqlite\naccess:\n  ssh_config: \(files.dir)/no/ssh_config\n"
        let sshFile = try write("ssh.yaml", sshText)
        let sshPlace = try SweepConfigTests.position(of: files.dir + "/no/ssh_config", in: sshText)
        let (sshCode, sshErr) = try await Self.sweep(["--config", sshFile])
        #expect(sshCode == 65)
        #expect(sshErr.contains("ssh_config.invalid"))
        #expect(sshErr.contains("\(sshFile):\(sshPlace.line):\(sshPlace.column): access.ssh_config: \(files.dir)/no/ssh_config: cannot read ssh config"),
                "\(sshErr)")
    }

    /// Every key of the file is bound to exactly one option.
    @Test func everyKeyIsBoundOnce() {
        let bound = Sweep.configBindings.map(\.key)
        #expect(bound.count == Set(bound).count, "a key bound twice: \(bound)")
        #expect(Set(bound) == Set(SweepConfigFile.keys.map(\.name)))
    }

    /// No command tells a flag from a default by reading the process's arguments.
    @Test func nothingReadsTheProcessArguments() throws {
        let sources = Fixtures.repoRoot.appendingPathComponent("Sources")
        let files = try #require(FileManager.default.enumerator(atPath: sources.path))
        var readers: [String] = []
        for case let f as String in files where f.hasSuffix(".swift") && !f.hasPrefix("FleetTestSupport/") {
            let text = try String(contentsOf: sources.appendingPathComponent(f), encoding: .utf8)
            if text.contains("CommandLine.arguments") || text.contains("ProcessInfo.processInfo.arguments") { readers.append(f) }
        }
        #expect(readers.isEmpty, "\(readers)")
    }
}
