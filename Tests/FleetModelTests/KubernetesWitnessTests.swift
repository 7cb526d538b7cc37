import Foundation
import FleetModel
import FleetTestSupport
import Testing

/// The witnesses besides multipath (issue #15), on the real `residual` captures: mpatha
/// (36001405ae3a4a2b307ccf2a518e52df9, dm-0, paths sdg and sdh, all failed, probe EIO) is
/// residual by the node alone. Kubernetes objects are written in the API's own JSON shapes
/// (kubernetes.io API reference: VolumeAttachment spec.attacher/nodeName/source.
/// persistentVolumeName, status.attached/attachmentMetadata; CSIDriver spec.attachRequired;
/// PersistentVolume spec.csi.driver/volumeHandle/volumeAttributes; Node status.addresses).
@Suite struct KubernetesWitnessTests {
    static let mpatha = "36001405ae3a4a2b307ccf2a518e52df9"

    static func outputs(_ change: (inout [CommandOutput]) -> Void = { _ in }) throws -> [CommandOutput] {
        var o = try Fixtures.realOutputs("residual")
        change(&o)
        return o
    }

    static func findings(_ outputs: [CommandOutput], view: KubeNodeView?) -> [MapFinding] {
        let s = NodeSnapshot(outputs: outputs)
        var f = Classifier.classify(s)
        Witnesses.apply(&f, snapshot: s, kubernetes: view, rules: WWIDRule.builtIn)
        return f
    }

    static func mpathaFinding(_ outputs: [CommandOutput], view: KubeNodeView?) throws -> MapFinding {
        try #require(findings(outputs, view: view).first { $0.map.wwid == mpatha })
    }

    /// `kubectl get volumeattachments,csidrivers,persistentvolumes,nodes -o json`: a List of mixed kinds.
    static func list(vaNode: String = "worker-1", serial: String? = "6001405ae3a4a2b307ccf2a518e52df9", attached: Bool = true,
                     extra: String = "") -> Data {
        let meta = serial.map { #", "attachmentMetadata": {"serialNumber": "\#($0)"}"# } ?? ""
        return Data("""
        {"apiVersion": "v1", "kind": "List", "metadata": {"resourceVersion": ""}, "items": [
          {"apiVersion": "storage.k8s.io/v1", "kind": "VolumeAttachment",
           "metadata": {"name": "csi-0a1b2c", "creationTimestamp": "2026-12-01T10:00:00Z"},
           "spec": {"attacher": "csi.hpe.com", "nodeName": "\(vaNode)", "source": {"persistentVolumeName": "pvc-1111"}},
           "status": {"attached": \(attached)\(meta)}},
          {"apiVersion": "storage.k8s.io/v1", "kind": "CSIDriver", "metadata": {"name": "csi.hpe.com"},
           "spec": {"attachRequired": true, "podInfoOnMount": false}},
          {"apiVersion": "v1", "kind": "PersistentVolume", "metadata": {"name": "pvc-1111"},
           "spec": {"capacity": {"storage": "1Gi"}, "csi": {"driver": "csi.hpe.com", "volumeHandle": "063d1f7a0c9e", "fsType": "ext4"}}},
          {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "worker-1", "labels": {"kubernetes.io/hostname": "worker-1"}},
           "status": {"addresses": [{"type": "InternalIP", "address": "10.0.0.11"}, {"type": "Hostname", "address": "worker-1"}]}}
          \(extra)
        ]}
        """.utf8)
    }

    static func view(_ data: Data, inventoryName: String = "worker-1", host: String = "10.9.9.9",
                     labels: [String: String] = [:]) throws -> KubeNodeView {
        let objects = try Kube.decode(data)
        return KubeCluster(source: "context test", objects: objects)
            .view(inventoryName: inventoryName, host: host, labels: labels, nodeLabel: "k8s-node")
    }

    @Test func decodesTheAPIShapes() throws {
        let o = try Kube.decode(Self.list())
        #expect(o.volumeAttachments.count == 1 && o.csiDrivers.count == 1 && o.persistentVolumes.count == 1 && o.nodes.count == 1)
        #expect(o.volumeAttachments[0].spec?.nodeName == "worker-1")
        #expect(o.volumeAttachments[0].status?.attachmentMetadata?["serialNumber"] == "6001405ae3a4a2b307ccf2a518e52df9")
        #expect(o.csiDrivers[0].attachRequired)
        #expect(o.nodes[0].status?.addresses?.first?.address == "10.0.0.11")
        // A typed list (`kubectl get volumeattachments -o json` from the API directly) has no per-item kind.
        let typed = Data(#"{"kind": "VolumeAttachmentList", "apiVersion": "storage.k8s.io/v1", "metadata": {}, "items": [{"metadata": {"name": "va-1"}, "spec": {"attacher": "x", "nodeName": "n", "source": {}}}]}"#.utf8)
        #expect(try Kube.decode(typed).volumeAttachments.map(\.name) == ["va-1"])
        #expect(throws: Kube.DecodeError.self) { try Kube.decode(Data("not json".utf8)) }
    }

    @Test func wwidRules() {
        // HPE serialNumber and Dell DEVICE_WWN are NAA 6 hex: multipath adds the type digit 3.
        #expect(WWIDRule.wwid(from: "60002AC0000000000000000B0001A1B9", .naa) == "360002ac0000000000000000b0001a1b9")
        #expect(WWIDRule.wwid(from: "naa.60002ac0000000000000000b0001a1b9", .naa) == "360002ac0000000000000000b0001a1b9")
        #expect(WWIDRule.wwid(from: "360002ac0000000000000000b0001a1b9", .naa) == "360002ac0000000000000000b0001a1b9")
        #expect(WWIDRule.wwid(from: "not-hex", .naa) == nil)
        // NetApp: 3600a0980 + the 12-character LUN serial's bytes ("805SE?F0Erz/" = 38 30 35 53 45 3f 46 30 45 72 7a 2f).
        #expect(WWIDRule.wwid(from: "805SE?F0Erz/", .netappSerial) == "3600a098038303553453f463045727a2f")
        // The kernel's /sys/block/sdX/device/wwid for an NAA designator.
        #expect(WWIDRule.wwid(fromSysfs: "naa.6001405ae3a4a2b307ccf2a518e52df9\n") == Self.mpatha)
        #expect(WWIDRule.wwid(fromSysfs: "t10.ATA     QEMU HARDDISK") == nil)
    }

    @Test func residualWithNoAttachmentIsClearAndStaysResidual() throws {
        let v = try Self.view(Self.list(vaNode: "worker-2"))
        let f = try Self.mpathaFinding(try Self.outputs(), view: v)
        #expect(f.verdict == .residual)
        #expect(f.evidence.kubernetes?.state == .clear)
    }

    @Test func allFailedButAttachedToThisNodeIsAttachedButDead() throws {
        let v = try Self.view(Self.list())
        #expect(v.attachments.first?.wwid == Self.mpatha)
        let f = try Self.mpathaFinding(try Self.outputs(), view: v)
        #expect(f.verdict == .attachedButDead)
        #expect(f.verdict.isAlarm && !f.verdict.isCleanable)
        #expect(f.evidence.kubernetes?.volumeAttachment == "csi-0a1b2c")
        // Other maps of the node are not attached: mpathb keeps its own verdict.
        let others = Self.findings(try Self.outputs(), view: v).filter { $0.map.wwid != Self.mpatha }
        #expect(!others.contains { $0.verdict == .attachedButDead })
    }

    @Test func attachmentFoundThroughThePVWhenMetadataHasNoSerial() throws {
        // No attachmentMetadata: the PV's volumeAttributes (Huawei's lunWWN rule) give the WWID.
        let data = Self.list(serial: nil).replacingPV(#""csi": {"driver": "csi.hpe.com", "volumeHandle": "063d1f7a0c9e", "fsType": "ext4"}"#,
                                                      #""csi": {"driver": "csi.huawei.com", "volumeHandle": "x", "volumeAttributes": {"lunWWN": "6001405ae3a4a2b307ccf2a518e52df9"}}"#)
        let f = try Self.mpathaFinding(try Self.outputs(), view: try Self.view(data))
        #expect(f.verdict == .attachedButDead)
    }

    @Test func unknownWhenKubernetesCannotTell() throws {
        // The VA on this node gives no WWID (no metadata, PV without a rule): any map could be it.
        let noRule = try Self.view(Self.list(serial: nil))
        #expect(try Self.mpathaFinding(try Self.outputs(), view: noRule).evidence.kubernetes?.state == .unknown)
        // Attaching (attached: false) on this node.
        let inFlight = try Self.view(Self.list(serial: "60002ac0000000000000000b0001a1b9", attached: false))
        let w = try Self.mpathaFinding(try Self.outputs(), view: inFlight).evidence.kubernetes
        #expect(w?.state == .unknown && w?.detail.contains("attaching") == true)
        // The inventory node matches no Kubernetes Node.
        let lost = try Self.view(Self.list(), inventoryName: "elsewhere")
        #expect(lost.nodeName == nil)
        #expect(try Self.mpathaFinding(try Self.outputs(), view: lost).evidence.kubernetes?.state == .unknown)
        // A driver with attachRequired: false whose PV is this WWID: no VA proves nothing.
        let extra = #"""
            , {"apiVersion": "storage.k8s.io/v1", "kind": "CSIDriver", "metadata": {"name": "csi.huawei.com"}, "spec": {"attachRequired": false}}
            , {"apiVersion": "v1", "kind": "PersistentVolume", "metadata": {"name": "pvc-2222"},
               "spec": {"csi": {"driver": "csi.huawei.com", "volumeHandle": "h", "volumeAttributes": {"lunWWN": "6001405ae3a4a2b307ccf2a518e52df9"}}}}
            """#
        let noAttach = try Self.view(Self.list(vaNode: "worker-2", extra: extra))
        let n = try Self.mpathaFinding(try Self.outputs(), view: noAttach)
        #expect(n.verdict == .residual && n.evidence.kubernetes?.state == .unknown)
        #expect(n.evidence.kubernetes?.detail.contains("attachRequired") == true)
    }

    @Test func nodeMatchedByLabelOrAddress() throws {
        #expect(try Self.view(Self.list(), inventoryName: "w1", host: "10.0.0.11").nodeName == "worker-1")
        #expect(try Self.view(Self.list(), inventoryName: "w1", labels: ["k8s-node": "worker-1"]).nodeName == "worker-1")
        // A label naming no Node is not silently replaced by another match.
        #expect(try Self.view(Self.list(), inventoryName: "worker-1", labels: ["k8s-node": "nope"]).nodeName == nil)
    }

    static func kubelet(_ records: String) -> CommandOutput {
        CommandOutput(command: .kubeletVolumes, stdout: records, exitCode: 0)
    }

    @Test func kubeletStagedMapIsInUseWithoutAnyAPI() throws {
        // kubelet's record of a volume whose handle carries the LUN's NAA id (the WWID without its 3).
        let rec = "== /var/lib/kubelet/plugins/kubernetes.io/csi/pv/pvc-1111/vol_data.json\n"
            + #"{"attachmentID":"csi-0a1b2c","driverName":"csi.example.com","nodeName":"worker-1","specVolID":"pvc-1111","volumeHandle":"vol-6001405ae3a4a2b307ccf2a518e52df9","volumeLifecycleMode":"Persistent"}"#
            + "\n"
        let f = try Self.mpathaFinding(try Self.outputs { $0.append(Self.kubelet(rec)) }, view: nil)
        #expect(f.verdict == .inUse)
        #expect(f.reasons.first?.contains("kubelet has it staged") == true)
        // The same record known through the API's PV (handle without the WWID).
        let rec2 = "== /var/lib/kubelet/plugins/kubernetes.io/csi/volumeDevices/pvc-1111/data/vol_data.json\n"
            + #"{"driverName":"csi.hpe.com","specVolID":"pvc-1111","volumeHandle":"063d1f7a0c9e"}"# + "\n"
        var v = try Self.view(Self.list(vaNode: "worker-2"))
        v.pvWWIDs["pvc-1111"] = Self.mpatha
        #expect(try Self.mpathaFinding(try Self.outputs { $0.append(Self.kubelet(rec2)) }, view: v).verdict == .inUse)
    }

    @Test func kubeletRecordNobodyCanTieIsNeedsReview() throws {
        let rec = "== /var/lib/kubelet/plugins/kubernetes.io/csi/pv/pvc-9999/vol_data.json\n"
            + #"{"driverName":"csi.example.com","specVolID":"pvc-9999","volumeHandle":"opaque-17"}"# + "\n"
        let f = try Self.mpathaFinding(try Self.outputs { $0.append(Self.kubelet(rec)) }, view: nil)
        #expect(f.verdict == .needsReview)
        #expect(f.reasons.first?.contains("pvc-9999") == true)
        // No records at all (the directory is empty): nothing changes.
        #expect(try Self.mpathaFinding(try Self.outputs { $0.append(Self.kubelet("")) }, view: nil).verdict == .residual)
    }

    @Test func pathDiskWithAnotherLUNIdentityIsALunReuseHazard() throws {
        let sdg = BlockDeviceName("sdg")!, sdh = BlockDeviceName("sdh")!
        let same = try Self.outputs {
            $0.append(CommandOutput(command: .deviceWWID(sdg), stdout: "naa.6001405ae3a4a2b307ccf2a518e52df9\n", exitCode: 0))
            $0.append(CommandOutput(command: .deviceWWID(sdh), stdout: "naa.6001405ae3a4a2b307ccf2a518e52df9\n", exitCode: 0))
        }
        #expect(try Self.mpathaFinding(same, view: nil).verdict == .residual)
        let reused = try Self.outputs {
            $0.append(CommandOutput(command: .deviceWWID(sdg), stdout: "naa.6001405ae3a4a2b307ccf2a518e52df9\n", exitCode: 0))
            $0.append(CommandOutput(command: .deviceWWID(sdh), stdout: "naa.600140500000000000000000000000aa\n", exitCode: 0))
        }
        let f = try Self.mpathaFinding(reused, view: try Self.view(Self.list()))
        // Even attached per Kubernetes, the identity mismatch wins: it is the louder alarm.
        #expect(f.verdict == .lunReuseHazard)
        #expect(f.reasons.first?.contains("sdh is naa.600140500000000000000000000000aa") == true)
    }
}

extension Data {
    func replacingPV(_ a: String, _ b: String) -> Data {
        Data(String(decoding: self, as: UTF8.self).replacingOccurrences(of: a, with: b).utf8)
    }
}
