import Foundation
import FleetModel
import FleetStore
import FleetTestSupport
import Testing

/// CSI raw block volumes over real SSH against the farm (addresses 127.0.70.x): kubelet's
/// bind of the device node shows only in /proc/self/mountinfo, does not open the map, and a
/// real kernel would let `multipath -f` remove it under the pod. Checked on the farm's state.
/// Uses CleanFarmTests' farm helpers and its cross-process lock.
@Suite(.serialized) struct RawBlockFarmTests {
    static let scenario = """
        seed: 70
        nodes:
          - {name: node-0001, maps: [residual, healthy]}
          - {name: node-0002, maps: [residual, healthy]}
          - {name: node-0003, maps: [residual, healthy]}
        """

    @Test func publishedResidualMapIsNeverCleaned() async throws {
        let bin = try #require(FleetBinary.path, "\(FleetBinary.missing)")
        let farm = try await CleanFarmTests.Farm(scenario: Self.scenario, nodes: 3, base: "127.0.70.1")
        defer { farm.down() }
        let published = try farm.wwid("node-0001", "residual")
        let lateWWID = try farm.wwid("node-0002", "residual")
        let control = try farm.wwid("node-0003", "residual")
        let pub1 = "/var/lib/kubelet/plugins/kubernetes.io/csi/volumeDevices/publish/pvc-70a1/0f1e2d3c"
        let pub2 = "/var/lib/kubelet/pods/5b6a7c8d/volumeDevices/kubernetes.io~csi/pvc-70b2"
        // node-0001: published before the scans (the scan must call it in-use).
        try farm.set("node-0001", "publish-block", published, pub1)
        let before = try (1...3).map { try farm.wwids(String(format: "node-%04d", $0)) }
        let state1 = try farm.state("node-0001")

        for _ in 0..<2 {
            let s = try CleanFarmTests.run(bin, ["scan", "--inventory", farm.inventory, "--db", farm.db])
            #expect(s.status == 1, "scan: residual maps found; got \(s.status): \(s.err)")
        }
        let db = try FleetDatabase(path: farm.db)
        // The first scan is the earlier observation; plan from the second (as an operator
        // reviewing a dry run would), so node-0002's change lands between plan and action.
        let scanRun = try #require(try db.runs(limit: 0, kind: .scan).map(\.id).max())
        // node-0002: published between the plan's scan and the clean (the re-check must see it).
        try farm.set("node-0002", "publish-block", lateWWID, pub2)
        let state2 = try farm.state("node-0002")

        let ex = try CleanFarmTests.run(bin, ["clean", "--no-kubernetes", "--inventory", farm.inventory, "--db", farm.db,
                                              "--from-run", String(scanRun), "--confirm-after", "0s", "--execute"])
        #expect(ex.status == 0, "clean --execute: \(ex.status) \(ex.err)")

        // The control map went: clean did run.
        #expect(try farm.wwids("node-0003") == before[2].subtracting([control]))
        // Both published maps are still there, with their disks and their binds.
        #expect(try farm.wwids("node-0001") == before[0])
        #expect(try farm.wwids("node-0002") == before[1])
        #expect(try farm.disks("node-0001", published).count == 2)
        #expect(try farm.disks("node-0002", lateWWID).count == 2)
        #expect(NSDictionary(dictionary: try farm.state("node-0001")) == NSDictionary(dictionary: state1), "node-0001 state changed")
        #expect(NSDictionary(dictionary: try farm.state("node-0002")) == NSDictionary(dictionary: state2), "node-0002 state changed")

        // fleet's history: never planned on node-0001; aborted unsent on node-0002, saying why.
        let cleanRun = try #require(try db.runs(limit: 1, kind: .clean).first)
        let actions = try db.actions(limit: 0).filter { $0.runID == cleanRun.id }
        #expect(!actions.contains { $0.wwid == published })
        let late = actions.filter { $0.wwid == lateWWID }
        #expect(!late.isEmpty)
        #expect(late.allSatisfy { $0.outcome == .aborted && $0.startedAt == nil })
        #expect(late.allSatisfy { $0.reason?.contains(pub2) == true }, "\(late.map { $0.reason ?? "" })")
        #expect(actions.contains { $0.wwid == control && $0.outcome == .ok })
    }
}
