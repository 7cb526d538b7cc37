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

/// Takes each node of a clean once, as its result is final: in no particular order (nodes
/// without work as they are planned, the others as they finish), one at a time; `index` is
/// the node's position in the selection. What a sink keeps is the only per-node memory of
/// ``CleanRun/run(nodes:run:into:)``: the run itself keeps a ``CleanSummary``.
public protocol CleanSink {
    mutating func add(_ result: NodeCleanResult, at index: Int)
}

/// A sink that keeps every node, in selection order (tests).
public struct KeptCleans: CleanSink {
    var slots: [NodeCleanResult?]
    public init(count: Int) { slots = [NodeCleanResult?](repeating: nil, count: count) }
    public mutating func add(_ result: NodeCleanResult, at index: Int) { slots[index] = result }
    /// Every node, in selection order (call once the run has returned).
    public var nodes: [NodeCleanResult] { slots.map { $0! } }
}

/// A sink that keeps nothing (`sweep`: each node is logged as its event, the counts are in
/// the report's ``CleanSummary``).
public struct DroppedCleans: CleanSink {
    public init() {}
    public mutating func add(_ result: NodeCleanResult, at index: Int) {}
}

/// Counters over a clean's node results: everything the summary line, the exit status and
/// `sweep`'s metrics need. Its size does not depend on the number of nodes.
public struct CleanSummary: Sendable, Hashable {
    public var nodes = 0
    /// Nodes with at least one map planned or acted on.
    public var nodesWithMaps = 0
    /// Nodes whose status is not ok (not scanned, unreachable, session failed).
    public var nodesNotOK = 0
    /// Nodes that failed (``NodeCleanResult/failed``).
    public var nodesFailed = 0
    public var mapsCleaned = 0
    public var mapsFailed = 0
    public var mapsAborted = 0
    public var mapsPlanned = 0
    public var mapsLeft = 0
    public var mapsWaiting = 0

    public init() {}

    public init(_ results: some Sequence<NodeCleanResult>) {
        for r in results { add(r) }
    }

    public mutating func add(_ r: NodeCleanResult) {
        nodes += 1
        if !r.maps.isEmpty { nodesWithMaps += 1 }
        if r.status != .ok { nodesNotOK += 1 }
        if r.failed { nodesFailed += 1 }
        for m in r.maps {
            switch m.outcome {
            case .cleaned: mapsCleaned += 1
            case .failed: mapsFailed += 1
            case .aborted: mapsAborted += 1
            case .planned: mapsPlanned += 1
            }
        }
        mapsLeft += r.left.count
        mapsWaiting += r.left.filter { $0.reasons.contains { $0.key == "waiting-for-confirmation" } }.count
    }
}
