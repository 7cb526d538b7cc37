/// What the template renders: plain values, every text already formatted. The template
/// (report.mustache) only uses `{{ }}`, which HTML-escapes `< > & " '`, so text that came
/// from a node (a vendor or product string, a command's output, a reason) shows as text.
///
/// Field names are unique across nesting levels on purpose: mustache looks a name that a
/// row does not have (or has as nil) up in the enclosing objects, so a missing `stderr` in
/// one action must never find another object's `stderr`. Optional texts are therefore
/// paired with a `has…` flag or are plain strings.
struct ReportPage {
    var title: String
    var generatedAt: String
    var database: String
    var window: String
    var runsInWindow: Int
    var nodesInHistory: Int
    var hasLatest: Bool
    var latest: LatestRun?
    var hasHeatmap: Bool
    var heatmap: Heatmap?
    var hasTrend: Bool
    var trend: Trend?
    var hasRecurring: Bool
    var recurring: [Recurring]
    var hasNodes: Bool
    var nodes: [NodeSection]
    var nodesNotShown: Int
    var hasNodesNotShown: Bool
    var quietNodes: Int
    var hasQuietNodes: Bool
    var limitText: String
}

/// A label and a count, with a CSS class derived from a typed value (never from node text).
struct Count {
    var label: String
    var count: Int
    var cls: String
}

struct KeyValue {
    var key: String
    var value: String
}

struct LatestRun {
    var runID: Int64
    var kind: String
    var runStarted: String
    var runDuration: String
    var runStatus: String
    var runStatusCls: String
    var exitCode: String
    var inventory: String
    var hasInventory: Bool
    var nodesTotal: Int
    var nodesOK: Int
    var nodesFailed: Int
    var hasNodesFailed: Bool
    var failedByReason: [Count]
    var failedNodes: [FailedNode]
    var hasFailedNodes: Bool
    var verdicts: [Count]
    var mapsTotal: Int
    var residualNow: Int
    var hasResidualNow: Bool
    var cleaned: Int
    var cleanFailed: Int
    var hasCleanFailed: Bool
    var cleanOther: Int
    var hasCleanOther: Bool
    var cleanupsAttempted: Bool
    var options: [KeyValue]
    var hasOptions: Bool
}

struct FailedNode {
    var failedNode: String
    var failedAnchor: String
    var failedStatus: String
    var failedError: String
}

struct Heatmap {
    var width: Int
    var height: Int
    var labelWidth: Int
    var gridLeft: Int
    var gridTop: Int
    var gridWidth: Int
    var cellWidth: Int
    var cellHeight: Int
    var totalX: Int
    var byDay: Bool
    var columnTicks: [Tick]
    var rows: [HeatRow]
}

struct Tick {
    var tickX: Int
    var tickY: Int
    var tickText: String
}

struct HeatRow {
    var rowNode: String
    var rowAnchor: String
    var rowY: Int
    var textY: Int
    var rowTotal: Int
    var rowPeak: Int
    var cells: [HeatCell]
}

struct HeatCell {
    var cellX: Int
    var cellCls: String
    var cellCount: String
    var cellTitle: String
}

struct Trend {
    var trendByDay: Bool
    var width: Int
    var height: Int
    var plotLeft: Int
    var plotRight: Int
    var plotTop: Int
    var plotBottom: Int
    var residualPoints: String
    var residualDots: [Dot]
    var bars: [Bar]
    var yTicks: [Tick]
    var xTicks: [Tick]
    var residualLatest: Int
    var residualPeak: Int
    var cleanedTotal: Int
    var failedTotal: Int
}

struct Dot {
    var dotX: String
    var dotY: String
    var dotTitle: String
}

struct Bar {
    var barX: String
    var barY: String
    var barWidth: String
    var barHeight: String
    var barCls: String
    var barTitle: String
}

struct Recurring {
    var recNode: String
    var recAnchor: String
    var episodes: Int
    var distinctWWIDs: Int
    var recCleaned: Int
    var recFirst: String
    var recLast: String
    var recNow: Int
}

struct NodeSection {
    var node: String
    var anchor: String
    var nodeStatus: String
    var nodeStatusCls: String
    var hasNodeError: Bool
    var nodeError: String
    var lastScan: String
    var residualObservations: Int
    var maps: [MapRow]
    var hasMaps: Bool
    var residualHistory: [ResidualRow]
    var hasResidualHistory: Bool
    var cleanups: [CleanupGroup]
    var hasCleanups: Bool
}

struct MapRow {
    var mapName: String
    var mapWWID: String
    var mapDM: String
    var vendorProduct: String
    var mapSize: String
    var verdict: String
    var verdictCls: String
    /// Cleaned (by a cleanup planned after this scan): the table is the latest scan, which a
    /// clean takes before it acts.
    var cleanedSince: Bool
    var reasons: [String]
}

struct ResidualRow {
    var resName: String
    var resWWID: String
    var resFirst: String
    var resLast: String
    var resScans: Int
    var resNow: String
    var resNowCls: String
}

struct CleanupGroup {
    var cleanupRun: Int64
    var cleanupTime: String
    var cleanupMap: String
    var cleanupWWID: String
    var cleanupOutcome: String
    var cleanupCls: String
    var actions: [ActionRow]
}

struct ActionRow {
    var command: String
    var actionOutcome: String
    var actionCls: String
    var exitCode: String
    var duration: String
    var hasOutput: Bool
    var stdout: String
    var hasStdout: Bool
    var stderr: String
    var hasStderr: Bool
    var actionReason: String
    var hasActionReason: Bool
}
