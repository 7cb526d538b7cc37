import Foundation
import FleetModel
import FleetStore
import FleetTestSupport
import Testing

/// Issue #15 end to end: `fleet scan` and `fleet clean` over real SSH against the farm
/// (127.0.103.10+), asking the test API server (127.0.103.1) through the real kubectl.
/// Checked on the farm's own state afterwards. Uses CleanFarmTests' farm and its lock.
@Suite(.serialized) struct KubernetesFarmTests {
    static let scenario = """
        seed: 103
        nodes:
          - {name: node-0001, maps: [residual, healthy]}
          - {name: node-0002, maps: [residual, healthy]}
          - {name: node-0003, maps: [residual, healthy]}
          - {name: node-0004, maps: [residual, healthy]}
        """

    /// The cluster: four Nodes (by name), the HPE driver, and one VolumeAttachment: node-0002's
    /// residual WWID attached to node-0002 (HPE publishes the NAA id as `serialNumber`).
    static func objects(attachedWWID: String) -> [String: [[String: Any]]] {
        [
            "nodes": (1...4).map { i in
                ["metadata": ["name": String(format: "node-%04d", i)],
                 "status": ["addresses": [["type": "InternalIP", "address": "10.1.0.\(i)"]]]]
            },
            "csidrivers": [["metadata": ["name": "csi.hpe.com"], "spec": ["attachRequired": true]]],
            "persistentvolumes": [["metadata": ["name": "pvc-0002"],
                                   "spec": ["csi": ["driver": "csi.hpe.com", "volumeHandle": "0639f1c1a7d5"]]]],
            "volumeattachments": [[
                "metadata": ["name": "csi-8c2f1e0d9b7a"],
                "spec": ["attacher": "csi.hpe.com", "nodeName": "node-0002", "source": ["persistentVolumeName": "pvc-0002"]],
                "status": ["attached": true, "attachmentMetadata": ["serialNumber": String(attachedWWID.dropFirst())]],
            ]],
        ]
    }

    @Test func witnessesDecideWhatIsCleaned() async throws {
        let bin = try #require(FleetBinary.path, "\(FleetBinary.missing)")
        let farm = try await CleanFarmTests.Farm(scenario: Self.scenario, nodes: 4, base: "127.0.103.10")
        defer { farm.down() }
        let free = try farm.wwid("node-0001", "residual")
        let attached = try farm.wwid("node-0002", "residual")
        let staged = try farm.wwid("node-0003", "residual")
        let reused = try farm.wwid("node-0004", "residual")
        let api = try TestKubeAPIServer(address: "127.0.103.1", objects: Self.objects(attachedWWID: attached))
        defer { api.stop() }
        let env = ["KUBECACHEDIR": api.dir + "/cache"]
        let kube = ["--kubeconfig", api.kubeconfig]

        // kubelet on node-0003 still has node-0003's volume staged (its handle carries the NAA id);
        // on node-0004 the array gave the LUN number of one path to another volume.
        try farm.set("node-0003", "kubelet-stage", "pvc-0003", "csi.example.com", "vol-" + String(staged.dropFirst()))
        try farm.set("node-0004", "lun-reuse", reused)
        // What the farm itself says each map is now (its ground truth, from its state).
        let truth3 = (try farm.state("node-0003"))["expected"] as? [String: String]
        let truth4 = (try farm.state("node-0004"))["expected"] as? [String: String]
        #expect(truth3?[staged] == "in-use" && truth4?[reused] == "lun-reuse-hazard")

        for _ in 0..<2 {
            let s = try CleanFarmTests.run(bin, ["scan", "--inventory", farm.inventory, "--db", farm.db, "--context", "token"] + kube, env: env)
            #expect(s.status == 1, "scan: residual maps found; got \(s.status): \(s.err)")
        }
        let db = try FleetDatabase(path: farm.db)
        let scanRun = try #require(try db.runs(limit: 0, kind: .scan).map(\.id).max())
        var verdicts: [String: Verdict] = [:]
        for n in try db.nodeScans(run: scanRun) { for f in n.findings { if let w = f.map.wwid { verdicts[w] = f.verdict } } }
        #expect(verdicts[free] == .residual)
        #expect(verdicts[attached] == .attachedButDead)
        #expect(verdicts[staged] == .inUse)
        #expect(verdicts[reused] == .lunReuseHazard)
        let scanWitness = try #require(try db.kubernetesWitness(run: scanRun))
        #expect(scanWitness.failure == nil && scanWitness.context == "token" && scanWitness.volumeAttachments == 1)

        let nodes = (1...4).map { String(format: "node-%04d", $0) }
        func states() throws -> [NSDictionary] { try nodes.map { NSDictionary(dictionary: try farm.state($0)) } }
        let before = try states()

        // Fail closed: unreachable, 403, failing exec credential -> nothing changes, exit 6.
        for (ctx, kind) in [("down", "unreachable"), ("forbidden", "forbidden"), ("execfail", "credential")] {
            let r = try CleanFarmTests.run(bin, ["clean", "--inventory", farm.inventory, "--db", farm.db, "--confirm-after", "0s",
                                                 "--execute", "--context", ctx] + kube, env: env)
            #expect(r.status == 6, "\(ctx): \(r.status) \(r.err)")
            #expect(r.err.contains("Kubernetes witness unavailable (\(kind))"), "\(ctx): \(r.err)")
            #expect(r.out.contains("NOTHING CLEANED"), "\(ctx): \(r.out)")
            #expect(try states() == before, "\(ctx): the farm changed")
            let run = try #require(try db.runs(limit: 1, kind: .clean).first)
            #expect(try db.kubernetesWitness(run: run.id)?.failure == kind)
            #expect(try db.actions(limit: 0).filter { $0.runID == run.id }.isEmpty, "\(ctx): actions were planned")
        }

        // The API answers: only the map no witness holds is cleaned.
        let ok = try CleanFarmTests.run(bin, ["clean", "--inventory", farm.inventory, "--db", farm.db, "--confirm-after", "0s",
                                              "--execute", "--context", "token"] + kube, env: env)
        #expect(ok.status == 0, "\(ok.status) \(ok.err)\n\(ok.out)")
        #expect(!(try farm.wwids("node-0001")).contains(free))
        #expect((try farm.state("node-0001"))["wwids_removed"] as? [String] == [free], "multipath -w after the flush")
        #expect(try farm.wwids("node-0002").contains(attached))
        #expect(try farm.disks("node-0002", attached).count == 2)
        #expect(try farm.wwids("node-0003").contains(staged))
        #expect(try farm.wwids("node-0004").contains(reused))
        #expect(try farm.disks("node-0004", reused).count == 2)
        let cleanRun = try #require(try db.runs(limit: 1, kind: .clean).first)
        let w = try #require(try db.kubernetesWitness(run: cleanRun.id))
        #expect(w.failure == nil && w.context == "token" && w.cluster == "test" && w.server == "https://127.0.103.1:\(api.port)")
        let acted = Set(try db.actions(limit: 0).filter { $0.runID == cleanRun.id }.map(\.wwid))
        #expect(acted == [free])
        // The clean's own scan recorded what Kubernetes said per map.
        let cleanScan = try db.nodeScans(run: cleanRun.id).first { $0.node == "node-0002" }
        let k = cleanScan?.findings.first { $0.map.wwid == attached }?.evidence.kubernetes
        #expect(k?.state == .attached && k?.volumeAttachment == "csi-8c2f1e0d9b7a")

        // --no-kubernetes: today's behaviour, the API is no witness: node-0002's map goes.
        // The node-local witnesses still hold: kubelet's record and the disk identities.
        let without = try CleanFarmTests.run(bin, ["clean", "--inventory", farm.inventory, "--db", farm.db, "--confirm-after", "0s",
                                                   "--execute", "--no-kubernetes"], env: env)
        #expect(without.status == 0, "\(without.status) \(without.err)")
        #expect(!(try farm.wwids("node-0002")).contains(attached))
        #expect(try farm.wwids("node-0003").contains(staged))
        #expect(try farm.wwids("node-0004").contains(reused))
        let lastRun = try #require(try db.runs(limit: 1, kind: .clean).first)
        #expect(try db.kubernetesWitness(run: lastRun.id) == nil)
    }
}
