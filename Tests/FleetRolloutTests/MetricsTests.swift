import FleetModel
import FleetRollout
import FleetTestSupport
import Foundation
import Testing

@Suite struct MetricsTests {
    func finding(_ name: String, _ verdict: Verdict) -> MapFinding {
        MapFinding(map: MultipathMap(name: name, wwid: "3600\(name)"), verdict: verdict, reasons: [])
    }

    func scan(_ node: String, _ status: NodeStatus, _ findings: [MapFinding] = []) -> NodeScan {
        NodeScan(node: node, address: "127.0.0.1", status: status, startedAt: Date(timeIntervalSince1970: 1_764_440_000),
                 duration: .seconds(1), findings: findings)
    }

    @Test func fileParsesAndHoldsTheNumbers() throws {
        var m = SweepMetrics(startedAt: Date(timeIntervalSince1970: 1_764_440_000))
        m.add(scan("worker-1", .ok, [finding("mpatha", .residual), finding("mpathb", .residual),
                                      finding("mpathc", .inUse), finding("mpathd", .healthy)]))
        m.add(scan("worker-2", .ok, [finding("mpatha", .residualHung), finding("mpathb", .healthy)]))
        m.add(scan("worker\"3", .refused))
        m.add(scan("worker-4", .commandTimeout))
        m.add(scan("worker-5", .ok))
        m.mapsCleaned = 2
        m.mapsCleanFailed = 1
        m.duration = .milliseconds(12_500)
        m.success = false
        m.exitCode = 3
        m.lastSuccess = Date(timeIntervalSince1970: 1_764_400_000)
        let path = try scratchDir("metrics") + "/fleet.prom"
        try m.write(to: path)

        let (samples, types, helps) = try prometheusParse(path)
        #expect(samples["fleet_sweep_maps{node=worker-1,verdict=residual}"] == 2)
        #expect(samples["fleet_sweep_maps{node=worker-1,verdict=in-use}"] == 1)
        #expect(samples["fleet_sweep_maps{node=worker-1,verdict=healthy}"] == nil)
        #expect(samples["fleet_sweep_maps{node=worker-2,verdict=residual-hung}"] == 1)
        #expect(samples.keys.filter { $0.hasPrefix("fleet_sweep_maps{") }.count == 3)
        #expect(samples["fleet_sweep_maps_by_verdict{verdict=residual}"] == 2)
        #expect(samples["fleet_sweep_maps_by_verdict{verdict=residual-hung}"] == 1)
        #expect(samples["fleet_sweep_maps_by_verdict{verdict=path-loss}"] == 0)
        #expect(samples["fleet_sweep_nodes{status=ok}"] == 3)
        #expect(samples["fleet_sweep_nodes{status=refused}"] == 1)
        #expect(samples["fleet_sweep_nodes{status=command-timeout}"] == 1)
        #expect(samples["fleet_sweep_nodes{status=auth-failed}"] == 0)
        #expect(samples["fleet_sweep_maps_cleaned{}"] == 2)
        #expect(samples["fleet_sweep_maps_clean_failed{}"] == 1)
        #expect(samples["fleet_sweep_duration_seconds{}"] == 12.5)
        #expect(samples["fleet_sweep_success{}"] == 0)
        #expect(samples["fleet_sweep_exit_code{}"] == 3)
        #expect(samples["fleet_sweep_last_run_timestamp_seconds{}"] == 1_764_440_000)
        #expect(samples["fleet_sweep_last_success_timestamp_seconds{}"] == 1_764_400_000)
        // The escaped quote in a node name survives the round trip (no node series: it has no maps).
        #expect(samples.keys.allSatisfy { !$0.contains("worker\"3") || $0.contains("status") == false })
        #expect(types.values.allSatisfy { $0 == "gauge" })
        #expect(types.count == 11)
        #expect(helps.values.allSatisfy { !$0.isEmpty })

        // The next (failed) run carries the last success over.
        #expect(SweepMetrics.previousLastSuccess(path: path) == Date(timeIntervalSince1970: 1_764_400_000))
    }

    @Test func labelValuesAreEscaped() throws {
        var m = SweepMetrics(startedAt: Date(timeIntervalSince1970: 0))
        m.add(scan("we\"ird\\node", .ok, [finding("mpatha", .needsReview)]))
        let path = try scratchDir("metrics2") + "/fleet.prom"
        try m.write(to: path)
        let (samples, _, _) = try prometheusParse(path)
        #expect(samples["fleet_sweep_maps{node=we\"ird\\node,verdict=needs-review}"] == 1)
        #expect(samples["fleet_sweep_last_success_timestamp_seconds{}"] == nil)
    }

    @Test func writeReplacesAtomicallyAndLeavesNoTemporaryFile() throws {
        let dir = try scratchDir("metrics3")
        let path = dir + "/fleet.prom"
        try "old content that is not a metric\n".write(toFile: path, atomically: false, encoding: .utf8)
        let before = try FileManager.default.attributesOfItem(atPath: path)[.systemFileNumber] as? Int
        try SweepMetrics(startedAt: Date(timeIntervalSince1970: 5)).write(to: path)
        let after = try FileManager.default.attributesOfItem(atPath: path)[.systemFileNumber] as? Int
        // rename(2) puts a new inode in place: a reader sees the old file or the new one, never half.
        #expect(before != after)
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir) == ["fleet.prom"])
        #expect(try String(contentsOfFile: path, encoding: .utf8).contains("fleet_sweep_last_run_timestamp_seconds 5\n"))
    }
}
