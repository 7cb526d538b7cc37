import Foundation
import Testing
import FleetModel
import FleetTestSupport
@testable import FleetRollout

/// ScanRun: bounded concurrency, every node ends as data, results stored as they arrive.
@Suite struct DiscoveryScanRunTests {
    /// Lets sessions in only as a group of `width`: the first `width` wait for each other, so
    /// the run finishes only if it really keeps `width` nodes in flight, and never more.
    final class BarrierExecutor: RemoteExecutor, @unchecked Sendable {
        // @unchecked: counters under `lock`.
        let lock = NSLock()
        let width: Int
        var inFlight = 0, maxInFlight = 0, entered = 0
        let reply: ScriptedExecutor.Reply
        init(width: Int, reply: ScriptedExecutor.Reply) { self.width = width; self.reply = reply }

        struct Session: RemoteSession {
            let reply: ScriptedExecutor.Reply
            func exec(_ r: ExecRequest) async throws(NodeFailure) -> ExecResult { try reply.respond(r).get() }
        }

        func withSession<T: Sendable>(to target: NodeTarget, _ body: @Sendable (any RemoteSession) async throws -> T) async throws -> T {
            let myTurn: Int = lock.withLock {
                inFlight += 1; entered += 1; maxInFlight = max(maxInFlight, inFlight); return entered
            }
            if myTurn <= width {
                while lock.withLock({ entered < width }) { try await Task.sleep(for: .milliseconds(2)) }
            }
            defer { lock.withLock { inFlight -= 1 } }
            return try await body(Session(reply: reply))
        }
    }

    static let healthyNode = ScriptedExecutor.Reply.framed([("multipath-ll", 0, "", ""), ("ls-sys-block", 0, "total 0\n", "")])

    static func targets(_ n: Int) -> [NodeTarget] {
        (1...n).map { NodeTarget(name: String(format: "node-%03d", $0), host: "127.0.2.\($0)") }
    }

    @Test func keepsExactlyForksNodesInFlight() async {
        let ex = BarrierExecutor(width: 4, reply: Self.healthyNode)
        // Finite deadline (~47 s): if fewer than 4 ran at once the barrier never opens and those
        // nodes time out. Not shorter: on a loaded 2-core CI host the test's own tasks can wait
        // that long for a thread.
        let opts = ScanOptions(forks: 4, connectTimeout: .seconds(5),
                               discovery: DiscoveryOptions(commandTimeout: .seconds(5), probeTimeout: .seconds(5)))
        let result = await ScanRun(executor: ex, options: opts).run(Self.targets(25))
        #expect(result.nodes.count == 25)
        #expect(result.nodes.allSatisfy { $0.status == .ok })
        #expect(ex.maxInFlight == 4)
    }

    @Test func everyNodeEndsAsDataInInventoryOrderAndIsRecordedOnce() async {
        let ex = ScriptedExecutor([
            "node-001": .replies([Self.healthyNode]),
            "node-002": .fails(NodeFailure(.refused, "127.0.2.2:22: connection refused")),
            "node-003": .fails(NodeFailure(.hostKeyChanged, "127.0.2.3:22: host key changed")),
            "node-004": .hangs,
            "node-005": .replies([.failure(containing: "sh -s", NodeFailure(.commandTimeout, "127.0.2.5:22: no exit status within 1s"))]),
            "node-006": .replies([.framed([("multipath-ll", 127, "", "sh: multipath: not found\n")])]),
        ])
        let recorded = Recorder()
        // Tiny deadline so the hanging node (which never answers) is cut by ScanRun itself.
        let opts = ScanOptions(forks: 6, connectTimeout: .milliseconds(100),
                               discovery: DiscoveryOptions(commandTimeout: .milliseconds(100), probeTimeout: .milliseconds(100)))
        let events = Recorder()
        let result = await ScanRun(executor: ex, options: opts, record: { recorded.add($0) },
                                   events: { if case .nodeFinished(let s, _) = $0 { events.add(s) } }).run(Self.targets(6))
        #expect(result.nodes.map(\.node) == (1...6).map { String(format: "node-%03d", $0) })
        #expect(result.nodes.map(\.status) == [.ok, .refused, .hostKeyChanged, .commandTimeout, .commandTimeout, .nodeError])
        #expect(result.nodes[3].error?.contains("node deadline") == true)
        #expect(result.nodes[1].error?.hasPrefix("node-002: ") == true)
        #expect(result.nodes.allSatisfy { $0.outputs.isEmpty })   // dropped after storing
        #expect(recorded.names.sorted() == result.nodes.map(\.node))
        #expect(recorded.scans.first { $0.node == "node-006" }?.outputs.count == 1)  // stored with raw outputs
        #expect(events.names.count == 6)
        #expect(result.failedNodes.count == 5)
        #expect(result.countsByStatus[.commandTimeout] == 2)
    }

    /// Phase 1's history is read node by node as each scan starts, not for every node up
    /// front (a 1,000-node farm of 50-map nodes held 275 MiB of previous states that way);
    /// a node whose history cannot be read gets the full discovery, and its note says why.
    @Test func historyIsReadPerNodeAsItsScanStartsAndAnUnreadableOneMeansTheFullDiscovery() async {
        struct Locked: Error {}
        let ex = ScriptedExecutor(["node-001": .replies([Self.healthyNode]), "node-002": .replies([Self.healthyNode]),
                                   "node-003": .replies([Self.healthyNode])])
        let log = Recorder()
        let opts = ScanOptions(forks: 1)
        let result = await ScanRun(executor: ex, options: opts,
                                   record: { log.add(NodeScan(node: "stored " + $0.node, address: "", status: .ok, startedAt: Date(), duration: .zero)) },
                                   previous: { node in
                                       log.add(NodeScan(node: "read " + node, address: "", status: .ok, startedAt: Date(), duration: .zero))
                                       if node == "node-002" { throw Locked() }
                                       return nil
                                   }).run(Self.targets(3))
        #expect(log.names == ["read node-001", "stored node-001", "read node-002", "stored node-002", "read node-003", "stored node-003"])
        #expect(result.nodes.map(\.status) == [.ok, .ok, .ok])
        #expect(result.nodes.map(\.phase) == [.full, .full, .full])
        #expect(result.nodes[1].phaseNote?.hasPrefix("cannot read the last scan from the history: ") == true)
        #expect(result.nodes[0].phaseNote == "no earlier scan of this node in the history")
    }

    @Test func storeFailureIsReportedAndTheScanGoesOn() async {
        struct DiskFull: Error {}
        let ex = ScriptedExecutor(["node-001": .replies([Self.healthyNode]), "node-002": .replies([Self.healthyNode])])
        let result = await ScanRun(executor: ex, record: { s in if s.node == "node-001" { throw DiskFull() } })
            .run(Self.targets(2))
        #expect(result.nodes.map(\.status) == [.ok, .ok])
        #expect(result.storeErrors.count == 1)
        #expect(result.storeErrors[0].hasPrefix("node-001: could not store results"))
    }

    final class Recorder: @unchecked Sendable {
        let lock = NSLock()
        var scans: [NodeScan] = []
        func add(_ s: NodeScan) { lock.withLock { scans.append(s) } }
        var names: [String] { lock.withLock { scans.map(\.node) } }
    }
}
