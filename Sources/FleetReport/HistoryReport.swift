import Foundation
import FleetModel
import FleetStore
import Mustache

/// `fleet report` and `fleet sweep --report`: the history as one self-contained HTML page
/// (inline CSS and SVG, no script, nothing loaded from elsewhere: admin hosts are often
/// air-gapped, and the page must read without JavaScript).
///
/// Everything is read through FleetDatabase's read API; this type only arranges it. The
/// HTML comes from report.mustache, whose `{{ }}` escapes every value.
public enum HistoryReport {
    public struct Options: Sendable {
        /// Start of the window the heatmap, trend and node sections cover; nil: all history.
        public var since: Date?
        /// How the window was asked for (`30d`), for the page.
        public var sinceText: String
        /// At most this many nodes in the heatmap and the node sections, worst first; 0: all.
        public var limit: Int
        public var now: Date

        public init(since: Date?, sinceText: String, limit: Int, now: Date = Date()) {
            self.since = since; self.sinceText = sinceText; self.limit = limit; self.now = now
        }
    }

    /// Above this many runs in the window, the heatmap and trend get one column per UTC day.
    static let maxRunColumns = 120

    /// The page as HTML text.
    public static func render(_ db: FleetDatabase, _ options: Options) throws -> String {
        let page = try build(db, options)
        return template.render(page)
    }

    /// Renders and writes `path` atomically (temporary file in the same folder, then rename):
    /// a browser or a web server never sees half a page.
    public static func write(_ db: FleetDatabase, _ options: Options, to path: String) throws {
        try AtomicFile.write(Array(try render(db, options).utf8), to: path)
    }

    // The template is compiled once per process; a broken template is a build defect, which
    // FleetReportTests catches.
    static let template: MustacheTemplate = {
        do {
            return try MustacheTemplate(string: String(decoding: PackageResources.report_mustache, as: UTF8.self))
        } catch {
            fatalError("report.mustache does not parse: \(error)")
        }
    }()

    // MARK: - Building the page

    static func build(_ db: FleetDatabase, _ options: Options) throws -> ReportPage {
        let runs = try db.runs(limit: 0, since: options.since).reversed() as [RunRecord]  // oldest first
        let newest = try db.runs(limit: 1).first
        let detail = try newest.flatMap { try db.runDetail(id: $0.id) }
        let residues = try db.nodeRunResidues(since: options.since)
        let cleanups = try db.mapCleanups(since: options.since)
        let current = try db.currentMaps()
        let actions = try db.actions(since: options.since, limit: 0)
        let residuals = try db.residuals(since: options.since)

        let columns = Columns(runs: runs)
        let nodes = NodeHistory.fold(residues, columns: columns)
        let currentByNode = Dictionary(grouping: current, by: \.node)
        let actionsByNode = Dictionary(grouping: actions, by: \.node)
        let cleanupsByNode = Dictionary(grouping: cleanups, by: \.node)
        let residualsByNode = Dictionary(grouping: residuals, by: \.node)

        // Worst first: most residual observations, then most problem maps now, then name.
        func problemMaps(_ node: String) -> Int {
            currentByNode[node]?.filter { $0.verdict != .healthy }.count ?? 0
        }
        let everyNode = Set(nodes.keys).union(currentByNode.keys).union(actionsByNode.keys)
        let ranked = everyNode.sorted { a, b in
            let ta = nodes[a]?.total ?? 0, tb = nodes[b]?.total ?? 0
            if ta != tb { return ta > tb }
            let pa = problemMaps(a), pb = problemMaps(b)
            if pa != pb { return pa > pb }
            return a < b
        }
        var anchors: [String: String] = [:]
        for (i, n) in ranked.enumerated() { anchors[n] = "node-\(i + 1)" }
        let limit = options.limit > 0 ? options.limit : Int.max

        let residualNodes = ranked.filter { (nodes[$0]?.total ?? 0) > 0 }
        let shownResidual = Array(residualNodes.prefix(limit))
        let interesting = ranked.filter { n in
            (nodes[n]?.total ?? 0) > 0 || problemMaps(n) > 0 || actionsByNode[n] != nil
                || (nodes[n]?.lastStatus).map { $0 != .ok } == true
        }
        let shownSections = Array(interesting.prefix(limit))

        let heatmap = shownResidual.isEmpty ? nil
            : Charts.heatmap(rows: shownResidual.map { ($0, anchors[$0] ?? "", nodes[$0]!) }, columns: columns)
        let trend = columns.count == 0 ? nil : Charts.trend(nodes: nodes, cleanups: cleanups, columns: columns)

        // A node keeps coming back when residual maps appeared on it at two or more different
        // scans: new WWIDs after the first ones (cleaned or not), or the same ones again after
        // a scan that found none.
        let recurring = residualNodes.compactMap { n -> Recurring? in
            guard let h = nodes[n] else { return nil }
            let rs = residualsByNode[n] ?? []
            let appearances = max(h.episodes, Set(rs.map(\.firstSeen)).count)
            guard appearances >= 2 else { return nil }
            return Recurring(recNode: n, recAnchor: anchors[n] ?? "", episodes: appearances,
                             distinctWWIDs: Set(rs.map(\.wwid)).count,
                             recCleaned: cleanupsByNode[n]?.filter { $0.outcome == .cleaned }.count ?? 0,
                             recFirst: rs.map(\.firstSeen).min().map(Format.time) ?? "",
                             recLast: rs.map(\.lastSeen).max().map(Format.time) ?? "",
                             recNow: h.lastResidual)
        }.sorted { $0.episodes != $1.episodes ? $0.episodes > $1.episodes : $0.recNode < $1.recNode }

        let sections = shownSections.map { n in
            nodeSection(n, anchor: anchors[n] ?? "", history: nodes[n], maps: currentByNode[n] ?? [],
                        residuals: residualsByNode[n] ?? [], actions: actionsByNode[n] ?? [],
                        cleanups: cleanupsByNode[n] ?? [])
        }

        let latest = detail.map { d in latestRun(detail: d, cleanups: cleanups.filter { $0.runID == d.run.id }, anchors: anchors) }
        let window = options.since.map { "last \(options.sinceText) (since \(Format.time($0)))" } ?? "whole history"
        return ReportPage(
            title: "fleet report", generatedAt: Format.time(options.now), database: db.path, window: window,
            runsInWindow: runs.count, nodesInHistory: everyNode.count,
            hasLatest: latest != nil, latest: latest,
            hasHeatmap: heatmap != nil, heatmap: heatmap, hasTrend: trend != nil, trend: trend,
            hasRecurring: !recurring.isEmpty, recurring: recurring,
            hasNodes: !sections.isEmpty, nodes: sections,
            nodesNotShown: max(0, interesting.count - sections.count),
            hasNodesNotShown: interesting.count > sections.count,
            quietNodes: everyNode.count - interesting.count, hasQuietNodes: everyNode.count > interesting.count,
            limitText: options.limit > 0 ? "--limit \(options.limit)" : "--limit 0")
    }

    static func latestRun(detail: RunDetail, cleanups: [MapCleanupRecord], anchors: [String: String]) -> LatestRun {
        let run = detail.run
        let failed = detail.nodes.filter { $0.status != .ok }
        let byReason = Dictionary(grouping: failed, by: \.status)
            .map { Count(label: $0.key.rawValue, count: $0.value.count, cls: "s-bad") }
            .sorted { $0.count != $1.count ? $0.count > $1.count : $0.label < $1.label }
        let verdicts = Verdict.allCases.sorted().compactMap { v -> Count? in
            let n = detail.verdicts[v] ?? 0
            return n > 0 || v.isCleanable ? Count(label: v.rawValue, count: n, cls: Format.verdictClass(v)) : nil
        }
        let outcomes = Dictionary(grouping: cleanups, by: \.outcome).mapValues(\.count)
        let residualNow = detail.verdicts.filter { $0.key.isCleanable }.values.reduce(0, +)
        let other = (outcomes[.aborted] ?? 0) + (outcomes[.unfinished] ?? 0)
        let duration = run.endedAt.map { Format.duration($0.timeIntervalSince(run.startedAt)) } ?? "still running"
        return LatestRun(
            runID: run.id, kind: run.kind.rawValue, runStarted: Format.time(run.startedAt), runDuration: duration,
            runStatus: run.status.rawValue, runStatusCls: run.status == .ok ? "s-ok" : "s-bad",
            exitCode: run.exitCode.map(String.init) ?? "none", inventory: run.inventory ?? "",
            hasInventory: !(run.inventory ?? "").isEmpty,
            nodesTotal: detail.nodes.count, nodesOK: detail.nodes.count - failed.count, nodesFailed: failed.count,
            hasNodesFailed: !failed.isEmpty,
            failedByReason: byReason,
            failedNodes: failed.prefix(50).map { FailedNode(failedNode: $0.node, failedAnchor: anchors[$0.node] ?? "",
                                                             failedStatus: $0.status.rawValue, failedError: $0.error ?? "") },
            hasFailedNodes: !failed.isEmpty,
            verdicts: verdicts, mapsTotal: detail.verdicts.values.reduce(0, +),
            residualNow: residualNow, hasResidualNow: residualNow > 0,
            cleaned: outcomes[.cleaned] ?? 0, cleanFailed: outcomes[.failed] ?? 0, hasCleanFailed: (outcomes[.failed] ?? 0) > 0,
            cleanOther: other, hasCleanOther: other > 0,
            cleanupsAttempted: !cleanups.isEmpty,
            options: Format.options(run.options), hasOptions: run.options != "{}")
    }

    static func nodeSection(_ node: String, anchor: String, history: NodeHistory?, maps: [CurrentMapRecord],
                            residuals: [ResidualRecord], actions: [ActionRecord], cleanups: [MapCleanupRecord]) -> NodeSection {
        let status = history?.lastStatus
        let cleanedAt = Dictionary(cleanups.filter { $0.outcome == .cleaned }.map { ($0.wwid, $0.plannedAt) },
                                   uniquingKeysWith: max)
        let mapRows = maps.map { m in
            MapRow(mapName: m.map.name ?? "", mapWWID: m.map.wwid ?? "", mapDM: m.map.dm ?? "",
                   vendorProduct: [m.map.vendor, m.map.product].compactMap { $0 }.joined(separator: ", "),
                   mapSize: m.map.size ?? "", verdict: m.verdict.rawValue, verdictCls: Format.verdictClass(m.verdict),
                   cleanedSince: m.map.wwid.flatMap { cleanedAt[$0] }.map { $0 >= m.seenAt } ?? false,
                   reasons: m.reasons)
        }
        let residualRows = residuals.sorted { $0.lastSeen > $1.lastSeen }.map { r in
            ResidualRow(resName: r.name ?? "", resWWID: r.wwid, resFirst: Format.time(r.firstSeen), resLast: Format.time(r.lastSeen),
                        resScans: r.runs, resNow: r.residualNow ? "still residual" : "gone",
                        resNowCls: r.residualNow ? "v-residual" : "v-healthy")
        }
        // Actions come newest first; a cleanup group is one map in one run, its steps in order.
        let outcomeOf = Dictionary(cleanups.map { ("\($0.runID) \($0.wwid)", $0.outcome) }, uniquingKeysWith: { a, _ in a })
        var groups: [CleanupGroup] = []
        var index: [String: Int] = [:]
        for a in actions.reversed() {
            let key = "\(a.runID) \(a.wwid)"
            if index[key] == nil {
                index[key] = groups.count
                let outcome = outcomeOf[key]
                groups.append(CleanupGroup(cleanupRun: a.runID, cleanupTime: Format.time(a.plannedAt), cleanupMap: a.mapName ?? "",
                                           cleanupWWID: a.wwid, cleanupOutcome: outcome?.rawValue ?? "",
                                           cleanupCls: outcome.map(Format.cleanupClass) ?? "", actions: []))
            }
            groups[index[key]!].actions.append(actionRow(a))
        }
        groups.reverse()  // newest cleanup first
        return NodeSection(
            node: node, anchor: anchor, nodeStatus: status?.rawValue ?? "no scan in window",
            nodeStatusCls: status == .ok ? "s-ok" : "s-bad",
            hasNodeError: history?.lastError != nil, nodeError: history?.lastError ?? "",
            lastScan: (maps.first?.seenAt ?? history?.lastOK).map { "latest successful scan " + Format.time($0) }
                ?? "no successful scan",
            residualObservations: history?.total ?? 0,
            maps: mapRows, hasMaps: !mapRows.isEmpty,
            residualHistory: residualRows, hasResidualHistory: !residualRows.isEmpty,
            cleanups: groups, hasCleanups: !groups.isEmpty)
    }

    static func actionRow(_ a: ActionRecord) -> ActionRow {
        let out = Format.output(a.stdout ?? ""), err = Format.output(a.stderr ?? "")
        return ActionRow(command: a.command, actionOutcome: a.outcome.rawValue,
                         actionCls: a.outcome == .ok ? "s-ok" : a.outcome == .failed ? "s-bad" : "s-other",
                         exitCode: a.exitCode.map(String.init) ?? "–",
                         duration: a.durationMS.map { Format.duration(Double($0) / 1000) } ?? "–",
                         hasOutput: !out.isEmpty || !err.isEmpty, stdout: out, hasStdout: !out.isEmpty,
                         stderr: err, hasStderr: !err.isEmpty,
                         actionReason: a.reason ?? "", hasActionReason: !(a.reason ?? "").isEmpty)
    }
}
