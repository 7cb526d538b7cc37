import Foundation
import FleetModel

/// What happened to one planned map.
public enum MapCleanOutcome: String, Sendable, Hashable, Codable {
    /// Dry run: nothing was sent.
    case planned
    /// Every step succeeded and the procedure's step 2.3 check found the map, its disks
    /// and their by-id links gone.
    case cleaned
    /// A step failed (or the check after it did): the node needs a look.
    case failed
    /// The re-read right before acting showed a map that no longer matches the plan (paths
    /// back, dm name reused, now mounted, …): nothing was done to it.
    case aborted
}

/// One command as run on the node (or skipped), as the audit holds it.
public struct CleanStep: Sendable, Hashable, Codable {
    /// Display text (`multipath -f mpatha`).
    public var command: String
    /// ok / failed / skipped / aborted.
    public var outcome: ActionOutcome
    public var exitCode: Int32?
    public var stdout: String
    public var stderr: String
    public var durationMS: Int64
    public var note: String?

    public init(command: String, outcome: ActionOutcome, exitCode: Int32? = nil, stdout: String = "", stderr: String = "",
                durationMS: Int64 = 0, note: String? = nil) {
        self.command = command; self.outcome = outcome; self.exitCode = exitCode; self.stdout = stdout
        self.stderr = stderr; self.durationMS = durationMS; self.note = note
    }
}

public struct MapCleanResult: Sendable, Hashable, Codable {
    public var cleanup: MapCleanup
    public var outcome: MapCleanOutcome
    /// Why it failed or was aborted; for a cleaned map, what the check saw.
    public var reason: String?
    public var steps: [CleanStep]

    public init(cleanup: MapCleanup, outcome: MapCleanOutcome, reason: String? = nil, steps: [CleanStep] = []) {
        self.cleanup = cleanup; self.outcome = outcome; self.reason = reason; self.steps = steps
    }
}

/// One node's cleanup: transport status, each planned map's outcome and every map left alone.
public struct NodeCleanResult: Sendable, Hashable, Codable {
    public var node: String
    public var address: String
    /// Transport status of the clean session (`ok` when no session was needed).
    public var status: NodeStatus
    public var error: String?
    public var maps: [MapCleanResult]
    public var left: [LeftMap]
    /// Audit rows of killed earlier runs that this run closed after re-verifying.
    public var closedUnfinished: [Int64]
    /// 1-based batch the node ran in (0: not run).
    public var batch: Int
    public var durationMS: Int64

    public init(node: String, address: String, status: NodeStatus = .ok, error: String? = nil,
                maps: [MapCleanResult] = [], left: [LeftMap] = [], closedUnfinished: [Int64] = [],
                batch: Int = 0, durationMS: Int64 = 0) {
        self.node = node; self.address = address; self.status = status; self.error = error; self.maps = maps
        self.left = left; self.closedUnfinished = closedUnfinished; self.batch = batch; self.durationMS = durationMS
    }

    /// A node failed when its session failed or any planned map failed. An aborted map is
    /// fleet refusing to act on a changed map, not a failure.
    public var failed: Bool { status != .ok || maps.contains { $0.outcome == .failed } }
}
