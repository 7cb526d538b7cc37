import Foundation
import FleetTestSupport
import Testing

/// `fleet report` of a history made by scanning and cleaning the farm over real SSH, opened
/// in a real headless Chromium (Debian's `chromium`); the assertions read the DOM the
/// browser built after loading the page, not the HTML fleet wrote. Addresses 127.0.105.x.
@Suite(.serialized) struct ReportBrowserTests {
    /// Arrives in `multipath -ll`'s header as the map's product string (the parser takes
    /// everything between the first and second comma), over SSH, into the history.
    static let hostile = #"<script>document.title='pwned'</script>"><img src=x onerror=alert(1)>"#

    /// node-0001: two residual maps; node-0002: one residual map whose product string is
    /// hostile; node-0003: one residual next to an in-use map; node-0004: nothing residual;
    /// node-0005: down. (YAML single quotes: '' is one quote.)
    static let scenario = """
        seed: 18
        nodes:
          - {name: node-0001, maps: [healthy, residual, residual]}
          - {name: node-0002, maps: [healthy, {kind: residual, product: '\(hostile.replacingOccurrences(of: "'", with: "''"))'}]}
          - {name: node-0003, maps: [in-use, residual]}
          - {name: node-0004, maps: [healthy, degraded]}
          - {name: node-0005, maps: [healthy], faults: [down]}
        """

    @Test func chromiumShowsTheHistoryAndRunsNothingFromANode() async throws {
        let bin = try #require(FleetBinary.path, "\(FleetBinary.missing)")
        let chromium = "/usr/bin/chromium"
        try #require(FileManager.default.isExecutableFile(atPath: chromium), "needs Debian's chromium (make deps installs it)")
        let farm = try await CleanFarmTests.Farm(scenario: Self.scenario, nodes: 5, base: "127.0.105.1")
        defer { farm.down() }
        #expect(try farm.expected("node-0002").values.sorted() == ["healthy", "residual"])

        // Two scans (two all-failed observations), then clean --execute (its own scan, then
        // the cleanups): three runs, each seeing every residual map of the scenario.
        for _ in 0..<2 {
            let s = try CleanFarmTests.run(bin, ["scan", "--inventory", farm.inventory, "--db", farm.db, "--probe-timeout", "5s"])
            #expect(s.status == 2, "scan: residual maps and a node down; got \(s.status): \(s.err)")
        }
        let clean = try CleanFarmTests.run(bin, ["clean", "--no-kubernetes", "--inventory", farm.inventory, "--db", farm.db, "--probe-timeout", "5s",
                                                 "--confirm-after", "0s", "--execute"])
        #expect(clean.status == 3, "clean: node-0005 unreachable; got \(clean.status): \(clean.err)")
        #expect(try farm.wwids("node-0002").count == 1, "the hostile residual map was cleaned, the healthy one left")

        let html = farm.dir + "/report.html"
        let r = try CleanFarmTests.run(bin, ["report", "--db", farm.db, "--out", html])
        #expect(r.status == 0, "report: \(r.err)")

        let dom = try Self.browse(chromium, html, profile: farm.dir + "/chromium")
        // The page's structure as the browser built it.
        #expect(dom.elements.count > 50, "a page: \(dom.elements.count) elements")
        #expect(dom.first("title")?.text.hasPrefix("fleet report") == true, "title: \(dom.first("title")?.text ?? "none")")

        // Nothing from a node ran or became markup: no script element, no img, no event handler.
        #expect(dom.all("script").isEmpty)
        #expect(dom.all("img").isEmpty)
        let handlers = dom.elements.flatMap { e in e.attrs.keys.filter { $0.lowercased().hasPrefix("on") }.map { "\(e.tag) \($0)" } }
        #expect(handlers.isEmpty, "event handlers in the DOM: \(handlers)")
        // …and it shows as text in node-0002's maps table, byte for byte.
        let section2 = try #require(dom.elements.first { $0.tag == "div" && $0.attrs["data-node"] == "node-0002" })
        #expect(section2.text.contains(Self.hostile), "node-0002's section shows the product as text: \(section2.text.prefix(400))")

        // Heatmap: one row per node that had residual maps, worst first (most residual maps summed
        // over the scans: residual maps × 3 scans; on a tie, more maps that are not healthy now:
        // node-0003's in-use map), totals from the scenario.
        let rows = dom.elements.filter { $0.tag == "g" && $0.attrs["class"] == "hm-row" }
        #expect(rows.map { $0.attrs["data-node"] ?? "" } == ["node-0001", "node-0003", "node-0002"])
        #expect(rows.map { $0.attrs["data-total"] ?? "" } == ["6", "3", "3"])
        // Per run: 2 / 1 / 1 residual maps in each of the three runs.
        for (row, expected) in zip(rows, ["2", "1", "1"]) {
            let cells = dom.descendants(of: row).filter { $0.tag == "rect" && !($0.attrs["data-count"] ?? "").isEmpty }
            #expect(cells.map { $0.attrs["data-count"] ?? "" } == [expected, expected, expected], "\(row.attrs["data-node"] ?? "")")
        }

        // Summary of the latest run (the clean's scan and cleanups).
        func count(_ id: String) -> String? {
            dom.elements.first { $0.attrs["id"] == id }.flatMap { t in dom.descendants(of: t).first { $0.attrs["data-count"] != nil } }?
                .attrs["data-count"]
        }
        #expect(count("sum-scanned") == "4")
        #expect(count("sum-unreachable") == "1")
        #expect(dom.elements.contains { $0.attrs["data-reason"] == "refused" })
        #expect(count("sum-maps") == "9")  // 3 + 2 + 2 + 2 maps on the four reachable nodes
        #expect(count("sum-residual") == "4")
        #expect(count("sum-cleaned") == "4")
        #expect(count("sum-failed") == "0")
        var verdicts: [String: String] = [:]
        for e in dom.elements where e.attrs["data-verdict"] != nil { verdicts[e.attrs["data-verdict"]!] = e.attrs["data-count"] }
        #expect(verdicts["residual"] == "4")
        #expect(verdicts["healthy"] == "3")
        #expect(verdicts["degraded"] == "1")
        #expect(verdicts["in-use"] == "1")

        // Per node: node-0001's two cleanups, each with its commands and exit codes.
        let section1 = try #require(dom.elements.first { $0.tag == "div" && $0.attrs["data-node"] == "node-0001" })
        let cleanups = dom.descendants(of: section1).filter { $0.attrs["class"] == "cleanup" }
        #expect(cleanups.map { $0.attrs["data-outcome"] ?? "" } == ["cleaned", "cleaned"])
        // Its maps table is the clean's scan, taken before the cleanups: the residual maps say so.
        #expect(dom.descendants(of: section1).filter { $0.attrs["class"] == "chip s-cleaned" }.count == 2)
        for c in cleanups {
            #expect(c.text.contains("multipath -f "), "\(c.text.prefix(300))")
            #expect(c.text.contains("/device/delete"))
        }
    }

    // MARK: - The browser

    struct Element {
        var index: Int
        var tag: String
        var attrs: [String: String]
        var parent: Int?
        var text: String
    }

    struct DOM {
        var elements: [Element]
        func all(_ tag: String) -> [Element] { elements.filter { $0.tag == tag } }
        func first(_ tag: String) -> Element? { elements.first { $0.tag == tag } }
        func descendants(of e: Element) -> [Element] {
            elements.filter { d in
                var p = d.parent
                while let i = p { if i == e.index { return true }; p = elements[i].parent }
                return false
            }
        }
    }

    /// Loads `file` in headless Chromium and returns the DOM it serialized after load
    /// (`--dump-dom`), parsed by Python's html.parser into elements with their attributes
    /// and text content.
    static func browse(_ chromium: String, _ file: String, profile: String) throws -> DOM {
        let dumped = try CleanFarmTests.run("/usr/bin/timeout", ["300", chromium, "--headless", "--no-sandbox", "--disable-gpu",
                                                                "--user-data-dir=" + profile, "--dump-dom", "file://" + file])
        guard dumped.status == 0, dumped.out.contains("</html>") else {
            throw CleanFarmTests.FarmError("chromium --dump-dom: exit \(dumped.status): \(dumped.err.suffix(2000))")
        }
        let domFile = file + ".dom.html"
        try dumped.out.write(toFile: domFile, atomically: true, encoding: .utf8)
        let parsed = try CleanFarmTests.run("/usr/bin/python3", ["-c", Self.domToJSON, domFile])
        guard parsed.status == 0,
              let rows = try JSONSerialization.jsonObject(with: Data(parsed.out.utf8)) as? [[String: Any]]
        else { throw CleanFarmTests.FarmError("parsing the DOM: \(parsed.err)") }
        return DOM(elements: rows.enumerated().map { i, r in
            Element(index: i, tag: r["tag"] as? String ?? "", attrs: r["attrs"] as? [String: String] ?? [:],
                    parent: r["parent"] as? Int, text: r["text"] as? String ?? "")
        })
    }

    /// Every element in document order: tag, attributes, parent index, text content.
    static let domToJSON = #"""
        import html.parser, json, sys
        VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}
        class P(html.parser.HTMLParser):
            def __init__(self):
                super().__init__(convert_charrefs=True)
                self.out, self.stack = [], []
            def handle_starttag(self, tag, attrs):
                self.out.append({"tag": tag, "attrs": {k: (v or "") for k, v in attrs},
                                 "parent": self.stack[-1] if self.stack else None, "text": ""})
                if tag not in VOID:
                    self.stack.append(len(self.out) - 1)
            def handle_startendtag(self, tag, attrs):
                self.handle_starttag(tag, attrs)
                if tag not in VOID:
                    self.stack.pop()
            def handle_endtag(self, tag):
                for i in range(len(self.stack) - 1, -1, -1):
                    if self.out[self.stack[i]]["tag"] == tag:
                        del self.stack[i:]
                        return
            def handle_data(self, data):
                for i in self.stack:
                    self.out[i]["text"] += data
        p = P()
        p.feed(open(sys.argv[1], encoding="utf-8").read())
        p.close()
        json.dump(p.out, sys.stdout)
        """#
}
