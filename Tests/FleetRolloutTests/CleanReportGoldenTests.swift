import Foundation
import FleetModel
import FleetTestSupport
import Testing
@testable import FleetRollout

/// What `fleet clean` prints (table and JSON), against golden files in Snapshots/
/// (RECORD_SNAPSHOTS=1 re-records; a recording fails the test): the dry-run plan and the
/// executed cleanup of the `residual` captures (mpatha on sdg/sdh), as CleanNodeTests runs
/// them. Durations are zeroed (they are measured, not inputs).
@Suite struct CleanReportGoldenTests {
    /// The report as `fleet clean` prints it: each node through the streaming ``CleanReport``.
    struct Printed {
        var nodes: [NodeCleanResult]
        var execute: Bool
        func text(json: Bool) -> String {
            let printed = CleanReport(json: json, execute: execute, nodes: nodes.count)
            for (i, n) in nodes.enumerated() { printed.add(n, at: i) }
            let summary = CleanSummary(nodes)
            var text = ""
            printed.write(CleanRunReport(run: 3, execute: execute, fromRun: 2, confirmAfterSeconds: 300, summary: summary,
                                         end: .completed, notStarted: [],
                                         exitCode: CleanRunReport.exitCode(end: .completed, summary: summary)),
                          to: { text += $0 })
            return text
        }
        func table() -> String { text(json: false) }
        func json() -> String { text(json: true) }
    }

    static func report(_ nodes: [NodeCleanResult], execute: Bool) -> Printed {
        var nodes = nodes
        for i in nodes.indices {
            nodes[i].durationMS = 0
            for m in nodes[i].maps.indices { for s in nodes[i].maps[m].steps.indices { nodes[i].maps[m].steps[s].durationMS = 0 } }
        }
        return Printed(nodes: nodes, execute: execute)
    }

    static func dryRun() throws -> Printed {
        let plan = try CleanNodeTests.residualPlan()
        let node = NodeCleanResult(node: plan.node, address: "127.0.4.1", maps: plan.cleanups.map { MapCleanResult(cleanup: $0, outcome: .planned) },
                                   left: plan.left, batch: 0)
        return report([node], execute: false)
    }

    static func executed() async throws -> Printed {
        let h = try CleanNodeTests.Harness(try CleanNodeTests.residualCleanupReplies())
        defer { h.history.cleanup() }
        var r = await h.cleaner.clean(try CleanNodeTests.residualPlan())
        #expect(h.executor.unconsumed.isEmpty)
        r.batch = 1
        return report([r], execute: true)
    }

    @Test func dryRunPlanTable() throws {
        #expect(Snapshots.check(try Self.dryRun().table(), name: "dryRunPlanTable", ext: "txt") == nil)
    }

    @Test func executedCleanupTable() async throws {
        #expect(Snapshots.check(try await Self.executed().table(), name: "executedCleanupTable", ext: "txt") == nil)
    }

    @Test func executedCleanupJSON() async throws {
        #expect(Snapshots.check(try await Self.executed().json(), name: "executedCleanupJSON", ext: "json") == nil)
    }

    /// The whole document as `fleet clean` encoded it before it was streamed: the expectation
    /// comes from Foundation's encoder, not from the streaming code.
    struct Whole: Encodable {
        var run: Int64, execute: Bool, fromRun: Int64?, confirmAfterSeconds: Int64, nodes: [NodeCleanResult]
        var end: RolloutEnd, notStarted: [String], exitCode: Int32, kubernetesUnavailable: String?, kubernetesSource: String?
    }

    static func encodeWhole(_ w: Whole) throws -> String {
        let e = JSONEncoder()
        e.outputFormatting = [.prettyPrinted, .sortedKeys]
        e.dateEncodingStrategy = .iso8601
        return String(decoding: try e.encode(w), as: UTF8.self) + "\n"
    }

    /// Nodes added out of order (as they finish) print in selection order; the JSON is byte
    /// for byte the whole document, with several nodes, with none, and with optional fields
    /// absent or set; the table has each node's section once, in order, then the summary.
    @Test func streamedReportIsTheWholeDocumentInSelectionOrder() async throws {
        var cleaned = try await Self.executed().nodes[0]
        cleaned.node = "node-1"
        var planned = try Self.dryRun().nodes[0]
        planned.node = "node-2"
        let refused = NodeCleanResult(node: "node-3", address: "127.0.4.3", status: .refused, error: "node-3: connection refused")
        let quiet = NodeCleanResult(node: "node-4", address: "127.0.4.4:2222")
        let nodes = [cleaned, planned, refused, quiet]
        let summary = CleanSummary(nodes)
        #expect(summary.nodes == 4 && summary.mapsCleaned == 1 && summary.mapsPlanned == 1 && summary.nodesNotOK == 1
                && summary.nodesFailed == 1 && summary.nodesWithMaps == 2 && summary.mapsLeft == 6)
        let report = CleanRunReport(run: 9, execute: true, fromRun: nil, confirmAfterSeconds: 0, summary: summary, end: .maxFailures,
                                    notStarted: ["node-2"], exitCode: 4, kubernetesSource: "context kind-fleet")
        for json in [true, false] {
            let printed = CleanReport(json: json, execute: true, nodes: nodes.count)
            for i in [2, 0, 3, 1] { printed.add(nodes[i], at: i) }
            var text = ""
            printed.write(report, to: { text += $0 })
            if json {
                #expect(text == (try Self.encodeWhole(Whole(run: 9, execute: true, fromRun: nil, confirmAfterSeconds: 0, nodes: nodes,
                                                             end: .maxFailures, notStarted: ["node-2"], exitCode: 4,
                                                             kubernetesUnavailable: nil, kubernetesSource: "context kind-fleet"))))
            } else {
                let heads = text.split(separator: "\n").filter { $0.hasPrefix("node-") }.map { String($0.prefix(6)) }
                #expect(heads == ["node-1", "node-2", "node-3", "node-4"])
                #expect(text.contains("node-3 (127.0.4.3): 0 cleaned, 0 failed, 0 aborted, 0 left alone [refused: node-3: connection refused]\n"))
                #expect(text.hasSuffix("\nrun 9: 1 map(s) cleaned, 0 failed, 0 aborted (changed since plan), 1 not started, 6 left alone, 1 node(s) failed or unreachable. Stopped: failures exceeded --max-failures; 1 node(s) not started. Kubernetes: context kind-fleet.\n"))
            }
        }
        let none = CleanReport(json: true, execute: false, nodes: 0)
        let empty = CleanRunReport(run: 1, execute: false, fromRun: 7, confirmAfterSeconds: 300, summary: CleanSummary(), end: .completed,
                                   notStarted: [], exitCode: 6, kubernetesUnavailable: "kubectl: not found")
        var text = ""
        none.write(empty, to: { text += $0 })
        #expect(text == (try Self.encodeWhole(Whole(run: 1, execute: false, fromRun: 7, confirmAfterSeconds: 300, nodes: [],
                                                     end: .completed, notStarted: [], exitCode: 6,
                                                     kubernetesUnavailable: "kubectl: not found", kubernetesSource: nil))))
    }

    /// Many nodes: their parts go to the spool file, not to memory, and still print whole.
    @Test func manyNodesGoToTheSpoolFile() throws {
        let node = try Self.dryRun().nodes[0]
        let n = 2_000
        let printed = CleanReport(json: true, execute: false, nodes: n)
        for i in (0..<n).reversed() {
            var r = node
            r.node = "node-\(i)"
            printed.add(r, at: i)
        }
        #expect(printed.spooledBytes > Int64(ReportSpool.flushAt) * 10)
        #expect(printed.bufferedBytes < ReportSpool.flushAt)
        var text = ""
        printed.write(CleanRunReport(run: 1, execute: false, fromRun: nil, confirmAfterSeconds: 300, summary: CleanSummary(), end: .completed,
                                     notStarted: [], exitCode: 0), to: { text += $0 })
        let doc = try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
        let names = (doc["nodes"] as? [[String: Any]] ?? []).compactMap { $0["node"] as? String }
        #expect(names == (0..<n).map { "node-\($0)" })
    }
}
