import Foundation
import FleetModel
import FleetStore
import Mustache
import Testing
@testable import FleetReport

/// The template and the page built from a real SQLite history (no browser: ReportBrowserTests
/// in FleetCLITests opens a farm's report in Chromium).
@Suite struct ReportRenderTests {
    static var template: String { String(decoding: PackageResources.report_mustache, as: UTF8.self) }

    @Test func templateOnlyUsesEscapingTagsAndLoadsNothing() {
        let t = Self.template
        // {{{x}}} and {{& x}} are mustache's unescaped forms.
        #expect(!t.contains("{{{"))
        #expect(!t.contains("{{&"))
        #expect(!t.lowercased().contains("<script"))
        for external in ["http://", "https://", "url(", "@import", "<link", "<img", "src="] {
            #expect(!t.contains(external), "template refers to something outside the file: \(external)")
        }
    }

    /// One map of every verdict on one node: each verdict is counted under its own name, so a
    /// verdict added to `Verdict` later shows up without a change here or in the template.
    @Test func everyVerdictIsCountedByName() throws {
        let dir = NSTemporaryDirectory() + "fleet-report-" + UUID().uuidString
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let db = try FleetDatabase(path: dir + "/history.sqlite")
        let run = try db.beginRun(kind: .scan, inventory: "inv.yaml", options: ["forks": "64"], version: "test")
        var scan = NodeScan(node: "node-a", address: "127.0.0.1", status: .ok, startedAt: Date(), duration: .milliseconds(5))
        for (i, v) in Verdict.allCases.enumerated() {
            let map = MultipathMap(name: "mpath\(i)", wwid: "3600140500000000000000000000000\(i)", dm: "dm-\(i)",
                                   vendor: "LIO-ORG", product: "p'\"<\(i)>", line: i * 5 + 1)
            scan.findings.append(MapFinding(map: map, verdict: v, reasons: ["reason <\(i)>"]))
        }
        _ = try db.recordNode(run: run, scan)
        try db.finishRun(run, status: .ok, exitCode: 1)

        let html = try HistoryReport.render(db, .init(since: nil, sinceText: "all", limit: 0))
        for v in Verdict.allCases {
            #expect(html.contains(#"data-verdict="\#(v.rawValue)" data-count="1""#), "\(v.rawValue) counted")
            #expect(html.contains(#"class="chip v-\#(v.rawValue)"#), "\(v.rawValue) in the maps table")
        }
        // Node text is escaped in text and attributes alike; the option shows as key: value.
        #expect(html.contains("p&#39;&quot;&lt;0&gt;"))
        #expect(html.contains("reason &lt;0&gt;"))
        #expect(!html.contains("p'\"<0>"))
        #expect(html.contains("<th style=\"width:220px\">forks</th><td class=\"mono\">64</td>"))
    }
}

extension ReportRenderTests {
    /// The hand-written lookups (ReportPage+Mustache.swift) find every stored property under
    /// its own name, with the same value: a field added without its case would render empty.
    @Test func rowLookupsFindEveryField() {
        let rows: [any MustacheParent] = [
            Heatmap(width: 1, height: 2, labelWidth: 3, gridLeft: 4, gridTop: 5, gridWidth: 6, cellWidth: 7, cellHeight: 8,
                    totalX: 9, byDay: true, columnTicks: [], rows: []),
            HeatRow(rowNode: "n", rowAnchor: "a", rowY: 1, textY: 2, rowTotal: 3, rowPeak: 4, cells: []),
            HeatCell(cellX: 1, cellCls: "c", cellCount: "2", cellTitle: "t"),
            NodeSection(node: "n", anchor: "a", nodeStatus: "ok", nodeStatusCls: "s", hasNodeError: false, nodeError: "e",
                        lastScan: "l", residualObservations: 1, maps: [], hasMaps: false, residualHistory: [],
                        hasResidualHistory: false, cleanups: [], hasCleanups: false),
            MapRow(mapName: "m", mapWWID: "w", mapDM: "d", vendorProduct: "v", mapSize: "s", verdict: "x", verdictCls: "c",
                   cleanedSince: true, reasons: ["r"]),
            ResidualRow(resName: "n", resWWID: "w", resFirst: "f", resLast: "l", resScans: 1, resNow: "x", resNowCls: "c"),
            CleanupGroup(cleanupRun: 1, cleanupTime: "t", cleanupMap: "m", cleanupWWID: "w", cleanupOutcome: "o",
                         cleanupCls: "c", actions: []),
            ActionRow(command: "c", actionOutcome: "o", actionCls: "c", exitCode: "0", duration: "1", hasOutput: true,
                      stdout: "o", hasStdout: true, stderr: "e", hasStderr: true, actionReason: "r", hasActionReason: true),
            Recurring(recNode: "n", recAnchor: "a", episodes: 2, distinctWWIDs: 2, recCleaned: 1, recFirst: "f", recLast: "l",
                      recNow: 0),
        ]
        for row in rows {
            for field in Mirror(reflecting: row).children {
                let label = field.label ?? ""
                let found = row.child(named: label)
                #expect(found.map { "\($0)" } == "\(field.value)", "\(type(of: row)).\(label)")
            }
            #expect(row.child(named: "noSuchField") == nil)
        }
    }
}

extension ReportRenderTests {
    /// More runs in the window than run columns fit (121 > 120): one column per UTC day, each
    /// cell the day's worst scan; the row's total still sums every scan.
    @Test func manyRunsGoIntoDayColumns() throws {
        let dir = NSTemporaryDirectory() + "fleet-report-" + UUID().uuidString
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let db = try FleetDatabase(path: dir + "/history.sqlite")
        let day0 = try #require(ISOTime.parse("2026-11-01T00:00:00.000Z"))
        // 121 runs, 41 a day over three days (the last day 39); node-a has one residual map in
        // the first 2 runs of day 1 (the second day) and none otherwise.
        for i in 0..<121 {
            let at = day0.addingTimeInterval(Double(i / 41) * 86400 + Double(i % 41) * 600)
            let run = try db.beginRun(kind: .sweep, inventory: nil, options: [String: String](), version: "test", startedAt: at)
            var scan = NodeScan(node: "node-a", address: "127.0.0.1", status: .ok, startedAt: at, duration: .milliseconds(5))
            let residual = i == 41 || i == 42
            scan.findings = [MapFinding(map: MultipathMap(name: "mpatha", wwid: "36001405aaaaaaaaaaaaaaaaaaaaaaaaa", dm: "dm-0"),
                                        verdict: residual ? .residual : .healthy, reasons: [])]
            _ = try db.recordNode(run: run, scan)
            try db.finishRun(run, status: .ok, exitCode: residual ? 1 : 0, endedAt: at.addingTimeInterval(5))
        }
        let html = try HistoryReport.render(db, .init(since: nil, sinceText: "all", limit: 0,
                                                      now: day0.addingTimeInterval(3 * 86400)))
        #expect(html.contains("one column per UTC day"))
        #expect(html.contains(#"<g class="hm-row" data-node="node-a" data-total="2" data-peak="1">"#))
        // Three day columns: 11-01, 11-02, 11-03 as ticks; the one residual cell is 11-02.
        for label in ["11-01", "11-02", "11-03"] { #expect(html.contains(">\(label)</text>"), "\(label)") }
        #expect(html.contains(#"data-count="1"><title>node-a · 2026-11-02: 1 residual map</title>"#))
        #expect(!html.contains(">#121</text>"), "no run columns")
    }
}
