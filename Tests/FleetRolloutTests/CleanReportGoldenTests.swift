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
    static func report(_ nodes: [NodeCleanResult], execute: Bool) -> CleanRunReport {
        var nodes = nodes
        for i in nodes.indices {
            nodes[i].durationMS = 0
            for m in nodes[i].maps.indices { for s in nodes[i].maps[m].steps.indices { nodes[i].maps[m].steps[s].durationMS = 0 } }
        }
        return CleanRunReport(run: 3, execute: execute, fromRun: 2, confirmAfterSeconds: 300, nodes: nodes, end: .completed,
                              notStarted: [], exitCode: CleanRunReport.exitCode(end: .completed, nodes: nodes))
    }

    static func dryRun() throws -> CleanRunReport {
        let plan = try CleanNodeTests.residualPlan()
        let node = NodeCleanResult(node: plan.node, address: "127.0.4.1", maps: plan.cleanups.map { MapCleanResult(cleanup: $0, outcome: .planned) },
                                   left: plan.left, batch: 0)
        return report([node], execute: false)
    }

    static func executed() async throws -> CleanRunReport {
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
        #expect(Snapshots.check(try await Self.executed().json() + "\n", name: "executedCleanupJSON", ext: "json") == nil)
    }
}
