import Foundation
import FleetModel
import GRDB
import Testing
@testable import FleetStore

/// A small history: 4 daily sweeps over worker-1 (healthy, then residual from day 1 on),
/// worker-2 (residual on day 1 only, cleaned afterwards) and worker-3 (unreachable on day 3).
struct SmallHistory {
    let f: Fresh
    var runs: [Int64] = []
    static let day: TimeInterval = 86_400
    static func at(_ d: Int) -> Date { Samples.t0.addingTimeInterval(Double(d) * day) }
    static let mpatha = "36001405ae3a4a2b307ccf2a518e52df9"

    init() throws {
        f = try Fresh()
        for d in 0..<4 {
            let run = try f.db.beginRun(kind: .sweep, inventory: "nodes.yaml", options: [String: String](), version: "0.1.0", startedAt: Self.at(d))
            try f.db.recordNode(run: run, d == 0 ? Samples.healthyScan(at: Self.at(d)) : try Samples.residualScan(at: Self.at(d)))
            try f.db.recordNode(run: run, d == 1 ? try Samples.residualScan(node: "worker-2", at: Self.at(d))
                                                 : Samples.healthyScan(node: "worker-2", at: Self.at(d)))
            try f.db.recordNode(run: run, d == 3 ? Samples.unreachable(node: "worker-3", at: Self.at(d))
                                                 : Samples.healthyScan(node: "worker-3", at: Self.at(d)))
            if d == 1 {
                let a = try f.db.recordPlannedAction(run: run, node: "worker-2", wwid: Self.mpatha, mapName: "mpatha", dm: "dm-0",
                                                     command: .flushMap(MapName("mpatha")!), plannedAt: Self.at(d).addingTimeInterval(60))
                try f.db.recordActionStarted(id: a, at: Self.at(d).addingTimeInterval(61))
                try f.db.recordActionOutcome(id: a, outcome: .ok, exitCode: 0, stdout: "", stderr: "", duration: .milliseconds(80),
                                             reason: nil, endedAt: Self.at(d).addingTimeInterval(62))
            }
            try f.db.finishRun(run, status: d == 3 ? .partial : .ok, exitCode: d == 3 ? 2 : 1, endedAt: Self.at(d).addingTimeInterval(120))
            runs.append(run)
        }
    }
}

@Suite struct QueryTests {
    @Test func runsNewestFirstWithCounts() throws {
        let h = try SmallHistory()
        let runs = try h.f.db.runs(limit: 0)
        #expect(runs.map(\.id) == h.runs.reversed())
        let last = try #require(runs.first)
        #expect(last.status == .partial && last.exitCode == 2 && last.nodes == 3 && last.nodesOK == 2 && last.residualMaps == 1)
        #expect(runs.map(\.residualMaps) == [1, 1, 2, 0])
        #expect(runs.map(\.actions) == [0, 0, 1, 0])
        #expect(try h.f.db.runs(limit: 2).count == 2)
        #expect(try h.f.db.runs(limit: 0, kind: .scan).isEmpty)
        #expect(try h.f.db.runs(limit: 0, since: SmallHistory.at(2)).map(\.id) == [h.runs[3], h.runs[2]])
    }

    @Test func runDetail() throws {
        let h = try SmallHistory()
        let d = try #require(try h.f.db.runDetail(id: h.runs[1]))
        #expect(d.nodes.map(\.node) == ["worker-1", "worker-2", "worker-3"])
        #expect(d.nodes.map(\.residualMaps) == [1, 1, 0])
        #expect(d.verdicts == [.residual: 2, .healthy: 10])
        #expect(d.actionOutcomes == [.ok: 1])
        #expect(try h.f.db.runDetail(id: 999) == nil)
    }

    @Test func nodeTimeline() throws {
        let h = try SmallHistory()
        let t = try h.f.db.nodeTimeline(node: "worker-3", limit: 0)
        #expect(t.map(\.runID) == h.runs.reversed())
        #expect(t.first?.status == .connectTimeout && t.first?.maps.isEmpty == true)
        #expect(t.last?.maps.map(\.name) == ["mpatha", "mpathb", "mpathc", "mpathd"])
        let w1 = try h.f.db.nodeTimeline(node: "worker-1", since: SmallHistory.at(2), limit: 0)
        #expect(w1.count == 2)
        #expect(w1.allSatisfy { $0.maps.first?.verdict == .residual && $0.maps.first?.allFailed == true })
        #expect(try h.f.db.nodeTimeline(node: "worker-1", limit: 1).map(\.runID) == [h.runs[3]])
    }

    @Test func residualsNow() throws {
        let h = try SmallHistory()
        let now = try h.f.db.residuals()
        // worker-1: residual since day 1 (3 scans). worker-2 was cleaned. worker-3 never residual.
        #expect(now.count == 1)
        let r = try #require(now.first)
        #expect(r.node == "worker-1" && r.wwid == SmallHistory.mpatha && r.name == "mpatha" && r.dm == "dm-0")
        #expect(r.firstSeen == SmallHistory.at(1) && r.lastSeen == SmallHistory.at(3) && r.runs == 3 && r.residualNow)
    }

    @Test func residualsInAWindow() throws {
        let h = try SmallHistory()
        let all = try h.f.db.residuals(since: SmallHistory.at(0))
        #expect(all.map(\.node) == ["worker-1", "worker-2"])
        #expect(all[1].firstSeen == SmallHistory.at(1) && all[1].lastSeen == SmallHistory.at(1) && all[1].runs == 1)
        #expect(all[1].residualNow == false && all[0].residualNow == true)
        let recent = try h.f.db.residuals(since: SmallHistory.at(2))
        #expect(recent.map(\.node) == ["worker-1"])
        #expect(recent[0].firstSeen == SmallHistory.at(2) && recent[0].runs == 2)
        #expect(try h.f.db.residuals(since: SmallHistory.at(0), limit: 1).count == 1)
    }

    /// Both cleanable verdicts count, and scans that share one stored state (days 1 and 3
    /// found the same maps) count once each: worker-1's mpatha is residual on day 0,
    /// residual-hung on days 1 and 3, healthy on day 2.
    @Test func residualsCountResidualHungAndScansOfASharedState() throws {
        let f = try Fresh()
        for d in 0..<4 {
            let run = try f.db.beginRun(kind: .sweep, inventory: "nodes.yaml", options: [String: String](), version: "0.1.0",
                                        startedAt: SmallHistory.at(d))
            try f.db.recordNode(run: run, d == 2 ? Samples.healthyScan(at: SmallHistory.at(d))
                                                 : try Samples.residualScan(at: SmallHistory.at(d), mpathaVerdict: d == 0 ? .residual : .residualHung))
            try f.db.finishRun(run, status: .ok, exitCode: 1, endedAt: SmallHistory.at(d).addingTimeInterval(120))
        }
        let window = try f.db.residuals(since: SmallHistory.at(1))
        #expect(window.count == 1)
        let w = try #require(window.first)
        #expect(w.node == "worker-1" && w.wwid == SmallHistory.mpatha && w.verdict == .residualHung && w.residualNow)
        #expect(w.firstSeen == SmallHistory.at(1) && w.lastSeen == SmallHistory.at(3) && w.runs == 2)
        let all = try #require(try f.db.residuals(since: SmallHistory.at(0)).first)
        #expect(all.firstSeen == SmallHistory.at(0) && all.lastSeen == SmallHistory.at(3) && all.runs == 3 && all.verdict == .residualHung)
        let now = try #require(try f.db.residuals().first)
        #expect(now.verdict == .residualHung && now.firstSeen == SmallHistory.at(0) && now.lastSeen == SmallHistory.at(3) && now.runs == 3)
    }

    @Test func actionsNewestFirstAndFiltered() throws {
        let h = try SmallHistory()
        let a = try h.f.db.actions()
        #expect(a.count == 1)
        #expect(a.first?.command == "multipath -f mpatha" && a.first?.outcome == .ok && a.first?.durationMS == 80)
        #expect(a.first?.startedAt == SmallHistory.at(1).addingTimeInterval(61))
        #expect(try h.f.db.actions(node: "worker-1").isEmpty)
        #expect(try h.f.db.actions(since: SmallHistory.at(2)).isEmpty)
    }

    @Test func pruneRemovesOldRunsConsistently() throws {
        let h = try SmallHistory()
        let running = try h.f.db.beginRun(kind: .scan, inventory: nil, options: [String: String](), version: "t", startedAt: SmallHistory.at(-10))
        let report = try h.f.db.prune(olderThan: SmallHistory.at(2))
        // Days 0 and 1: 2 runs × 3 nodes, 4 maps × 2 paths per node, raw outputs only on residual scans (worker-1 day 1, worker-2 day 1).
        #expect(report.runs == 2 && report.nodeRuns == 6 && report.maps == 24 && report.paths == 48 && report.rawOutputs == 4 && report.actions == 1)
        #expect(try h.f.int("SELECT COUNT(*) FROM runs") == 3)  // days 2, 3 and the running one
        #expect(try h.f.ints("SELECT id FROM runs WHERE status = 'running'") == [Int(running)])
        #expect(try h.f.int("SELECT COUNT(*) FROM node_runs") == 6)
        // Day 2: 3 nodes × 4 maps; day 3: worker-3 unreachable, so 2 × 4.
        #expect(try h.f.int("SELECT COUNT(*) FROM map_observations") == 20)
        // Stored once per state: worker-1 residual, worker-2 healthy, worker-3 healthy (days 2
        // and 3 alike); worker-1's healthy state of day 0 and worker-2's residual one of day 1 went.
        #expect(report.states == 2)
        #expect(try h.f.int("SELECT COUNT(*) FROM maps") == 12)
        #expect(try h.f.int("SELECT COUNT(*) FROM paths") == 24)
        #expect(try h.f.int("SELECT COUNT(*) FROM actions") == 0)
        let fkProblems = try h.f.db.pool.read { try Row.fetchAll($0, sql: "PRAGMA foreign_key_check") }
        #expect(fkProblems.isEmpty)
        #expect(try h.f.strings("PRAGMA integrity_check") == ["ok"])
        // Denormalised copies still agree with their node_run.
        #expect(try h.f.int("SELECT COUNT(*) FROM maps m JOIN node_states s ON s.id = m.state_id WHERE m.node <> s.node") == 0)
        #expect(try h.f.int("SELECT COUNT(*) FROM node_runs n JOIN node_states s ON s.id = n.state_id WHERE n.node <> s.node") == 0)
        let again = try h.f.db.prune(olderThan: SmallHistory.at(2))
        #expect(again.runs == 0 && again.maps == 0)
    }
}

@Suite struct LatestScanTests {
    @Test func anOlderScanRecordedLaterDoesNotBecomeNow() throws {
        let h = try SmallHistory()
        let late = try h.f.db.beginRun(kind: .scan, inventory: nil, options: [String: String](), version: "t", startedAt: SmallHistory.at(-1))
        try h.f.db.recordNode(run: late, Samples.healthyScan(node: "worker-1", at: SmallHistory.at(-1)))
        #expect(try h.f.db.residuals().map(\.node) == ["worker-1"])
        #expect(try h.f.strings("SELECT started_at FROM node_latest WHERE node = 'worker-1'") == [ISOTime.format(SmallHistory.at(3))])
    }

    @Test func pruneFallsBackToTheNewestSuccessfulScanLeft() throws {
        let h = try SmallHistory()
        // A run still marked running (never pruned) holds an old successful scan of worker-3.
        let old = try h.f.db.beginRun(kind: .scan, inventory: nil, options: [String: String](), version: "t", startedAt: SmallHistory.at(-10))
        try h.f.db.recordNode(run: old, try Samples.residualScan(node: "worker-3", at: SmallHistory.at(-10)))
        #expect(try h.f.strings("SELECT started_at FROM node_latest WHERE node = 'worker-3'") == [ISOTime.format(SmallHistory.at(2))])
        _ = try h.f.db.prune(olderThan: SmallHistory.at(3))
        // worker-3's day-2 scan went; day 3 was a timeout; the old running run's scan is what is left.
        #expect(try h.f.strings("SELECT started_at FROM node_latest WHERE node = 'worker-3'") == [ISOTime.format(SmallHistory.at(-10))])
        #expect(try h.f.strings("SELECT node FROM node_latest ORDER BY node") == ["worker-1", "worker-2", "worker-3"])
        #expect(try h.f.db.residuals().map(\.node) == ["worker-1", "worker-3"])
        #expect(try h.f.db.consistencyProblems() == [])
    }
}
