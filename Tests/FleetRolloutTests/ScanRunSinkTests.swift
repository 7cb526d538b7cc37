import Foundation
import Testing
import FleetModel
import FleetTestSupport
@testable import FleetRollout

/// ScanRun.run(_:into:): every node reaches the sink once, as it finishes, without its raw
/// outputs; the run itself returns counters only (ScanSummary).
@Suite struct ScanRunSinkTests {
    /// Remembers, per node, only its index and whether it came with outputs or findings.
    struct Tally: ScanSink {
        var order: [Int] = []
        var nameMismatches = 0
        var withOutputs = 0
        mutating func add(_ scan: NodeScan, at index: Int) {
            order.append(index)
            if scan.node != ScanRunSinkTests.name(index) { nameMismatches += 1 }
            if !scan.outputs.isEmpty { withOutputs += 1 }
        }
    }

    static func name(_ index: Int) -> String { String(format: "node-%04d", index + 1) }
    static func targets(_ n: Int) -> [NodeTarget] {
        (0..<n).map { NodeTarget(name: name($0), host: "127.0.3.\($0 % 250 + 1)") }
    }
    static let noMultipath = ScriptedExecutor.Reply.framed([("multipath-ll", 127, "", "sh: multipath: not found\n")])

    @Test func thousandsOfNodesReachTheSinkOnceEachAndTheSummaryCountsThem() async {
        let n = 3000
        var script: [String: ScriptedExecutor.Node] = [:]
        for i in 0..<n {
            // 1 in 10 refused, 1 in 25 (not already refused) without multipath-tools, the rest healthy.
            script[Self.name(i)] = i % 10 == 0 ? .fails(NodeFailure(.refused, "127.0.3.1:22: connection refused"))
                : i % 25 == 1 ? .replies([Self.noMultipath]) : .replies([DiscoveryScanRunTests.healthyNode])
        }
        let ex = ScriptedExecutor(script)
        var tally = Tally()
        let stored = Counter()
        let summary = await ScanRun(executor: ex, options: ScanOptions(forks: 50), record: { _ in stored.add() })
            .run(Self.targets(n), into: &tally)
        let refused = (0..<n).filter { $0 % 10 == 0 }.count                      // 300
        let noTools = (0..<n).filter { $0 % 10 != 0 && $0 % 25 == 1 }.count      // i = 1, 26, 51, … not multiples of 10
        #expect(summary.nodes == n)
        #expect(summary.nodesByStatus[.refused] == refused)
        #expect(summary.nodesByStatus[.nodeError] == noTools)
        #expect(summary.nodesByStatus[.ok] == n - refused - noTools)
        #expect(summary.nodesFailed == refused + noTools)
        #expect(summary.maps == 0 && summary.cleanableMaps == 0 && summary.nodesWithResidualMaps == 0)
        #expect(summary.storeErrorCount == 0)
        #expect(stored.value == n)
        #expect(tally.order.count == n)
        #expect(Set(tally.order) == Set(0..<n))
        #expect(tally.nameMismatches == 0)
        #expect(tally.withOutputs == 0, "raw outputs must be dropped before a node reaches the sink")
        #expect(ex.unconsumed.isEmpty)
    }

    /// Node i's session starts only once the run has handed on every node after it: the
    /// sink sees the reverse order, each with its own index, and the keeping variant still
    /// returns inventory order.
    @Test func sinkGetsCompletionOrderWithInventoryIndexes() async {
        let n = 8
        let ex = ReverseGateExecutor(count: n, reply: DiscoveryScanRunTests.healthyNode)
        var tally = Tally()
        let summary = await ScanRun(executor: ex, options: ScanOptions(forks: n), events: ex.observe)
            .run(Self.targets(n), into: &tally)
        #expect(tally.order == Array((0..<n).reversed()))
        #expect(tally.nameMismatches == 0)
        #expect(summary.nodes == n)

        let ex2 = ReverseGateExecutor(count: n, reply: DiscoveryScanRunTests.healthyNode)
        let kept = await ScanRun(executor: ex2, options: ScanOptions(forks: n), events: ex2.observe).run(Self.targets(n))
        #expect(kept.nodes.map(\.node) == (0..<n).map(Self.name))
    }

    @Test func storeErrorsAreCountedButOnlyTheFirstFewKept() async {
        struct DiskFull: Error {}
        let n = 12
        var script: [String: ScriptedExecutor.Node] = [:]
        for i in 0..<n { script[Self.name(i)] = .replies([DiscoveryScanRunTests.healthyNode]) }
        var tally = Tally()
        let summary = await ScanRun(executor: ScriptedExecutor(script), options: ScanOptions(forks: 3),
                                    record: { _ in throw DiskFull() }).run(Self.targets(n), into: &tally)
        #expect(summary.storeErrorCount == n)
        #expect(summary.storeErrors.count == ScanSummary.keptStoreErrors)
        #expect(summary.storeErrors.allSatisfy { $0.contains(": could not store results: ") })
        #expect(tally.order.count == n)   // the scan went on
    }

    /// Node i's session waits until ScanRun has reported nodes i+1… finished (its
    /// `.nodeFinished` event comes after the sink got the node).
    final class ReverseGateExecutor: RemoteExecutor, @unchecked Sendable {
        // @unchecked: `finished` under `lock`.
        let lock = NSLock()
        var finished: Set<String> = []
        let count: Int
        let reply: ScriptedExecutor.Reply
        init(count: Int, reply: ScriptedExecutor.Reply) { self.count = count; self.reply = reply }

        var observe: @Sendable (ScanEvent) -> Void {
            { [self] e in if case .nodeFinished(let s, _) = e { lock.withLock { _ = finished.insert(s.node) } } }
        }

        struct Session: RemoteSession {
            let reply: ScriptedExecutor.Reply
            func exec(_ r: ExecRequest) async throws(NodeFailure) -> ExecResult { try reply.respond(r).get() }
        }

        func withSession<T: Sendable>(to target: NodeTarget, _ body: @Sendable (any RemoteSession) async throws -> T) async throws -> T {
            guard let i = (0..<count).first(where: { ScanRunSinkTests.name($0) == target.name }) else {
                fatalError("ReverseGateExecutor: unexpected node \(target.name)")
            }
            let after = ((i + 1)..<count).map(ScanRunSinkTests.name)
            while !lock.withLock({ after.allSatisfy(finished.contains) }) {
                try await Task.sleep(for: .milliseconds(2))
            }
            return try await body(Session(reply: reply))
        }
    }

    final class Counter: @unchecked Sendable {
        // @unchecked: `n` under `lock`.
        let lock = NSLock()
        var n = 0
        func add() { lock.withLock { n += 1 } }
        var value: Int { lock.withLock { n } }
    }
}
