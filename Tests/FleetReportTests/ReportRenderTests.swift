import Foundation
import FleetModel
import FleetStore
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
