import ArgumentParser
import FleetModel
import FleetRollout
import FleetSSH
import FleetStore
import FleetTestSupport
import Foundation
import Testing
@testable import FleetCLI

/// `fleet sweep` end to end over real SSH against the simulated farm (tools/farm/farm, real
/// sshd on 127.0.12.x): scan, metrics from the farm's ground truth, then `--clean`, then a
/// sweep that finds the residual maps gone. Expected numbers come from the farm's farm.json.
/// (No residual-hung map here: the first scan's probe leaves a D-state dd that holds the map
/// open, so the next scan calls it in-use and nothing cleans it; reported to the lead.)
@Suite(.serialized) struct SweepFarmTests {
    static let scenario = """
    seed: 11
    nodes:
      - {name: sw-1, maps: [healthy, residual]}
      - {name: sw-2, maps: [residual, healthy, residual]}
      - {name: sw-3, maps: [in-use, healthy, degraded]}
      - {name: sw-4, maps: [healthy], faults: [down]}
    """

    struct FarmNode: Decodable {
        var name: String
        var faults: [String]
        var expected: [String: String]
    }
    struct FarmTruth: Decodable { var nodes: [FarmNode] }

    static func farm(_ args: [String]) throws -> (Int32, String) {
        try ChildProcess.run("/usr/bin/python3", [Fixtures.repoRoot.appendingPathComponent("tools/farm/farm").path] + args)
    }

    func sweep(_ args: [String]) async throws -> (Int32, String) {
        let (output, capture) = FleetOutput.capture()
        let ctx = FleetContext(makeExecutor: { SSHExecutor(options: $0) }, output: output, environment: [:])
        var cmd = try Sweep.parse(args)
        do {
            try await cmd.run(ctx, stop: RolloutStopSignal())
            return (0, capture.stderr)
        } catch let e as ExitCode {
            return (e.rawValue, capture.stderr)
        }
    }

    @Test func scanThenCleanThenNothingResidual() async throws {
        let dir = NSTemporaryDirectory() + "fleet-sweepfarm-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        try Self.scenario.write(toFile: dir + "/scenario.yaml", atomically: true, encoding: .utf8)
        let (upCode, upOut) = try Self.farm(["up", "4", "--scenario", dir + "/scenario.yaml", "--dir", dir + "/farm",
                                             "--base", "127.0.12.1"])
        try #require(upCode == 0, "farm up failed: \(upOut)")
        defer { _ = try? Self.farm(["down", "--dir", dir + "/farm"]) }

        let truth = try JSONDecoder().decode(FarmTruth.self, from: Data(contentsOf: URL(fileURLWithPath: dir + "/farm/farm.json")))
        let up = truth.nodes.filter { $0.faults.isEmpty }
        var expectedSeries: [String: Double] = [:]
        for n in up {
            for v in n.expected.values where v != "healthy" {
                expectedSeries["fleet_sweep_maps{node=\(n.name),verdict=\(v)}", default: 0] += 1
            }
        }
        let cleanable = up.reduce(0) { $0 + $1.expected.values.filter { $0 == "residual" || $0 == "residual-hung" }.count }
        try #require(cleanable == 3)

        let metrics = dir + "/fleet.prom"
        let common = ["--no-kubernetes", "--inventory", dir + "/farm/inventory.yaml", "--db", dir + "/history.sqlite",
                      "--metrics-file", metrics, "--log-format", "json",
                      "--connect-timeout", "5s", "--probe-timeout", "2s"]

        // 1. Scan only: every verdict as the farm says; the down node is refused; exit 2.
        let (c1, log1) = try await sweep(common)
        #expect(c1 == 2, "\(log1)")
        let m1 = try prometheusParse(metrics).samples
        let series1 = m1.filter { $0.key.hasPrefix("fleet_sweep_maps{") }
        #expect(series1 == expectedSeries)
        #expect(m1["fleet_sweep_nodes{status=ok}"] == Double(up.count))
        #expect(m1["fleet_sweep_nodes{status=refused}"] == 1)
        #expect(m1["fleet_sweep_maps_skipped{}"] == Double(cleanable))
        #expect(m1["fleet_sweep_maps_cleaned{}"] == 0)
        #expect(m1["fleet_sweep_success{}"] == 0)

        // 2. --clean: this run's scan is the second all-failed observation (confirm-after 0s).
        try await Task.sleep(for: .milliseconds(1100))
        let (c2, log2) = try await sweep(common + ["--clean", "--confirm-after", "0s"])
        let m2 = try prometheusParse(metrics).samples
        #expect(m2["fleet_sweep_maps_cleaned{}"] == Double(cleanable), "\(log2)")
        #expect(m2["fleet_sweep_maps_clean_failed{}"] == 0)
        #expect(c2 == 3, "the down node makes the clean report failures (fleet clean's exit 3)")
        #expect(log2.contains("\"event\":\"map.cleaned\""))
        #expect(log2.components(separatedBy: "\"event\":\"map.cleaned\"").count - 1 == cleanable)

        // 3. Without the down node: nothing residual is left, every node scanned: success.
        let (c3, log3) = try await sweep(common + ["--limit", "!sw-4"])
        #expect(c3 == 0, "\(log3)")
        let m3 = try prometheusParse(metrics).samples
        let series3 = m3.filter { $0.key.hasPrefix("fleet_sweep_maps{") }
        #expect(series3 == expectedSeries.filter { !$0.key.contains("verdict=residual") })
        #expect(m3["fleet_sweep_success{}"] == 1)
        #expect(m3["fleet_sweep_last_success_timestamp_seconds{}"] != nil)

        let db = try FleetDatabase(path: dir + "/history.sqlite")
        let runs = try db.runs(limit: 10)
        #expect(runs.count == 3)
        #expect(runs.allSatisfy { $0.kind == .sweep })
    }
}
