/// The classifier's conclusion about one multipath map.
public enum Verdict: String, Sendable, Codable, CaseIterable, Comparable {
    /// Every path usable.
    case healthy
    /// Some paths failed; the map still reads.
    case degraded
    /// Every path failed and the O_DIRECT probe returned an I/O error: the LUN was unmapped.
    case residual
    /// Every path failed and the probe hung past its limit (a queueing map).
    case residualHung = "residual-hung"
    /// Every path failed but something still uses the map (mount, holder, open count):
    /// never cleaned automatically.
    case inUse = "in-use"
    /// Every path failed, but the SCSI devices are transport-offline/blocked or the map is
    /// still inside its no_path_retry window: the network or node is at fault and the paths
    /// may come back. Never cleaned.
    case pathLoss = "path-loss"
    /// Anything the vendor procedure sends to support (e.g. all paths failed yet readable,
    /// unknown states, missing evidence).
    case needsReview = "needs-review"
    /// Every path failed, yet Kubernetes has a VolumeAttachment for this WWID on this node:
    /// a storage outage under a live volume, not a residual. Never cleaned; alarmed.
    case attachedButDead = "attached-but-dead"
    /// A path disk's own identity (`/sys/block/sdX/device/wwid`) or the dm device's uuid is
    /// not this map's WWID: the array reused a LUN number under an old device. Never
    /// cleaned; alarmed (flushing or deleting could hit another volume).
    case lunReuseHazard = "lun-reuse-hazard"

    /// Only these may ever be planned for cleanup.
    public var isCleanable: Bool { self == .residual || self == .residualHung }

    /// Verdicts that page someone: the witnesses disagree with what the node shows.
    public var isAlarm: Bool { self == .attachedButDead || self == .lunReuseHazard }

    /// Severity order for sorting and summaries.
    var rank: Int {
        switch self {
        case .lunReuseHazard: -2
        case .attachedButDead: -1
        case .residualHung: 0
        case .residual: 1
        case .inUse: 2
        case .needsReview: 3
        case .pathLoss: 4
        case .degraded: 5
        case .healthy: 6
        }
    }
    public static func < (a: Self, b: Self) -> Bool { a.rank < b.rank }
}
