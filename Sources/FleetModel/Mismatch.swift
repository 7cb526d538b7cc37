/// Why a map on the node no longer matches what a cleanup plan saw (the re-verify right
/// before acting). Each case holds what was found; ``description`` renders the reason a
/// user reads and the audit stores, so tests assert on the value, not on its text.
public enum Mismatch: Hashable, Sendable, CustomStringConvertible {
    // A resumed cleanup (its map already flushed): only its disks remain.
    case mapBack(wwid: WWID, name: String?, dm: String?)
    case diskInMap(BlockDeviceName, mapName: String?, wwid: String?)
    case diskIsSlave(BlockDeviceName, of: DMDeviceName)
    case diskMounted(BlockDeviceName, on: String)
    case diskWWNUnknown(BlockDeviceName, wwid: WWID)
    case diskIsOtherLUN(BlockDeviceName, wwn: String, wwid: WWID)
    case sysBlockMissing
    // A planned map.
    case mapGone(WWID)
    case renamed(WWID, now: String?, planned: MapName)
    case dmChanged(WWID, now: String?, planned: DMDeviceName)
    case nameTaken(MapName, byWWID: String?)
    case dmTaken(DMDeviceName, byWWID: String?, name: String?)
    case sysfsIdentity(DMDeviceName, name: String?, uuid: String?, plannedName: MapName, wwid: WWID)
    case pathDisksChanged(now: [String], planned: [BlockDeviceName])
    case slavesChanged(DMDeviceName, now: [String], planned: [BlockDeviceName])
    /// Paths no longer `failed` in the dm table: they may be coming back.
    case pathsRecovering([Path])
    case deviceState(BlockDeviceName, DeviceState?)
    case mountsUnknown
    case mounted([String])
    case holdersUnknown(DMDeviceName)
    case held(by: [String])
    case openCountUnknown(MapName)
    /// Opened more often than the stuck `dd` processes account for.
    case open(count: Int, stuckDD: Int)
    case protected(ProtectRule)
    /// Someone opened the map (or a path disk) since the plan: a user, or a reader the
    /// scan did not see. Named by the opener's label.
    case newOpener(String)
    /// /proc could not tell who holds it (a fact missing, the list incomplete).
    case openersUnknown(String)
    /// A path disk's or the dm device's identity names another LUN (issue #15).
    case lunIdentity([String])
    /// kubelet now has the volume staged (issue #15).
    case kubeletStaged(path: String)

    public var description: String {
        func list(_ d: [BlockDeviceName]) -> String { d.map(\.rawValue).joined(separator: ",") }
        switch self {
        case .mapBack(let wwid, let name, let dm): return "map \(wwid) is back in multipath -ll as \(name ?? "?") \(dm ?? "?")"
        case .diskInMap(let d, let name, let wwid): return "\(d) now belongs to map \(name ?? "?") (\(wwid ?? "?"))"
        case .diskIsSlave(let d, let dm): return "\(d) is a slave of \(dm)"
        case .diskMounted(let d, let mnt): return "\(d) is mounted on \(mnt)"
        case .diskWWNUnknown(let d, let wwid): return "cannot confirm \(d) is still WWID \(wwid): no WWN in lsblk"
        case .diskIsOtherLUN(let d, let wwn, let wwid): return "\(d) is now WWN \(wwn), not WWID \(wwid)"
        case .sysBlockMissing: return "/sys/block listing missing"
        case .mapGone(let wwid): return "map \(wwid) is no longer in multipath -ll"
        case .renamed(let wwid, let now, let planned): return "map \(wwid) is now named \(now ?? "(none)"), planned \(planned)"
        case .dmChanged(let wwid, let now, let planned): return "map \(wwid) is now \(now ?? "(no dm)"), planned \(planned)"
        case .nameTaken(let name, let other): return "name \(name) now also used by WWID \(other ?? "?")"
        case .dmTaken(let dm, let other, let name): return "\(dm) now belongs to WWID \(other ?? "?") (\(name ?? "?"))"
        case .sysfsIdentity(let dm, let name, let uuid, let planned, let wwid):
            return "sysfs says \(dm) is \(name ?? "?") \(uuid ?? "?"), planned \(planned) mpath-\(wwid)"
        case .pathDisksChanged(let now, let planned):
            return "path disks are now \(now.joined(separator: ",")), planned \(list(planned))"
        case .slavesChanged(let dm, let now, let planned):
            return "sysfs slaves of \(dm) are now \(now.joined(separator: ",")), planned \(list(planned))"
        case .pathsRecovering(let paths):
            return "paths recovering: " + paths.map {
                "\($0.dev ?? "?") \($0.dmState?.rawValue ?? "?") \($0.checkerState?.rawValue ?? "?")"
            }.joined(separator: ", ")
        case .deviceState(let d, let state): return "\(d) device state is \(state?.rawValue ?? "unknown")"
        case .mountsUnknown: return "mounts unknown (/proc/mounts not read)"
        case .mounted(let mnts): return "now mounted on \(mnts.joined(separator: ", "))"
        case .holdersUnknown(let dm): return "holders of \(dm) unknown"
        case .held(let holders): return "now held by \(holders.joined(separator: ", "))"
        case .openCountUnknown(let name): return "open count of \(name) unknown"
        case .lunIdentity(let what): return "LUN identity changed: " + what.joined(separator: "; ")
        case .kubeletStaged(let path): return "kubelet now has it staged (\(path))"
        case .open(let count, let stuck): return "open count is \(count)" + (stuck > 0 ? " (\(stuck) stuck dd)" : "")
        case .protected(let rule): return "protected by inventory rule \(rule)"
        case .newOpener(let who): return "a new opener since the plan: \(who)"
        case .openersUnknown(let why): return "openers unknown: \(why)"
        }
    }
}
