import Foundation
import Testing
import FleetInventory
import FleetModel
import FleetStore
import FleetTestSupport
@testable import FleetRollout

/// CleanRun end to end over the scripted executor and a real history file: exit codes,
/// the failure budget across batches, a stop before start, and --wait in fake time.
@Suite struct CleanRunTests {
    static let t = Date(timeIntervalSince1970: 1_800_000_000)

    static func nodes(_ n: Int) -> [InventoryNode] {
        (1...n).map { InventoryNode(target: NodeTarget(name: String(format: "node-%02d", $0), host: "127.0.4.\($0)")) }
    }

    /// Two recorded scans of the `residual` captures per node, 10 minutes apart; returns the second run.
    static func seed(_ db: FleetDatabase, _ nodes: [InventoryNode]) throws -> Int64 {
        var last: Int64 = 0
        for at in [t.addingTimeInterval(-600), t] {
            last = try db.beginRun(kind: .scan, inventory: nil, options: ["seed": "1"], version: "test", startedAt: at)
            for n in nodes { try db.recordNode(run: last, try CleanFixtures.scan("residual", node: n.name, probes: ["dm-0"], at: at)) }
            try db.finishRun(last, status: .ok, exitCode: 1, endedAt: at)
        }
        return last
    }

    @Test func failuresBeyondTheBudgetStopTheRunWithItsOwnExitCode() async throws {
        let h = try TempHistory()
        defer { h.cleanup() }
        let all = Self.nodes(10)
        let from = try Self.seed(h.db, all)
        // Every node refuses the clean session: each counts as a failure.
        var script: [String: ScriptedExecutor.Node] = [:]
        for n in all { script[n.name] = .fails(NodeFailure(.refused, "\(n.name): connection refused")) }
        let ex = ScriptedExecutor(script)
        let run = try h.db.beginRun(kind: .clean, inventory: nil, options: ["t": "1"], version: "test")
        let options = CleanOptions(confirmAfter: .seconds(300), execute: true,
                                   policy: RolloutPolicy(batches: [.count(1), .count(5)], maxInFlight: 5, maxFailures: .count(2)),
                                   fromRun: from)
        var kept = KeptCleans(count: all.count)
        let report = try await CleanRun(executor: ex, database: h.db, options: options, now: { Self.t }).run(nodes: all, run: run, into: &kept)
        #expect(report.end == .maxFailures)
        #expect(report.exitCode == 4)
        #expect(ex.sessions.count == 6, "canary + batch of 5; the third batch never starts")
        #expect(report.notStarted == ["node-07", "node-08", "node-09", "node-10"])
        #expect(kept.nodes.map(\.node) == all.map(\.name))
        #expect(kept.nodes.filter { $0.batch == 2 }.count == 5)
        #expect(kept.nodes.suffix(4).allSatisfy { $0.maps.allSatisfy { $0.outcome == .planned } })
        #expect(report.summary.nodes == 10 && report.summary.nodesFailed == 6 && report.mapsFailed == 6 && report.mapsPlanned == 4)
    }

    @Test func stopBeforeStartIsInterrupted() async throws {
        let h = try TempHistory()
        defer { h.cleanup() }
        let all = Self.nodes(3)
        let from = try Self.seed(h.db, all)
        let ex = ScriptedExecutor([:])  // any session would stop the test
        var kept = KeptCleans(count: all.count)
        let stop = RolloutStopSignal()
        stop.trigger()
        let run = try h.db.beginRun(kind: .clean, inventory: nil, options: ["t": "1"], version: "test")
        let report = try await CleanRun(executor: ex, database: h.db,
                                        options: CleanOptions(confirmAfter: .seconds(300), execute: true, fromRun: from),
                                        now: { Self.t }, stop: stop).run(nodes: all, run: run, into: &kept)
        #expect(report.end == .interrupted && report.exitCode == 5)
        #expect(report.notStarted.count == 3)
        #expect(kept.nodes.allSatisfy { $0.maps.allSatisfy { $0.outcome == .planned && $0.reason == "not started: run stopped (interrupted)" } })
        #expect(try h.db.actions(limit: 0).isEmpty)
    }

    @Test func dryRunPlansWithoutAnySession() async throws {
        let h = try TempHistory()
        defer { h.cleanup() }
        let all = Self.nodes(2)
        let from = try Self.seed(h.db, all)
        let run = try h.db.beginRun(kind: .clean, inventory: nil, options: ["t": "1"], version: "test")
        let printed = CleanReport(json: false, execute: false, nodes: all.count)
        var sink = printed
        let report = try await CleanRun(executor: ScriptedExecutor([:]), database: h.db,
                                        options: CleanOptions(confirmAfter: .seconds(300), fromRun: from),
                                        now: { Self.t }).run(nodes: all, run: run, into: &sink)
        #expect(report.exitCode == 0 && !report.execute)
        #expect(report.mapsPlanned == 2)
        var text = ""
        printed.write(report, to: { text += $0 })
        #expect(text.contains("$ multipath -f mpatha"))
        #expect(text.contains("$ echo 1 > /sys/block/sdh/device/delete"))
        #expect(text.contains("Nothing was changed"))
        #expect(try h.db.actions(limit: 0).isEmpty)
        // confirm-after longer than the 10 minutes between the scans: everything waits.
        var dropped = DroppedCleans()
        let waiting = try await CleanRun(executor: ScriptedExecutor([:]), database: h.db,
                                         options: CleanOptions(confirmAfter: .seconds(3600), fromRun: from),
                                         now: { Self.t }).run(nodes: all, run: run, into: &dropped)
        #expect(waiting.mapsPlanned == 0 && waiting.mapsWaiting == 2)
    }

    /// Fake time: sleeping moves `now` forward at once.
    final class FakeTime: @unchecked Sendable {
        // @unchecked: `elapsed` only under `lock`.
        private let lock = NSLock()
        private var elapsed: Duration = .zero
        let base: Date
        init(_ base: Date) { self.base = base }
        var now: Date { lock.withLock { base.addingTimeInterval(elapsed.timeInterval) } }
        var time: RolloutTime {
            RolloutTime(elapsed: { self.lock.withLock { self.elapsed } },
                        sleepUntil: { d in self.lock.withLock { if d > self.elapsed { self.elapsed = d } } })
        }
    }

    @Test func waitSleepsUntilConfirmationRescansAndPlans() async throws {
        let h = try TempHistory()
        defer { h.cleanup() }
        let all = Self.nodes(1)
        let discovery = try CleanFixtures.discoveryFrames("residual").map { ($0.name, $0.exitCode, $0.stdout, $0.stderr) }
        let dd = try CleanFixtures.probeOutput("residual", dm: "dm-0")
        let scanReplies: [ScriptedExecutor.Reply] = [
            .framed(stdinContaining: "r multipath-ll ", discovery),
            // The scan looks for a stuck probe before probing (none here), then probes dm-0.
            .framed(stdinContaining: "r ps-dd-wchan ", [("ps-dd-wchan", 0, CleanFixtures.psEmpty, "")]),
            .framed(stdinContaining: "dd-dm-0", [("dd-dm-0", dd.exitCode ?? 1, dd.stdout, dd.stderr)]),
        ]
        // Two scans: the first sees the map once (waiting), the second after the wait confirms it.
        let ex = ScriptedExecutor(["node-01": .replies(scanReplies + scanReplies)])
        let fake = FakeTime(Self.t)
        let run = try h.db.beginRun(kind: .clean, inventory: nil, options: ["t": "1"], version: "test")
        final class Log: @unchecked Sendable {
            // @unchecked: `lines` only under `lock`.
            let lock = NSLock()
            var lines: [String] = []
            func add(_ s: String) { lock.withLock { lines.append(s) } }
            var all: [String] { lock.withLock { lines } }
        }
        let log = Log()
        var kept = KeptCleans(count: all.count)
        let report = try await CleanRun(executor: ex, database: h.db,
                                        options: CleanOptions(confirmAfter: .seconds(300), wait: true),
                                        time: fake.time, now: { fake.now },
                                        events: { e in if case .waiting(let until, let maps) = e { log.add("\(maps)@\(until.timeIntervalSince(Self.t))") } })
            .run(nodes: all, run: run, into: &kept)
        #expect(ex.unconsumed.isEmpty)
        #expect(log.all == ["1@300.0"])
        #expect(fake.now.timeIntervalSince(Self.t) >= 300)
        #expect(report.mapsPlanned == 1, "confirmed after the wait: \(kept.nodes)")
        #expect(kept.nodes.first?.maps.map(\.cleanup.name.rawValue) == ["mpatha"])
        #expect(report.mapsWaiting == 0)
    }
}
