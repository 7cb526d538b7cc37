import ArgumentParser
import Foundation
import Testing
import FleetModel
import FleetRollout
import FleetTestSupport
@testable import FleetCLI

/// The scan report is built node by node as nodes finish (any order) and printed at the end
/// in inventory order, from a spool file; only offsets stay in memory.
@Suite struct ScanReportTests {
    static func finding(_ name: String, _ wwid: String, _ dm: String, _ verdict: Verdict, _ reasons: [String]) -> MapFinding {
        MapFinding(map: MultipathMap(name: name, wwid: wwid, dm: dm, vendor: "LIO-ORG", product: "disk0", size: "1.0G",
                                     pathGroups: [PathGroup(policy: "service-time 0", prio: 0, status: "enabled",
                                                            paths: [Path(hctl: "2:0:0:0", dev: "sdb", majorMinor: "8:16",
                                                                         dmState: "failed", checkerState: "faulty",
                                                                         deviceState: "running")])]),
                   verdict: verdict, reasons: reasons)
    }

    /// Four nodes in inventory order a, b, c, d.
    static let nodes: [NodeScan] = {
        let t = Date(timeIntervalSince1970: 1_800_000_000)
        return [
            NodeScan(node: "node-a", address: "10.0.0.1", status: .ok, startedAt: t, duration: .milliseconds(812),
                     findings: [finding("mpatha", "36001405aaa", "dm-0", .residual, ["all 2 paths failed", "probe: Input/output error"]),
                                finding("mpathb", "36001405bbb", "dm-1", .healthy, []),
                                finding("mpathc", "36001405ccc", "dm-2", .inUse, ["mounted on /var/lib/kubelet/x"])]),
            NodeScan(node: "node-b", address: "10.0.0.2", status: .refused, error: "node-b: 10.0.0.2:22: connection refused",
                     startedAt: t, duration: .milliseconds(3)),
            NodeScan(node: "node-c", address: "10.0.0.3:2222", status: .ok,
                     error: "node-c: multipath-tools not installed (sh: multipath: not found)", startedAt: t,
                     duration: .milliseconds(40), warnings: [ParseWarning(line: 3, text: "stray \"line\"")]),
            NodeScan(node: "node-d", address: "10.0.0.4", status: .ok, startedAt: t, duration: .milliseconds(1500),
                     findings: [finding("mpathd", "3600d", "dm-5", .residualHung, ["probe hung"])]),
        ]
    }()

    /// Feeds `nodes` in `order` (indexes), as ScanRun would, and returns the printed text.
    static func render(_ format: OutputFormat, _ nodes: [NodeScan], order: [Int], spool: ReportSpool = ReportSpool(),
                       exitCode: Int32 = 2) -> (text: String, report: ScanReport, writes: Int) {
        let report = ScanReport(format: format, nodes: nodes.count, spool: spool)
        var summary = ScanSummary()
        for i in order {
            report.add(nodes[i], at: i)
            summary.add(nodes[i])
        }
        summary.elapsed = .milliseconds(1234)
        let text = Collected()
        report.write(run: 7, inventory: "nodes.yaml", database: "/tmp/h.sqlite", summary: summary, exitCode: exitCode,
                     to: { text.add($0) })
        return (text.value, report, text.count)
    }

    final class Collected: @unchecked Sendable {
        let lock = NSLock()
        var s = "", count = 0
        func add(_ x: String) { lock.withLock { s += x; count += 1 } }
        var value: String { lock.withLock { s } }
    }

    @Test func tableIsInInventoryOrderWhateverTheFinishingOrder() {
        // Written from the four nodes above: per node its listed maps worst first (healthy
        // is counted, not listed), columns two spaces apart, then failed nodes, then notes.
        let expected = """
            scanned 4 nodes in 1.2s: 3 ok, 1 not scanned; 4 maps, 2 nodes with residual maps (run 7, /tmp/h.sqlite)

            NODE    MAP     WWID         DM    VERDICT        WHY
            node-a  mpatha  36001405aaa  dm-0  residual       all 2 paths failed; probe: Input/output error
            node-a  mpathc  36001405ccc  dm-2  in-use         mounted on /var/lib/kubelet/x
            node-d  mpathd  3600d        dm-5  residual-hung  probe hung

            not scanned:
            NODE    ADDRESS   STATUS   ERROR
            node-b  10.0.0.2  refused  node-b: 10.0.0.2:22: connection refused

            notes:
              node-c: multipath-tools not installed (sh: multipath: not found)

            maps by verdict: residual-hung 1, residual 1, in-use 1, healthy 1
            nodes by status: ok 3, refused 1

            """
        #expect(Self.render(.table, Self.nodes, order: [3, 1, 2, 0]).text == expected)
        #expect(Self.render(.table, Self.nodes, order: [0, 1, 2, 3]).text == expected)
    }

    @Test func tableOfOnlyHealthyNodesHasNoSections() {
        let t = Date(timeIntervalSince1970: 0)
        let nodes = [NodeScan(node: "n1", address: "h1", status: .ok, startedAt: t, duration: .zero,
                              findings: [Self.finding("m", "w", "dm-0", .healthy, [])]),
                     NodeScan(node: "n2", address: "h2", status: .ok, startedAt: t, duration: .zero)]
        #expect(Self.render(.table, nodes, order: [1, 0], exitCode: 0).text == """
            scanned 2 nodes in 1.2s: 2 ok, 0 not scanned; 1 maps, 0 nodes with residual maps (run 7, /tmp/h.sqlite)

            maps by verdict: healthy 1
            nodes by status: ok 2

            """)
    }

    @Test func jsonIsOneDocumentWithSortedKeysAndNodesInInventoryOrder() throws {
        let text = Self.render(.json, Self.nodes, order: [2, 3, 0, 1]).text
        #expect(text.hasPrefix(#"{"database":"/tmp/h.sqlite","elapsedMs":1234,"exitCode":2,"inventory":"nodes.yaml","mapsByVerdict":{"#))
        #expect(text.hasSuffix(#","nodesWithResidualMaps":2,"run":7}"# + "\n"))
        #expect(text.contains(#"],"nodesByStatus":{"#))
        let doc = try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
        #expect(Set(doc.keys) == ["run", "inventory", "database", "exitCode", "elapsedMs", "nodesByStatus", "mapsByVerdict",
                                  "nodesWithResidualMaps", "nodes"])
        #expect(doc["nodesByStatus"] as? [String: Int] == ["ok": 3, "refused": 1])
        #expect(doc["mapsByVerdict"] as? [String: Int] == ["residual": 1, "healthy": 1, "in-use": 1, "residual-hung": 1])
        let nodes = try #require(doc["nodes"] as? [[String: Any]])
        #expect(nodes.map { $0["node"] as? String } == ["node-a", "node-b", "node-c", "node-d"])
        #expect(nodes.map { $0["durationMs"] as? Int } == [812, 3, 40, 1500])
        #expect(nodes[1]["status"] as? String == "refused")
        #expect(nodes[1]["error"] as? String == "node-b: 10.0.0.2:22: connection refused")
        #expect(nodes[0]["error"] is NSNull)
        #expect(nodes[2]["address"] as? String == "10.0.0.3:2222")
        #expect((nodes[2]["warnings"] as? [[String: Any]])?.first?["text"] as? String == "stray \"line\"")
        // Maps in the node's own (multipath -ll) order, the explain map shape.
        let maps = try #require(nodes[0]["maps"] as? [[String: Any]])
        #expect(maps.map { $0["name"] as? String } == ["mpatha", "mpathb", "mpathc"])
        #expect(maps.map { $0["verdict"] as? String } == ["residual", "healthy", "in-use"])
        #expect(maps[0]["reasons"] as? [String] == ["all 2 paths failed", "probe: Input/output error"])
        #expect(Set(maps[0].keys) == ["name", "wwid", "dm", "vendor", "product", "size", "features", "hwhandler", "wp",
                                      "pathGroups", "verdict", "reasons"])
        #expect((nodes[1]["maps"] as? [Any])?.isEmpty == true)
    }

    /// Thousands of nodes: the parts go to the spool file (memory holds less than one flush
    /// threshold of them), the text comes out in pieces, and it is the same text as with the
    /// spool kept in memory.
    @Test func thousandsOfNodesAreSpooledNotKept() throws {
        let n = 3000
        let base = Self.nodes
        let nodes = (0..<n).map { i -> NodeScan in
            var s = base[i % base.count]
            s.node = String(format: "node-%04d", i)
            return s
        }
        // Every index once, far from inventory order (7 and 3000 are coprime).
        let order = (0..<n).map { ($0 * 7) % n }
        #expect(Set(order).count == n)

        let json = Self.render(.json, nodes, order: order)
        #expect(json.report.spooledBytes > Int64(ReportSpool.flushAt) * 10)
        #expect(json.report.bufferedBytes < ReportSpool.flushAt)
        #expect(json.writes > 10)   // printed in pieces, not one string
        let doc = try #require(try JSONSerialization.jsonObject(with: Data(json.text.utf8)) as? [String: Any])
        let names = (try #require(doc["nodes"] as? [[String: Any]])).map { $0["node"] as? String }
        #expect(names == nodes.map(\.node))
        #expect(doc["nodesWithResidualMaps"] as? Int == n / 2)   // node-a and node-d of every four
        #expect(Self.render(.json, nodes, order: order, spool: ReportSpool(directory: nil)).text == json.text)

        let table = Self.render(.table, nodes, order: order)
        #expect(table.report.bufferedBytes < ReportSpool.flushAt)
        let lines = table.text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        #expect(lines[0] == "scanned 3000 nodes in 1.2s: 2250 ok, 750 not scanned; 3000 maps, 1500 nodes with residual maps (run 7, /tmp/h.sqlite)")
        let mapRows = lines.filter { $0.hasPrefix("node-") && ($0.contains("  mpath")) }
        #expect(mapRows.count == 750 * 3)  // per four nodes: a's residual and in-use, d's residual-hung
        #expect(mapRows.map { String($0.prefix(9)) } == mapRows.map { String($0.prefix(9)) }.sorted())
        let failedRows = lines.filter { $0.hasPrefix("node-") && $0.contains("  refused  ") }
        #expect(failedRows.count == 750)
        #expect(failedRows.map { String($0.prefix(9)) } == (0..<n).filter { $0 % 4 == 1 }.map { String(format: "node-%04d", $0) })
        #expect(lines.filter { $0.hasPrefix("  node-c: multipath-tools") }.count == 750)
        #expect(Self.render(.table, nodes, order: order, spool: ReportSpool(directory: nil)).text == table.text)
    }

    @Test func cellCodingKeepsAnyText() {
        let rows = [["a", "", "tab\there", "new\nline", "é👍🏽", String(repeating: "x", count: 70_000)], ["\u{0}"]]
        #expect(CellCoding.decode(CellCoding.encode(rows)) == rows)
    }

    @Test func spoolReadsBackAcrossTheFileAndMemory() {
        let spool = ReportSpool()
        var offsets: [(Int64, [UInt8])] = []
        for i in 0..<200 {
            let bytes = [UInt8](repeating: UInt8(i % 251), count: 1000 + i)
            offsets.append((spool.size, bytes))
            spool.append(bytes)
        }
        #expect(spool.bufferedBytes < ReportSpool.flushAt)
        for (o, b) in offsets { #expect(spool.read(offset: o, length: b.count) == b) }
    }

    /// The spool file is unlinked as soon as it is made: nothing is left in the folder, even
    /// while the spool is in use; a folder it cannot write to leaves the parts in memory.
    @Test func spoolLeavesNoFileAndFallsBackToMemory() throws {
        let d = try ScanCommandTests.Dir()
        let spool = ReportSpool(directory: d.url.path)
        let bytes = [UInt8](repeating: 7, count: 3 * ReportSpool.flushAt)
        spool.append(bytes)
        #expect(spool.bufferedBytes < ReportSpool.flushAt)   // went to the file
        #expect(try FileManager.default.contentsOfDirectory(atPath: d.url.path).isEmpty)
        #expect(spool.read(offset: 0, length: bytes.count) == bytes)

        let nowhere = ReportSpool(directory: d.url.appendingPathComponent("missing/folder").path)
        nowhere.append(bytes)
        #expect(nowhere.bufferedBytes == bytes.count)
        #expect(nowhere.read(offset: 5, length: 10) == [UInt8](repeating: 7, count: 10))
    }

    /// `fleet scan` end to end over 1,500 scripted nodes (real fixtures, real SQLite): exit
    /// status, counts and rows in inventory order.
    @Test func scanCommandOverManyNodesPrintsEveryNodeInInventoryOrder() async throws {
        let d = try ScanCommandTests.Dir()
        let n = 1500
        func name(_ i: Int) -> String { String(format: "node-%04d", i) }
        var yaml = "nodes:\n"
        var script: [String: ScriptedExecutor.Node] = [:]
        let healthy = try ScanCommandTests.healthyNode(), residual = try ScanCommandTests.residualNode()
        for i in 0..<n {
            yaml += "  - {name: \(name(i)), address: 127.0.4.\(i % 250 + 1)}\n"
            script[name(i)] = i % 20 == 3 ? .fails(NodeFailure(.refused, "127.0.4.\(i % 250 + 1):22: TCP connect failed: Connection refused"))
                : i % 10 == 0 ? residual : healthy
        }
        let inv = try d.write("nodes.yaml", yaml)
        let ex = ScriptedExecutor(script)
        let r = try await ScanCommandTests().run(["--inventory", inv, "--db", d.db, "--forks", "64"], ex)
        let refused = (0..<n).filter { $0 % 20 == 3 }
        let residualNodes = (0..<n).filter { $0 % 10 == 0 }
        #expect(r.code == 2)
        #expect(ex.unconsumed.isEmpty)
        let lines = r.out.split(separator: "\n").map(String.init)
        #expect(lines[0].hasPrefix("scanned 1500 nodes in "))
        #expect(lines[0].contains(": \(n - refused.count) ok, \(refused.count) not scanned; "))
        #expect(lines[0].contains(", \(residualNodes.count) nodes with residual maps (run "))
        // _lab-luns.txt (residual): mpatha = dm-0 is the residual map.
        let residualRows = lines.filter { $0.hasPrefix("node-") && $0.contains(" mpatha ") && $0.contains(" residual ") }
        #expect(residualRows.map { String($0.prefix(9)) } == residualNodes.map(name))
        let refusedRows = lines.filter { $0.hasPrefix("node-") && $0.contains(" refused ") }
        #expect(refusedRows.map { String($0.prefix(9)) } == refused.map(name))
        #expect(r.out.contains("nodes by status: ok \(n - refused.count), refused \(refused.count)\n"))
    }

    /// The hand-written node object is the encoder's text byte for byte: on every real
    /// capture's findings and warnings, on the golden nodes, and on awkward text (quotes,
    /// slashes, control characters, non-ASCII), which goes through the encoder.
    @Test func nodeObjectIsJSONEncodersOnEveryRealCapture() throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        func node(_ n: NodeScan) -> ScanReport.JSONNode {
            ScanReport.JSONNode(node: n.node, address: n.address, status: n.status, error: n.error,
                                durationMs: n.duration.milliseconds, maps: n.findings.map(ExplainMap.init(finding:)),
                                warnings: n.warnings)
        }
        var scans = Self.nodes
        for state in try Fixtures.realStates() {
            let snap = NodeSnapshot(outputs: try Fixtures.realOutputs(state))
            scans.append(NodeScan(node: state, address: "192.0.2.1:22", status: .ok, startedAt: Date(), duration: .milliseconds(75),
                                  findings: Classifier.classify(snap), warnings: snap.warnings))
        }
        var byHand = 0, maps = 0
        for n in scans {
            let hand = node(n).encoderJSON()
            if let hand {
                byHand += 1
                maps += n.findings.count
                #expect(String(decoding: hand, as: UTF8.self) == String(decoding: try encoder.encode(node(n)), as: UTF8.self), "\(n.node)")
            }
        }
        #expect(byHand == scans.count)  // every real capture is plain ASCII
        #expect(maps > 30)
        // Text the hand path leaves to the encoder, and text it writes (slashes, quotes, backslashes).
        for odd in ["tab\there", "line\nbreak", "é", "\u{7F}", "\u{1}"] {
            var n = Self.nodes[0]
            n.findings[0].reasons.append(odd)
            #expect(node(n).encoderJSON() == nil)
            n.findings[0].reasons.removeLast()
            n.warnings = [ParseWarning(line: 1, text: odd)]
            #expect(node(n).encoderJSON() == nil)
        }
        var n = Self.nodes[2]
        n.findings = Self.nodes[0].findings
        n.findings[1].reasons = [#"a "quoted" \ back/slash"#]
        n.findings[1].map.pathGroups[0].prio = nil
        n.findings[2].map.pathGroups[0].paths[0].dmState = "n/a"
        #expect(String(decoding: try #require(node(n).encoderJSON()), as: UTF8.self)
                == String(decoding: try encoder.encode(node(n)), as: UTF8.self))
    }
}
