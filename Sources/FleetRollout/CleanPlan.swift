import Foundation
import FleetModel

/// One map fleet intends to remove from one node, with every name already validated and
/// the exact commands a dry run prints.
public struct MapCleanup: Sendable, Hashable, Codable {
    /// The map's identity. dm-N and sdX are kernel names that get reused; the WWID is not.
    public var wwid: WWID
    public var name: MapName
    public var dm: DMDeviceName
    /// Path disks, in `multipath -ll` order.
    public var disks: [BlockDeviceName]
    public var verdict: Verdict
    /// The map queues I/O (queue_if_no_path, or multipathd's queueing not `off`): fail
    /// queued I/O first so a dd stuck in D state exits and `multipath -f` can work.
    public var queueing: Bool
    /// Why the map is eligible, e.g. "residual: all 2 paths failed faulty; probe: Input/output error",
    /// "all paths failed in 3 scans over 12m".
    public var reasons: [String]
    /// Disks left behind by an interrupted run whose `multipath -f` already succeeded:
    /// only their flush + delete remain (the map itself is gone).
    public var resumeOnly: Bool
    /// The openers the scan called stuck readers (pids): the only processes the cleanup may
    /// `kill -9`, and the only openers the re-verify accepts. nil when the scan did not read
    /// /proc (then only fleet's own stuck probes, found by `ps`, are accepted).
    public var stuckReaders: [Int32]?

    public init(wwid: WWID, name: MapName, dm: DMDeviceName, disks: [BlockDeviceName], verdict: Verdict,
                queueing: Bool, reasons: [String] = [], resumeOnly: Bool = false, stuckReaders: [Int32]? = nil) {
        self.wwid = wwid; self.name = name; self.dm = dm; self.disks = disks; self.verdict = verdict
        self.queueing = queueing; self.reasons = reasons; self.resumeOnly = resumeOnly; self.stuckReaders = stuckReaders
    }

    /// The commands in the order they run (procedure steps 1.3, 2.1, 2.2). Stuck probes
    /// (step 1.3) are found on the node right before acting, so a dry run shows them as
    /// "kill -9 <pid of a dd still reading /dev/dm-N, if any>".
    public var commands: [NodeCommand] {
        var out: [NodeCommand] = []
        if !resumeOnly {
            // multipathd's own command first (it also keeps multipathd from turning queueing
            // back on); `dmsetup message NAME 0 fail_if_no_path` is the fallback when it fails.
            if queueing { out.append(.multipathdDisableQueueing(name)) }
            out.append(.flushMap(name))
        }
        out += disks.map { .flushBuffers($0) }
        out += disks.map { .deleteSCSIDevice($0) }
        // Last, once the map is flushed and its disks are gone: drop the WWID from
        // /etc/multipath/wwids, which otherwise grows forever (dell/csm #1447).
        if !resumeOnly { out.append(.removeWWID(wwid)) }
        return out
    }
}

/// Why fleet leaves a map alone. Every map a scan saw and the plan does not clean gets one.
public enum LeaveReason: Sendable, Hashable, Codable, CustomStringConvertible {
    /// Not residual / residual-hung (the classifier's first reason follows).
    case verdict(Verdict, String?)
    /// Seen all-failed too few times or too recently: eligible from `until` if still so.
    case waitingForConfirmation(until: Date, observations: Int)
    case mounted([String])
    case holders([String])
    case openCount(Int?)
    /// A path's SCSI device is `blocked` / `transport-offline` (paths may come back).
    case pathsBlocked([String])
    /// Not every path is `failed` in the map as listed.
    case pathsNotAllFailed([String])
    case noPaths
    case protected(String)
    /// A name from the node that fails validation: reported, never put in a command.
    case invalidName(field: String, value: String?)
    /// The node's own outputs disagree (e.g. slaves in sysfs differ from multipath's paths).
    case inconsistent(String)
    /// The node could not be scanned.
    case nodeNotScanned(String)
    /// Kubernetes does not show this map free: attached, in flight, or it cannot tell.
    case kubernetes(String)
    /// The Kubernetes API could not be asked (unreachable, denied, kubectl failed): fail closed.
    case kubernetesUnavailable(String)

    public var description: String {
        switch self {
        case .verdict(let v, let r): "verdict \(v.rawValue)" + (r.map { ": \($0)" } ?? "")
        case .waitingForConfirmation(let until, let n):
            "waiting for confirmation until \(CleanFormat.iso(until)) (\(n) all-failed observation\(n == 1 ? "" : "s"))"
        case .mounted(let m): "mounted on \(m.joined(separator: ", "))"
        case .holders(let h): "held by \(h.joined(separator: ", "))"
        case .openCount(let n): n.map { "open count \($0)" } ?? "open count unknown"
        case .pathsBlocked(let d): "path device state blocked/offline: \(d.joined(separator: ", "))"
        case .pathsNotAllFailed(let d): "paths not failed: \(d.joined(separator: ", "))"
        case .noPaths: "map has no path disks"
        case .protected(let rule): "protected by inventory rule \(rule)"
        case .invalidName(let field, let value): "invalid \(field) \(value.map { "\"\($0)\"" } ?? "(missing)")"
        case .inconsistent(let what): "inconsistent evidence: \(what)"
        case .nodeNotScanned(let e): "node not scanned: \(e)"
        case .kubernetes(let w): "Kubernetes: \(w)"
        case .kubernetesUnavailable(let e): "\(e); nothing is cleaned without it (--no-kubernetes to go without)"
        }
    }

    /// A short machine-readable key for JSON and the audit (`verdict`, `mounted`, …).
    public var key: String {
        switch self {
        case .verdict: "verdict"
        case .waitingForConfirmation: "waiting-for-confirmation"
        case .mounted: "mounted"
        case .holders: "holders"
        case .openCount: "open-count"
        case .pathsBlocked: "paths-blocked"
        case .pathsNotAllFailed: "paths-not-all-failed"
        case .noPaths: "no-paths"
        case .protected: "protected"
        case .invalidName: "invalid-name"
        case .inconsistent: "inconsistent"
        case .nodeNotScanned: "node-not-scanned"
        case .kubernetes: "kubernetes"
        case .kubernetesUnavailable: "kubernetes-unavailable"
        }
    }
}

/// A map the plan leaves alone, as the node printed it (raw, possibly invalid names).
public struct LeftMap: Sendable, Hashable, Codable {
    public var wwid: String?
    public var name: String?
    public var dm: String?
    public var verdict: Verdict
    /// All reasons, most important first (never empty).
    public var reasons: [LeaveReason]

    public init(wwid: String?, name: String?, dm: String?, verdict: Verdict, reasons: [LeaveReason]) {
        self.wwid = wwid; self.name = name; self.dm = dm; self.verdict = verdict; self.reasons = reasons
    }
}

/// The plan for one node: what to clean, what to leave and why.
public struct NodeCleanPlan: Sendable, Hashable {
    public var node: String
    public var target: NodeTarget
    /// When the scan this plan comes from read the node.
    public var scannedAt: Date
    /// nil when the scan reached the node; otherwise why not (the node gets no cleanup).
    public var scanError: String?
    /// The scan's transport status (`ok`, `refused`, `host-key-changed`, …).
    public var scanStatus: NodeStatus = .ok
    public var cleanups: [MapCleanup]
    public var left: [LeftMap]
    /// The node's protect rules, checked again on the fresh re-read before acting.
    public var protect: [ProtectRule]
    /// Actions a killed earlier run left planned/started on this node (closed by this run).
    public var unfinished: [UnfinishedAction]

    public init(node: String, target: NodeTarget, scannedAt: Date, scanError: String? = nil,
                cleanups: [MapCleanup] = [], left: [LeftMap] = [], protect: [ProtectRule] = [],
                unfinished: [UnfinishedAction] = []) {
        self.node = node; self.target = target; self.scannedAt = scannedAt; self.scanError = scanError
        self.cleanups = cleanups; self.left = left; self.protect = protect; self.unfinished = unfinished
    }

    /// True when the node has something to do on it (cleanups, or an earlier run to close).
    public var hasWork: Bool { !cleanups.isEmpty || !unfinished.isEmpty }

    /// The latest time a map of this node waits for (nil: nothing waits).
    public var waitingUntil: Date? {
        left.compactMap { m in
            m.reasons.lazy.compactMap { r -> Date? in
                if case .waitingForConfirmation(let until, _) = r { return until } else { return nil }
            }.first
        }.max()
    }
}

/// An audit row a killed run left `planned` or `started` (from the history).
public struct UnfinishedAction: Sendable, Hashable, Codable {
    public var id: Int64
    public var runID: Int64
    public var wwid: String
    public var mapName: String?
    public var dm: String?
    /// Display text of the command.
    public var command: String
    /// nil when the stored kind is none fleet writes today.
    public var kind: ActionKind?
    /// true: it was sent to the node (its result is unknown); false: only planned.
    public var started: Bool

    public init(id: Int64, runID: Int64, wwid: String, mapName: String?, dm: String?, command: String,
                kind: ActionKind?, started: Bool) {
        self.id = id; self.runID = runID; self.wwid = wwid; self.mapName = mapName; self.dm = dm
        self.command = command; self.kind = kind; self.started = started
    }

    /// The disk a flush-buffers / delete-device command names, validated.
    public var disk: BlockDeviceName? {
        for prefix in ["/sys/block/", "/dev/"] {
            guard let r = command.range(of: prefix) else { continue }
            let rest = command[r.upperBound...].prefix { $0 != "/" && $0 != " " }
            if let d = BlockDeviceName(String(rest)) { return d }
        }
        return nil
    }
}

enum CleanFormat {
    static func iso(_ d: Date) -> String {
        let f = ISO8601DateFormatter()
        f.formatOptions = [.withInternetDateTime]
        return f.string(from: d)
    }
}
