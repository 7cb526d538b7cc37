import FleetStore
import FleetTestSupport
import Foundation
import Testing

/// `fleet sweep --config FILE` as cron runs it: the real `fleet` binary, a config file with
/// relative paths next to it, real SSH against the simulated farm on 127.0.14.x (no other
/// test uses that block). A scan-only run (`--no-clean` overrides the file's
/// `clean.enabled: true`), then the file alone cleans every residual map the farm has.
@Suite(.serialized) struct SweepConfigFarmTests {
    static let scenario = """
    seed: 14
    nodes:
      - {name: cfg-1, maps: [healthy, residual]}
      - {name: cfg-2, maps: [residual, in-use]}
      - {name: cfg-3, maps: [healthy, degraded]}
    """

    static let config = """
    # paths relative to this file's folder
    inventory: farm/inventory.yaml
    db: state/history.sqlite
    metrics_file: fleet.prom
    log_format: json
    clean:
      enabled: true
      confirm_after: 0s
      batch: "1,50%"
      max_in_flight: 2
      rate: 600/min
      pause: 0s
      max_failures: 1
    access: {forks: 4, connect_timeout: 5s, command_timeout: 30s, probe_timeout: 2s, host_key_policy: strict}
    kubernetes: {enabled: false}

    """

    struct FarmNode: Decodable {
        var name: String
        var faults: [String]
        var expected: [String: String]
    }
    struct FarmTruth: Decodable { var nodes: [FarmNode] }

    static func run(_ executable: String, _ args: [String], cwd: String? = nil) throws -> (Int32, String) {
        try ChildProcess.run(executable, args, cwd: cwd)
    }

    static func events(_ log: String, _ name: String) -> [[String: Any]] {
        log.split(separator: "\n").compactMap { line in
            guard let o = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
                  o["event"] as? String == name else { return nil }
            return o
        }
    }

    @Test func configCleansTheFarm() throws {
        let bin = try #require(FleetBinary.path, "\(FleetBinary.missing)")
        let dir = NSTemporaryDirectory() + "fleet-sweepcfgfarm-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: dir + "/state", withIntermediateDirectories: true)
        try Self.scenario.write(toFile: dir + "/scenario.yaml", atomically: true, encoding: .utf8)
        let farm = Fixtures.repoRoot.appendingPathComponent("tools/farm/farm").path
        let (upCode, upOut) = try Self.run("/usr/bin/python3", [farm, "up", "3", "--scenario", dir + "/scenario.yaml",
                                                                 "--dir", dir + "/farm", "--base", "127.0.14.1"])
        try #require(upCode == 0, "farm up failed: \(upOut)")
        defer { _ = try? Self.run("/usr/bin/python3", [farm, "down", "--dir", dir + "/farm"]) }
        let truth = try JSONDecoder().decode(FarmTruth.self, from: Data(contentsOf: URL(fileURLWithPath: dir + "/farm/farm.json")))
        let residual = truth.nodes.reduce(0) { $0 + $1.expected.values.filter { $0 == "residual" }.count }
        try #require(residual == 2, "scenario: two residual maps")

        let config = dir + "/sweep.yaml"
        try Self.config.write(toFile: config, atomically: true, encoding: .utf8)
        // Run from another folder: the file's relative paths must not depend on it.
        let elsewhere = NSTemporaryDirectory()

        // 1. The command line overrides the file: scan only, residual maps left (exit 1).
        let (c1, log1) = try Self.run(bin, ["sweep", "--config", config, "--no-clean"], cwd: elsewhere)
        #expect(c1 == 1, "\(log1)")
        #expect(Self.events(log1, "map.cleaned").isEmpty)
        #expect(Self.events(log1, "map.found").filter { ($0["fields"] as? [String: Any])?["verdict"] as? String == "residual" }.count
                == residual)
        #expect(FileManager.default.fileExists(atPath: dir + "/state/history.sqlite"), "db: relative to the config's folder")
        #expect(FileManager.default.fileExists(atPath: dir + "/fleet.prom"), "metrics_file: relative to the config's folder")
        let started = try #require(Self.events(log1, "sweep.started").first?["fields"] as? [String: Any])
        #expect(started["clean"] as? Bool == false)
        #expect(started["config"] as? String == config)

        // 2. The file alone: clean.enabled, this run's scan is the second observation (0s).
        Thread.sleep(forTimeInterval: 1.1)
        let (c2, log2) = try Self.run(bin, ["sweep", "--config", config], cwd: elsewhere)
        #expect(c2 == 0, "\(log2)")
        #expect(Self.events(log2, "map.cleaned").count == residual)
        // Batches follow the file's ramp (1, then 50% of the one left = 1).
        let batches = Self.events(log2, "node.cleaning").compactMap { ($0["fields"] as? [String: Any])?["batch"] as? Int }
        #expect(batches.sorted() == [1, 2])
        let metrics = try prometheusParse(dir + "/fleet.prom").samples
        #expect(metrics["fleet_sweep_maps_cleaned{}"] == Double(residual))
        #expect(metrics["fleet_sweep_success{}"] == 1)

        // 3. What the farm says now: the residual maps and their disks are gone.
        let (c3, log3) = try Self.run(bin, ["sweep", "--config", config, "--no-clean", "--log-format", "text"], cwd: elsewhere)
        #expect(c3 == 0, "nothing residual left: \(log3)")
        #expect(log3.contains("sweep.finished"))
        #expect(!log3.contains("\"event\""), "--log-format text overrides the file's json")

        // The run rows record the config and the options in effect.
        let db = try FleetDatabase(path: dir + "/state/history.sqlite")
        let runs = try db.runs(limit: 10).sorted { $0.id < $1.id }
        try #require(runs.count == 3)
        #expect(runs.allSatisfy { $0.inventory == dir + "/farm/inventory.yaml" })
        let options = try runs.map { try #require(JSONSerialization.jsonObject(with: Data($0.options.utf8)) as? [String: Any]) }
        #expect(options.allSatisfy { $0["config"] as? String == config })
        #expect(options.map { $0["clean"] as? Bool } == [false, true, false])
        #expect(options[1]["batch"] as? String == "1,50%")
        #expect(options[1]["maxInFlight"] as? Int == 2)
        #expect(options[1]["rate"] as? String == "600/min")
        #expect(options[1]["maxFailures"] as? String == "1")
        #expect(options[1]["forks"] as? Int == 4)
        #expect(options[1]["probeTimeout"] as? String == "2s")
        #expect(options[1]["logFormat"] as? String == "json")
        let keys0 = Set(options[0]["configKeys"] as? [String] ?? [])
        let keys1 = Set(options[1]["configKeys"] as? [String] ?? [])
        #expect(!keys0.contains("clean.enabled") && keys1.contains("clean.enabled"))
        #expect(keys1.contains("clean.batch") && keys1.contains("inventory"))
    }
}
