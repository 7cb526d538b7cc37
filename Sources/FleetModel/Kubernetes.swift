import Foundation

/// The Kubernetes objects fleet reads (through the operator's `kubectl get
/// volumeattachments,csidrivers,persistentvolumes,nodes -o json`), decoded from the API's
/// JSON shapes. Only the fields fleet uses; everything is optional, as the API omits empty
/// fields (`status` of a fresh VolumeAttachment, `attachRequired` left at its default).
public enum Kube {
    public struct Metadata: Decodable, Sendable, Hashable {
        public var name: String?
        public var labels: [String: String]?
        public var deletionTimestamp: String?
    }

    /// storage.k8s.io/v1 VolumeAttachment.
    public struct VolumeAttachment: Decodable, Sendable, Hashable {
        public struct Source: Decodable, Sendable, Hashable {
            public var persistentVolumeName: String?
            public var inlineVolumeSpec: PersistentVolume.Spec?
        }
        public struct Spec: Decodable, Sendable, Hashable {
            public var attacher: String?
            public var nodeName: String?
            public var source: Source?
        }
        public struct VolumeError: Decodable, Sendable, Hashable {
            public var message: String?
            public var time: String?
        }
        public struct Status: Decodable, Sendable, Hashable {
            public var attached: Bool?
            public var attachmentMetadata: [String: String]?
            public var attachError: VolumeError?
            public var detachError: VolumeError?
        }
        public var metadata: Metadata?
        public var spec: Spec?
        public var status: Status?

        public var name: String { metadata?.name ?? "?" }
        public var attached: Bool { status?.attached ?? false }
        /// Being deleted (kubelet/the attacher are detaching it).
        public var detaching: Bool { metadata?.deletionTimestamp != nil }
    }

    /// storage.k8s.io/v1 CSIDriver.
    public struct CSIDriver: Decodable, Sendable, Hashable {
        public struct Spec: Decodable, Sendable, Hashable {
            /// Defaults to true in the API.
            public var attachRequired: Bool?
        }
        public var metadata: Metadata?
        public var spec: Spec?
        public var attachRequired: Bool { spec?.attachRequired ?? true }
    }

    /// v1 PersistentVolume (CSI, in-tree FC and iSCSI sources).
    public struct PersistentVolume: Decodable, Sendable, Hashable {
        public struct CSI: Decodable, Sendable, Hashable {
            public var driver: String?
            public var volumeHandle: String?
            public var volumeAttributes: [String: String]?
        }
        public struct FC: Decodable, Sendable, Hashable {
            public var targetWWNs: [String]?
            public var lun: Int?
            public var wwids: [String]?
        }
        public struct ISCSI: Decodable, Sendable, Hashable {
            public var targetPortal: String?
            public var iqn: String?
            public var lun: Int?
        }
        public struct Spec: Decodable, Sendable, Hashable {
            public var csi: CSI?
            public var fc: FC?
            public var iscsi: ISCSI?
        }
        public var metadata: Metadata?
        public var spec: Spec?
    }

    /// v1 Node.
    public struct Node: Decodable, Sendable, Hashable {
        public struct Address: Decodable, Sendable, Hashable {
            public var type: String?
            public var address: String?
        }
        public struct Status: Decodable, Sendable, Hashable {
            public var addresses: [Address]?
        }
        public var metadata: Metadata?
        public var status: Status?
    }

    /// What one `kubectl get … -o json` returned: a `List` of mixed kinds (or one object).
    public struct Objects: Sendable, Hashable {
        public var volumeAttachments: [VolumeAttachment] = []
        public var csiDrivers: [CSIDriver] = []
        public var persistentVolumes: [PersistentVolume] = []
        public var nodes: [Node] = []
        public init() {}
    }

    public struct DecodeError: Error, CustomStringConvertible, Sendable {
        public var description: String
    }

    private struct Kind: Decodable { var kind: String? }
    private struct AnyList: Decodable { var kind: String?; var items: [Item]? }
    private struct Item: Decodable {
        var kind: String?
        var object: Any?
        init(from d: Decoder) throws {
            kind = try Kind(from: d).kind
            switch kind {
            case "VolumeAttachment": object = try VolumeAttachment(from: d)
            case "CSIDriver": object = try CSIDriver(from: d)
            case "PersistentVolume": object = try PersistentVolume(from: d)
            case "Node": object = try Node(from: d)
            default: object = nil
            }
        }
    }

    /// Decodes `kubectl get volumeattachments,csidrivers,persistentvolumes,nodes -o json`
    /// output (a `List`; typed lists such as `VolumeAttachmentList` carry no per-item kind,
    /// so their kind is taken from the list's). Unknown kinds are skipped.
    public static func decode(_ data: Data) throws(DecodeError) -> Objects {
        let list: AnyList
        do { list = try JSONDecoder().decode(AnyList.self, from: data) } catch {
            throw DecodeError(description: "not Kubernetes JSON: \(error)")
        }
        var out = Objects()
        guard let items = list.items else {
            throw DecodeError(description: "no items: expected a List (kind \(list.kind ?? "none"))")
        }
        let listKind = list.kind.flatMap { $0.hasSuffix("List") && $0 != "List" ? String($0.dropLast(4)) : nil }
        for (i, item) in items.enumerated() {
            var object = item.object
            if item.kind == nil, let k = listKind {
                // Re-decode item i with the list's kind.
                object = try? typedItem(data, index: i, kind: k)
            }
            switch object {
            case let v as VolumeAttachment: out.volumeAttachments.append(v)
            case let v as CSIDriver: out.csiDrivers.append(v)
            case let v as PersistentVolume: out.persistentVolumes.append(v)
            case let v as Node: out.nodes.append(v)
            default: break
            }
        }
        return out
    }

    private static func typedItem(_ data: Data, index: Int, kind: String) throws -> Any? {
        struct Typed<T: Decodable>: Decodable { var items: [T] }
        switch kind {
        case "VolumeAttachment": return try JSONDecoder().decode(Typed<VolumeAttachment>.self, from: data).items[index]
        case "CSIDriver": return try JSONDecoder().decode(Typed<CSIDriver>.self, from: data).items[index]
        case "PersistentVolume": return try JSONDecoder().decode(Typed<PersistentVolume>.self, from: data).items[index]
        case "Node": return try JSONDecoder().decode(Typed<Node>.self, from: data).items[index]
        default: return nil
        }
    }
}

// MARK: - WWID rules

/// How one driver's volumes name their LUN: where to read the value and how to turn it
/// into multipath's WWID. The built-in table (``builtIn``) is documented in
/// docs/kubernetes.md; `--kubernetes-rules FILE` adds rules for other drivers (tried first).
public struct WWIDRule: Sendable, Hashable, Codable {
    public enum Source: String, Sendable, Hashable, Codable {
        /// The VolumeAttachment's `status.attachmentMetadata` (the driver's publish context).
        case attachmentMetadata
        /// The PV's `spec.csi.volumeAttributes`.
        case volumeAttributes
        /// The PV's `spec.csi.volumeHandle` (the whole handle, or the part after the last `separator`).
        case volumeHandle
    }
    public enum Transform: String, Sendable, Hashable, Codable {
        /// An NAA identifier (`600a0980…`, `naa.6…`, `0x6…`, or already `36…`): `3` + hex.
        case naa
        /// NetApp's LUN serial (12 ASCII characters): `3600a0980` + the serial's bytes in hex.
        case netappSerial = "netapp-serial"
        /// Already the WWID as multipath prints it.
        case asIs = "as-is"
        /// This driver's volumes are never dm-multipath maps (NFS, local, …): its
        /// VolumeAttachments and kubelet records say nothing about any map.
        case notMultipath = "not-multipath"
    }
    /// CSI driver name (`csi.hpe.com`), or `*` for any.
    public var driver: String
    public var source: Source
    public var key: String
    public var transform: Transform
    public var separator: String?

    public init(driver: String, source: Source, key: String, transform: Transform, separator: String? = nil) {
        self.driver = driver; self.source = source; self.key = key; self.transform = transform; self.separator = separator
    }

    /// The built-in rules (docs/kubernetes.md lists them with their sources).
    public static let builtIn: [WWIDRule] = [
        WWIDRule(driver: "csi.hpe.com", source: .attachmentMetadata, key: "serialNumber", transform: .naa),
        WWIDRule(driver: "csi-powerstore.dellemc.com", source: .attachmentMetadata, key: "DEVICE_WWN", transform: .naa),
        WWIDRule(driver: "csi-unity.dellemc.com", source: .attachmentMetadata, key: "DEVICE_WWN", transform: .naa),
        WWIDRule(driver: "csi-powermax.dellemc.com", source: .attachmentMetadata, key: "DEVICE_WWN", transform: .naa),
        WWIDRule(driver: "csi.trident.netapp.io", source: .attachmentMetadata, key: "iscsiLunSerial", transform: .netappSerial),
        WWIDRule(driver: "csi.trident.netapp.io", source: .attachmentMetadata, key: "fcpLunSerial", transform: .netappSerial),
        WWIDRule(driver: "csi.huawei.com", source: .volumeAttributes, key: "lunWWN", transform: .naa),
    ]

    /// Decodes a rules file: a JSON array of rules.
    public static func decodeList(_ data: Data) throws -> [WWIDRule] {
        try JSONDecoder().decode([WWIDRule].self, from: data)
    }

    /// Applies the transform; nil when the value is not a usable WWID.
    public static func wwid(from raw: String, _ t: Transform) -> String? {
        // Foundation only when an end may be white space (perf: called for every path disk;
        // an ASCII byte other than space and tab is not in `.whitespaces`).
        let u = raw.utf8
        let plainEnds = u.first.map { $0 < 0x80 && $0 != 0x20 && $0 != 0x09 } == true
            && u.last.map { $0 < 0x80 && $0 != 0x20 && $0 != 0x09 } == true
        let v = plainEnds ? raw : raw.trimmingCharacters(in: .whitespaces)
        switch t {
        case .notMultipath:
            return nil
        case .asIs:
            return WWID(v) == nil ? nil : v
        case .netappSerial:
            guard !v.isEmpty, v.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7f }) else { return nil }
            return "3600a0980" + v.utf8.map { String(format: "%02x", $0) }.joined()
        case .naa:
            var h = v.lowercased()
            for p in ["naa.", "0x"] where h.hasPrefix(p) { h = String(h.dropFirst(p.count)) }
            guard !h.isEmpty, h.allSatisfy(\.isHexDigit) else { return nil }
            if h.count == 33, h.hasPrefix("3") { return h }
            guard h.count == 32 || h.count == 16, let first = h.first, "56".contains(first) else { return nil }
            return "3" + h
        }
    }

    /// multipath's WWID from a disk's `/sys/block/sdX/device/wwid` (kernel: `naa.` + hex for
    /// NAA designators, `eui.` + hex for EUI-64); nil for formats fleet does not compare (t10).
    public static func wwid(fromSysfs raw: String) -> String? {
        let trimmed = TextLines.trimmedWhitespaceAndNewlines(raw)
        if trimmed.utf8.allSatisfy({ $0 < 0x80 }) { return asciiWWID(fromSysfs: trimmed) }
        return generalWWID(fromSysfs: trimmed)
    }

    /// Any trimmed value, as Characters.
    static func generalWWID(fromSysfs trimmed: Substring) -> String? {
        let v = String(trimmed).lowercased()
        if v.hasPrefix("naa.") { return wwid(from: v, .naa) }
        if v.hasPrefix("eui."), v.count > 4, v.dropFirst(4).allSatisfy(\.isHexDigit) { return "2" + v.dropFirst(4) }
        return nil
    }
}

extension WWIDRule {
    /// ``wwid(fromSysfs:)`` of an ASCII, trimmed value, on bytes: the same steps (lower
    /// case, `naa.` then `0x` dropped, hex digits, the length and first digit) without
    /// Characters (perf: every path disk of every map, ~18,000 instructions each). ASCII has
    /// no other hex digits than `0-9a-fA-F`, and lower-casing it is per byte.
    static func asciiWWID(fromSysfs trimmed: Substring) -> String? {
        var h = trimmed.utf8.map { $0 >= UInt8(ascii: "A") && $0 <= UInt8(ascii: "Z") ? $0 + 32 : $0 }
        func isHex(_ c: UInt8) -> Bool {
            (c >= UInt8(ascii: "0") && c <= UInt8(ascii: "9")) || (c >= UInt8(ascii: "a") && c <= UInt8(ascii: "f"))
        }
        func drop(_ p: String) -> Bool {
            guard h.starts(with: p.utf8) else { return false }
            h.removeFirst(p.utf8.count)
            return true
        }
        if drop("naa.") {
            _ = drop("0x")
            guard let first = h.first, h.allSatisfy(isHex) else { return nil }
            if h.count == 33, first == UInt8(ascii: "3") { return String(decoding: h, as: UTF8.self) }
            guard h.count == 32 || h.count == 16, first == UInt8(ascii: "5") || first == UInt8(ascii: "6") else { return nil }
            return "3" + String(decoding: h, as: UTF8.self)
        }
        if drop("eui."), !h.isEmpty, h.allSatisfy(isHex) { return "2" + String(decoding: h, as: UTF8.self) }
        return nil
    }
}

// MARK: - The per-node view

/// One VolumeAttachment as fleet understood it.
public struct KubeAttachment: Sendable, Hashable, Codable {
    public var volumeAttachment: String
    public var driver: String?
    public var persistentVolume: String?
    /// nil: no rule gave a WWID for it.
    public var wwid: String?
    public var attached: Bool
    public var detaching: Bool
}

/// What the Kubernetes API says about one inventory node, ready for ``Witnesses``.
public struct KubeNodeView: Sendable, Hashable {
    /// Where the answer came from (`context cluster server`), for reasons and the history.
    public var source: String
    /// The Kubernetes Node this inventory node is; nil when none matched.
    public var nodeName: String?
    /// How the node was matched (`name`, `label k8s-node`, `address 10.0.0.5`).
    public var matchedBy: String?
    /// VolumeAttachments with `spec.nodeName` = this node.
    public var attachments: [KubeAttachment] = []
    /// PV name → WWID, cluster-wide (kubelet's staging records name PVs).
    public var pvWWIDs: [String: String] = [:]
    /// WWID → driver for PVs of drivers with `attachRequired: false` (no VA proves nothing).
    public var noAttachWWIDs: [String: String] = [:]
    /// Drivers with `attachRequired: false` whose PVs give no WWID.
    public var noAttachDriversWithoutWWID: [String] = []

    public init(source: String, nodeName: String?, matchedBy: String? = nil) {
        self.source = source; self.nodeName = nodeName; self.matchedBy = matchedBy
    }
}

/// The cluster as one `kubectl get` saw it, with the WWID rules applied.
public struct KubeCluster: Sendable, Hashable {
    public var source: String
    public var objects: Kube.Objects
    public var rules: [WWIDRule]

    public init(source: String, objects: Kube.Objects, rules: [WWIDRule] = WWIDRule.builtIn) {
        self.source = source; self.objects = objects; self.rules = rules
    }

    func rules(for driver: String?) -> [WWIDRule] {
        rules.filter { $0.driver == "*" || $0.driver == driver }
    }

    /// A PV's WWID from its attributes or handle (or in-tree `fc.wwids`).
    func wwid(of pv: Kube.PersistentVolume) -> String? {
        if let ws = pv.spec?.fc?.wwids, let w = ws.lazy.compactMap({ WWIDRule.wwid(from: $0, .naa) ?? WWIDRule.wwid(from: $0, .asIs) }).first {
            return w
        }
        guard let csi = pv.spec?.csi else { return nil }
        for r in rules(for: csi.driver) {
            switch r.source {
            case .volumeAttributes:
                if let v = csi.volumeAttributes?[r.key], let w = WWIDRule.wwid(from: v, r.transform) { return w }
            case .volumeHandle:
                guard var h = csi.volumeHandle else { continue }
                if let sep = r.separator, let last = h.components(separatedBy: sep).last { h = last }
                if let w = WWIDRule.wwid(from: h, r.transform) { return w }
            case .attachmentMetadata: continue
            }
        }
        return nil
    }

    /// The Kubernetes Node for an inventory node: the label `nodeLabel` (when the inventory
    /// sets it), else the same name, else a Node whose `status.addresses` holds the host.
    public func view(inventoryName: String, host: String, labels: [String: String], nodeLabel: String) -> KubeNodeView {
        let nodes = objects.nodes
        var match: (String, String)?
        if let wanted = labels[nodeLabel] {
            match = nodes.contains { $0.metadata?.name == wanted } ? (wanted, "label \(nodeLabel)") : nil
        } else if nodes.contains(where: { $0.metadata?.name == inventoryName }) {
            match = (inventoryName, "name")
        } else if let n = nodes.first(where: { ($0.status?.addresses ?? []).contains { $0.address == host } }), let name = n.metadata?.name {
            match = (name, "address \(host)")
        }
        var v = KubeNodeView(source: source, nodeName: match?.0, matchedBy: match?.1)
        var pvByName: [String: Kube.PersistentVolume] = [:]
        for pv in objects.persistentVolumes {
            guard let name = pv.metadata?.name else { continue }
            pvByName[name] = pv
            if let w = wwid(of: pv) { v.pvWWIDs[name] = w }
        }
        let noAttach = Set(objects.csiDrivers.filter { !$0.attachRequired }.compactMap { $0.metadata?.name })
        var noWWID = Set<String>()
        for pv in objects.persistentVolumes {
            guard let d = pv.spec?.csi?.driver, noAttach.contains(d), !WWIDRule.isNotMultipath(d, in: rules) else { continue }
            if let n = pv.metadata?.name, let w = v.pvWWIDs[n] { v.noAttachWWIDs[w] = d } else { noWWID.insert(d) }
        }
        v.noAttachDriversWithoutWWID = noWWID.sorted()
        guard let nodeName = v.nodeName else { return v }
        for va in objects.volumeAttachments where va.spec?.nodeName == nodeName {
            let driver = va.spec?.attacher
            if WWIDRule.isNotMultipath(driver, in: rules) { continue }
            let pvName = va.spec?.source?.persistentVolumeName
            var w: String?
            for r in rules(for: driver) where r.source == .attachmentMetadata {
                if let raw = va.status?.attachmentMetadata?[r.key], let x = WWIDRule.wwid(from: raw, r.transform) { w = x; break }
            }
            if w == nil, let pvName { w = v.pvWWIDs[pvName] }
            if w == nil, let inline = va.spec?.source?.inlineVolumeSpec {
                w = wwid(of: Kube.PersistentVolume(metadata: nil, spec: inline))
            }
            v.attachments.append(KubeAttachment(volumeAttachment: va.name, driver: driver, persistentVolume: pvName,
                                                wwid: w, attached: va.attached, detaching: va.detaching))
        }
        return v
    }
}

/// What Kubernetes said about one map, kept with the finding (history, JSON output).
public struct KubeMapWitness: Sendable, Hashable, Codable {
    public enum State: String, Sendable, Hashable, Codable {
        /// No attachment for this WWID on this node, none in flight, kubelet has nothing staged.
        case clear
        /// Attached to this node per a VolumeAttachment.
        case attached
        /// Kubernetes cannot tell (node not found, attachRequired false, VA in flight, no rule).
        case unknown
    }
    public var state: State
    public var detail: String
    public var source: String
    public var volumeAttachment: String?
    public var persistentVolume: String?

    public init(state: State, detail: String, source: String, volumeAttachment: String? = nil, persistentVolume: String? = nil) {
        self.state = state; self.detail = detail; self.source = source
        self.volumeAttachment = volumeAttachment; self.persistentVolume = persistentVolume
    }
}

// MARK: - Kubelet's staging records

/// One of kubelet's CSI records on the node: `…/csi/pv/<pv>/vol_data.json` (a staged or
/// published filesystem volume) or `…/csi/volumeDevices/<pv>/data/vol_data.json` (block).
public struct KubeletVolume: Sendable, Hashable, Codable {
    public var path: String
    public var specVolID: String?
    public var volumeHandle: String?
    public var driverName: String?

    public init(path: String, specVolID: String?, volumeHandle: String?, driverName: String?) {
        self.path = path; self.specVolID = specVolID; self.volumeHandle = volumeHandle; self.driverName = driverName
    }

    /// Whether this record names `wwid`: its PV maps to it, or its volume handle contains
    /// the WWID's hex (without the NAA type digit, as most drivers print it).
    public func names(_ wwid: String, pvWWIDs: [String: String]) -> Bool {
        if let pv = specVolID, let w = pvWWIDs[pv] { return w == wwid }
        guard let h = volumeHandle?.lowercased(), wwid.count >= 17 else { return false }
        return h.contains(wwid.lowercased().dropFirst())
    }
}

extension WWIDRule {
    /// True when `driver` has a `not-multipath` rule.
    public static func isNotMultipath(_ driver: String?, in rules: [WWIDRule]) -> Bool {
        guard let driver else { return false }
        return rules.contains { $0.driver == driver && $0.transform == .notMultipath }
    }
}
