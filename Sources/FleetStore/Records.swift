import struct Foundation.Date
import FleetModel

/// `runs.kind`.
public enum RunKind: String, Sendable, Codable, CaseIterable {
    case scan, clean, sweep
}

/// `runs.status`. `running` until ``FleetDatabase/finishRun(_:status:exitCode:endedAt:)``;
/// `interrupted` when the process that wrote it died first.
public enum RunStatus: String, Sendable, Codable, CaseIterable {
    case running, ok, partial, failed, interrupted
}


/// One row of `runs`, with counts over its nodes.
public struct RunRecord: Sendable, Hashable, Codable {
    public var id: Int64
    public var kind: RunKind
    public var startedAt: Date
    public var endedAt: Date?
    public var inventory: String?
    /// JSON text as given to ``FleetDatabase/beginRun(kind:inventory:options:version:startedAt:)``.
    public var options: String
    public var status: RunStatus
    public var fleetVersion: String
    public var exitCode: Int32?
    public var nodes: Int
    public var nodesOK: Int
    /// Maps with a cleanable verdict (residual, residual-hung) in this run.
    public var residualMaps: Int
    public var actions: Int
}

/// One row of `node_runs`, with counts over its maps.
public struct NodeRunRecord: Sendable, Hashable, Codable {
    public var id: Int64
    public var runID: Int64
    public var node: String
    public var address: String
    public var status: NodeStatus
    public var startedAt: Date
    public var durationMS: Int64
    public var error: String?
    public var maps: Int
    public var residualMaps: Int
}

/// `fleet history run ID`.
public struct RunDetail: Sendable, Hashable {
    public var run: RunRecord
    public var nodes: [NodeRunRecord]
    /// Maps per verdict over the whole run.
    public var verdicts: [Verdict: Int]
    public var actionOutcomes: [ActionOutcome: Int]
}

/// One map in a node's timeline.
public struct TimelineMap: Sendable, Hashable, Codable {
    public var wwid: String?
    public var name: String?
    public var dm: String?
    public var verdict: Verdict
    public var allFailed: Bool
    public var reasons: [String]
}

/// One node_run of one node: `fleet history node NAME`.
public struct TimelineEntry: Sendable, Hashable, Codable {
    public var runID: Int64
    public var runKind: RunKind
    public var startedAt: Date
    public var status: NodeStatus
    public var error: String?
    public var maps: [TimelineMap]
}

/// One (node, WWID) that was residual: `fleet history residuals`.
public struct ResidualRecord: Sendable, Hashable, Codable {
    public var node: String
    public var wwid: String
    /// Name, dm and verdict at the last residual observation.
    public var name: String?
    public var dm: String?
    public var verdict: Verdict
    public var firstSeen: Date
    public var lastSeen: Date
    /// Scans (node_runs) that saw it residual.
    public var runs: Int
    /// Residual in the node's latest successful scan.
    public var residualNow: Bool
}

/// One row of `actions`.
public struct ActionRecord: Sendable, Hashable, Codable {
    public var id: Int64
    public var runID: Int64
    public var node: String
    public var wwid: String
    public var mapName: String?
    public var dm: String?
    public var command: String
    public var kind: String
    public var plannedAt: Date
    public var startedAt: Date?
    public var endedAt: Date?
    public var durationMS: Int64?
    public var exitCode: Int32?
    public var stdout: String?
    public var stderr: String?
    public var outcome: ActionOutcome
    public var reason: String?
}

/// What `prune` removed.
public struct PruneReport: Sendable, Hashable, Codable {
    public var cutoff: Date
    public var runs: Int
    public var nodeRuns: Int
    public var maps: Int
    public var paths: Int
    public var rawOutputs: Int
    public var actions: Int
    /// Stored node states (maps with their paths) no run points at any more, deleted.
    public var states: Int
    /// Stored texts (command stdout/stderr) no run points at any more, deleted.
    public var contents: Int
}

/// Errors of the store that a user sees. The message names the database and the cause.
public struct StoreError: Error, Sendable, CustomStringConvertible {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// One node_run in a time window with how many of its maps had a cleanable verdict:
/// one observation of `fleet report`'s heatmap and trend.
public struct NodeRunResidue: Sendable, Hashable {
    public var node: String
    public var runID: Int64
    public var startedAt: Date
    public var status: NodeStatus
    public var error: String?
    public var residualMaps: Int
}

/// What became of one map's cleanup in one run, read from its `actions` rows.
public enum MapCleanupOutcome: String, Sendable, Codable, CaseIterable {
    /// Every step ran and the last one succeeded (a failed stuck-probe kill or a failed
    /// `multipath -f` attempt followed by a successful retry does not count against it).
    /// The cleaner's final re-read (procedure step 2.3) is not stored in the history.
    case cleaned
    /// A step failed, so the steps after it were skipped or never planned.
    case failed
    /// Aborted before the first command: the map changed since the plan.
    case aborted
    /// A step still `planned` or `started`: the run was killed or is still going.
    case unfinished
}

/// One map's cleanup in one run: its actions folded (`fleet report`).
public struct MapCleanupRecord: Sendable, Hashable {
    public var runID: Int64
    public var node: String
    public var wwid: String
    public var mapName: String?
    public var dm: String?
    public var plannedAt: Date
    public var actions: Int
    public var outcome: MapCleanupOutcome
}

/// A map as its node's latest successful scan saw it (the map without its paths).
public struct CurrentMapRecord: Sendable, Hashable {
    public var node: String
    public var seenAt: Date
    public var map: MultipathMap
    public var verdict: Verdict
    public var reasons: [String]
}
