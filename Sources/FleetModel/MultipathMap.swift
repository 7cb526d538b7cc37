/// One multipath map as `multipath -ll` (or `multipathd show topology`) prints it.
///
/// Every field is optional because some generation or some map lacks it; a missing
/// field is `nil` (and `null` in JSON), never an invented default. Strings are kept as
/// printed (trimmed); the classifier interprets them.
public struct MultipathMap: Hashable, Sendable {
    /// Alias (`mpatha`) or, with user_friendly_names off, the WWID itself.
    public var name: String?
    public var wwid: String?
    /// `dm-N` as printed; `nil` when the map has no dm device (e.g. `multipath -l` on a
    /// map being created).
    public var dm: String?
    public var vendor: String?
    public var product: String?
    public var size: String?
    public var features: String?
    public var hwhandler: String?
    public var wp: String?
    public var pathGroups: [PathGroup]
    /// 1-based line of the map's header in the parsed text.
    public var line: Int

    public init(
        name: String? = nil, wwid: String? = nil, dm: String? = nil, vendor: String? = nil,
        product: String? = nil, size: String? = nil, features: String? = nil,
        hwhandler: String? = nil, wp: String? = nil, pathGroups: [PathGroup] = [], line: Int = 0
    ) {
        self.name = name; self.wwid = wwid; self.dm = dm; self.vendor = vendor
        self.product = product; self.size = size; self.features = features
        self.hwhandler = hwhandler; self.wp = wp; self.pathGroups = pathGroups; self.line = line
    }

    public var paths: [Path] { pathGroups.flatMap(\.paths) }
}

public struct PathGroup: Hashable, Sendable {
    /// `service-time 0`, `round-robin 0`, … (quotes removed).
    public var policy: String?
    public var prio: Int?
    /// `active`, `enabled`, `failed`, …
    public var status: String?
    public var paths: [Path]

    public init(policy: String? = nil, prio: Int? = nil, status: String? = nil, paths: [Path] = []) {
        self.policy = policy; self.prio = prio; self.status = status; self.paths = paths
    }
}

public struct Path: Hashable, Sendable {
    /// `6:0:0:1`, `#:#:#:#` for an orphan placeholder, or an NVMe `nvme0n1`-style id.
    public var hctl: String?
    /// `sdg`, `nvme0n1`, or nil for a placeholder (`-`).
    public var dev: String?
    /// `8:96`, or nil (`#:#`).
    public var majorMinor: String?
    /// dm state: `active` / `failed`.
    public var dmState: DMPathState?
    /// checker state: `ready` / `faulty` / `ghost` / `shaky` / `undef` / `i/o pending` / `delayed` / …
    public var checkerState: CheckerState?
    /// device state as multipath prints it: `running` / `offline` / `blocked` / `transport-offline` / `live` / … .
    /// Not authoritative: read sysfs (see MANIFEST's portal-down captures).
    public var deviceState: DeviceState?

    public init(hctl: String? = nil, dev: String? = nil, majorMinor: String? = nil,
                dmState: DMPathState? = nil, checkerState: CheckerState? = nil, deviceState: DeviceState? = nil) {
        self.hctl = hctl; self.dev = dev; self.majorMinor = majorMinor
        self.dmState = dmState; self.checkerState = checkerState; self.deviceState = deviceState
    }
}
