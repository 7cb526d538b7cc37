/// The witnesses besides the node's multipath state, applied to the classifier's findings:
/// the disks' own identity (done by the ``Classifier``), kubelet's staging records on the
/// node, and the Kubernetes API's VolumeAttachments. Pure.
///
/// What each changes:
/// - a map with every path failed whose WWID Kubernetes has attached to this node becomes
///   `attached-but-dead` (a storage outage under a live volume, never residual);
/// - a map kubelet still has staged (its PV maps to the WWID, or the record's volume handle
///   contains it) is `in-use`;
/// - a cleanable map on a node where kubelet has a record fleet cannot tie to any WWID is
///   `needs-review` (it may be this map);
/// - every map gets a ``KubeMapWitness`` when the API was asked: `clear` is the only state
///   `fleet clean` accepts.
public enum Witnesses {
    public static func apply(_ findings: inout [MapFinding], snapshot s: NodeSnapshot, kubernetes view: KubeNodeView?,
                             rules: [WWIDRule]) {
        let pvWWIDs = view?.pvWWIDs ?? [:]
        let kubelet = (s.kubeletVolumes ?? []).filter { !WWIDRule.isNotMultipath($0.driverName, in: rules) }
        let mapWWIDs = findings.compactMap(\.map.wwid)
        // Records fleet can tie to no WWID: by PV (API), or a handle naming one of the node's maps.
        let unresolved = kubelet.filter { r in
            if let pv = r.specVolID, pvWWIDs[pv] != nil { return false }
            return !mapWWIDs.contains { r.names($0, pvWWIDs: [:]) }
        }
        for i in findings.indices {
            guard let w = findings[i].map.wwid, WWID(w) != nil else { continue }
            let allFailed = findings[i].map.allPathsFailed
            if let view { findings[i].evidence.kubernetes = witness(w, view) }
            if findings[i].verdict == .lunReuseHazard { continue }
            if case .attached? = findings[i].evidence.kubernetes?.state {
                let k = findings[i].evidence.kubernetes!
                if allFailed {
                    findings[i].verdict = .attachedButDead
                    findings[i].reasons.insert("Kubernetes: \(k.detail): a storage outage under a live volume, not a residual", at: 0)
                    continue
                }
                findings[i].reasons.append("Kubernetes: \(k.detail)")
            }
            let staged = kubelet.filter { $0.names(w, pvWWIDs: pvWWIDs) }
            if !staged.isEmpty {
                let what = "kubelet has it staged: " + staged.map { "\($0.specVolID ?? $0.volumeHandle ?? "?") (\($0.path))" }.joined(separator: ", ")
                if findings[i].verdict.isCleanable || (allFailed && findings[i].verdict == .needsReview) {
                    findings[i].verdict = .inUse
                    findings[i].reasons.insert(what, at: 0)
                } else {
                    findings[i].reasons.append(what)
                }
                if findings[i].evidence.kubernetes?.state == .clear {
                    findings[i].evidence.kubernetes?.state = .unknown
                    findings[i].evidence.kubernetes?.detail = what
                }
                continue
            }
            if findings[i].verdict.isCleanable, !unresolved.isEmpty {
                findings[i].verdict = .needsReview
                findings[i].reasons.insert("kubelet has staged volume(s) fleet cannot tie to a WWID (it may be this map): "
                    + unresolved.map { "\($0.specVolID ?? "?") driver \($0.driverName ?? "?") (\($0.path))" }.joined(separator: ", "), at: 0)
            }
        }
    }

    /// What the API says about `wwid` on this node.
    public static func witness(_ wwid: String, _ v: KubeNodeView) -> KubeMapWitness {
        guard let node = v.nodeName else {
            return KubeMapWitness(state: .unknown, detail: "no Kubernetes Node matches this inventory node", source: v.source)
        }
        if let a = v.attachments.first(where: { $0.wwid == wwid }) {
            let state = a.attached ? "attached" : a.detaching ? "detaching" : "attaching"
            return KubeMapWitness(state: .attached, detail: "VolumeAttachment \(a.volumeAttachment) (\(a.driver ?? "?"), PV \(a.persistentVolume ?? "-")) \(state) on node \(node)",
                                  source: v.source, volumeAttachment: a.volumeAttachment, persistentVolume: a.persistentVolume)
        }
        if let d = v.noAttachWWIDs[wwid] {
            return KubeMapWitness(state: .unknown, detail: "driver \(d) has attachRequired: false: no VolumeAttachment proves nothing",
                                  source: v.source, persistentVolume: v.pvWWIDs.first { $0.value == wwid }?.key)
        }
        let inFlight = v.attachments.filter { !$0.attached || $0.detaching }
        if !inFlight.isEmpty {
            return KubeMapWitness(state: .unknown, detail: "VolumeAttachment(s) attaching/detaching on node \(node): "
                                  + inFlight.map(\.volumeAttachment).joined(separator: ", "), source: v.source)
        }
        let noRule = v.attachments.filter { $0.wwid == nil }
        if !noRule.isEmpty {
            return KubeMapWitness(state: .unknown, detail: "attachment(s) on node \(node) whose WWID no rule gives: "
                                  + noRule.map { "\($0.volumeAttachment) (\($0.driver ?? "?"))" }.joined(separator: ", "), source: v.source)
        }
        if !v.noAttachDriversWithoutWWID.isEmpty {
            return KubeMapWitness(state: .unknown, detail: "driver(s) with attachRequired: false and no WWID rule: "
                                  + v.noAttachDriversWithoutWWID.joined(separator: ", "), source: v.source)
        }
        return KubeMapWitness(state: .clear, detail: "no VolumeAttachment for this WWID on node \(node) (matched by \(v.matchedBy ?? "?"))",
                              source: v.source)
    }
}
