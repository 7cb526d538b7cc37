import Foundation
import FleetModel
import FleetTestSupport
import Testing
@testable import FleetCLI

/// `fleet explain` in-process on the real captures (no SSH anywhere).
@Suite struct ExplainTests {
    static func explain(_ args: [String]) throws -> (code: Int32, out: String, err: String) {
        let cmd = try Explain.parse(args)
        var out = "", err = ""
        let code = cmd.execute(out: { out += $0 }, err: { err += $0 })
        return (code.rawValue, out, err)
    }

    static func state(_ s: String) -> String { Fixtures.realRoot.appendingPathComponent(s).path }

    @Test func residualFolderTableExits1() throws {
        let r = try Self.explain([Self.state("residual")])
        #expect(r.code == 1)
        #expect(r.out.contains("mpatha (36001405ae3a4a2b307ccf2a518e52df9) dm-0: residual"))
        #expect(r.out.contains("probe: Input/output error"))
        #expect(r.err.isEmpty)
    }

    @Test func healthyFolderExits0() throws {
        let r = try Self.explain([Self.state("healthy")])
        #expect(r.code == 0)
        #expect(r.out.components(separatedBy: ": healthy\n").count == 5)
    }

    @Test func hungFolderJSON() throws {
        let r = try Self.explain(["--format", "json", Self.state("hung")])
        #expect(r.code == 1)
        let obj = try #require(try JSONSerialization.jsonObject(with: Data(r.out.utf8)) as? [String: Any])
        let maps = try #require(obj["maps"] as? [[String: Any]])
        #expect(maps.first { $0["name"] as? String == "mpathc" }?["verdict"] as? String == "residual-hung")
        #expect(r.out.hasPrefix("{\n  \"maps\": ["))
    }

    @Test func pastedFileIsNeverResidual() throws {
        let dir = NSTemporaryDirectory() + "fleet-explain-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let file = dir + "/customer.txt"
        try Fixtures.real("residual", "multipath-ll.txt").write(toFile: file, atomically: true, encoding: .utf8)
        let r = try Self.explain(["--format", "json", file])
        #expect(r.code == 0)
        #expect(r.out.contains("\"verdict\":\"needs-review\"") || r.out.contains("\"verdict\": \"needs-review\""))
        #expect(r.out.contains("not probed"))
    }

    @Test func unreadablePathExits64() throws {
        let r = try Self.explain(["/nonexistent/fleet-explain"])
        #expect(r.code == 64)
        #expect(r.err.contains("/nonexistent/fleet-explain"))
        let dir = NSTemporaryDirectory() + "fleet-explain-empty-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        #expect(try Self.explain([dir]).code == 64)
    }

    @Test func severalPathsJSONLines() throws {
        let r = try Self.explain(["--format", "json", Self.state("healthy"), Self.state("mixed")])
        #expect(r.code == 1)
        let lines = r.out.split(separator: "\n")
        #expect(lines.count == 2)
        #expect(lines.allSatisfy { $0.hasPrefix("{\"maps\":[") })
    }
}

/// `fleet explain --kubernetes`: saved `kubectl get volumeattachments,pv,csidrivers,nodes -o json`.
@Suite struct ExplainKubernetesTests {
    /// mpatha of the `residual` captures (NAA id 6001405ae3a4a2b307ccf2a518e52df9) attached to worker-1 by HPE's driver.
    static let cluster = """
        {"apiVersion": "v1", "kind": "List", "metadata": {"resourceVersion": ""}, "items": [
          {"apiVersion": "storage.k8s.io/v1", "kind": "VolumeAttachment", "metadata": {"name": "csi-77"},
           "spec": {"attacher": "csi.hpe.com", "nodeName": "worker-1", "source": {"persistentVolumeName": "pvc-77"}},
           "status": {"attached": true, "attachmentMetadata": {"serialNumber": "6001405ae3a4a2b307ccf2a518e52df9"}}},
          {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "worker-1"}, "status": {"addresses": []}}
        ]}
        """

    @Test func attachedMapIsAttachedButDeadOnItsNodeOnly() throws {
        let file = NSTemporaryDirectory() + "fleet-explain-k8s-\(UUID().uuidString).json"
        try Self.cluster.write(toFile: file, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: file) }
        let on = try ExplainTests.explain(["--kubernetes", file, "--node", "worker-1", ExplainTests.state("residual")])
        #expect(on.out.contains("mpatha (36001405ae3a4a2b307ccf2a518e52df9) dm-0: attached-but-dead"), "\(on.out)")
        #expect(on.code == 0, "nothing cleanable left")
        let elsewhere = try ExplainTests.explain(["--kubernetes", file, "--node", "worker-2", ExplainTests.state("residual")])
        #expect(elsewhere.out.contains("dm-0: residual"))
        #expect(throws: (any Error).self) { try Explain.parse(["--kubernetes", file, ExplainTests.state("residual")]) }
    }
}
