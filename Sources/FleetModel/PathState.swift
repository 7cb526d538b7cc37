/// A state word as multipath-tools, sysfs or lsblk print it. Known words are cases; any
/// other word is kept as printed (`other`), so nothing the node says is lost and the
/// classifier can still call it unknown. `init(rawValue:)` never fails and maps a known
/// word to its case, so `.other` never holds a known word.
public protocol StateWord: RawRepresentable, Hashable, Sendable, Codable, CustomStringConvertible,
    ExpressibleByStringLiteral where RawValue == String
{
    init(rawValue: String)
}

extension StateWord {
    public init(stringLiteral value: String) { self.init(rawValue: value) }
    public var description: String { rawValue }
}

/// A path's state in the device-mapper table (`multipath -ll`'s first state column).
public enum DMPathState: StateWord {
    case active, failed
    /// Native NVMe multipath: no dm table.
    case notApplicable
    case other(String)

    public init(rawValue: String) {
        switch rawValue {
        case "active": self = .active
        case "failed": self = .failed
        case "n/a": self = .notApplicable
        default: self = .other(rawValue)
        }
    }

    public var rawValue: String {
        switch self {
        case .active: "active"
        case .failed: "failed"
        case .notApplicable: "n/a"
        case .other(let s): s
        }
    }
}

/// multipathd's path checker state (second state column).
public enum CheckerState: StateWord {
    case ready, faulty, ghost, shaky, undef, delayed
    case ioPending
    case other(String)

    public init(rawValue: String) {
        switch rawValue {
        case "ready": self = .ready
        case "faulty": self = .faulty
        case "ghost": self = .ghost
        case "shaky": self = .shaky
        case "undef": self = .undef
        case "delayed": self = .delayed
        case "i/o pending": self = .ioPending
        default: self = .other(rawValue)
        }
    }

    public var rawValue: String {
        switch self {
        case .ready: "ready"
        case .faulty: "faulty"
        case .ghost: "ghost"
        case .shaky: "shaky"
        case .undef: "undef"
        case .delayed: "delayed"
        case .ioPending: "i/o pending"
        case .other(let s): s
        }
    }
}

/// A SCSI disk's state (`/sys/block/sdX/device/state`, lsblk's STATE, multipath's third
/// column; `live` for NVMe).
public enum DeviceState: StateWord {
    case running, offline, blocked, transportOffline, live
    case other(String)

    public init(rawValue: String) {
        switch rawValue {
        case "running": self = .running
        case "offline": self = .offline
        case "blocked": self = .blocked
        case "transport-offline": self = .transportOffline
        case "live": self = .live
        default: self = .other(rawValue)
        }
    }

    public var rawValue: String {
        switch self {
        case .running: "running"
        case .offline: "offline"
        case .blocked: "blocked"
        case .transportOffline: "transport-offline"
        case .live: "live"
        case .other(let s): s
        }
    }

    /// The transport or the node is at fault and the path may come back: path loss, not an unmap.
    public var isPathLoss: Bool { self == .transportOffline || self == .blocked }
}

extension MultipathMap {
    /// Every path failed in the dm table (`failed faulty running`): the vendor procedure's
    /// starting point, the maps that get the readability probe, and the history's
    /// `all_failed` column. A map without paths does not count.
    public var allPathsFailed: Bool {
        let p = paths
        return !p.isEmpty && p.allSatisfy { $0.dmState == .failed }
    }
}
