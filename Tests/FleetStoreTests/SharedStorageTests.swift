import Foundation
import FleetModel
import FleetTestSupport
import GRDB
import Testing
@testable import FleetStore

/// Issue 17: texts, outputs and node states are stored once; node runs point at them.
@Suite struct SharedStorageTests {
    static let hour: TimeInterval = 3600
    static let mpatha = "36001405ae3a4a2b307ccf2a518e52df9"

    /// The residual scan with the probe's stderr replaced (a real dd prints its timing, which
    /// differs from one run to the next).
    static func residualScan(node: String = "worker-1", at: Date, ddStderr: String? = nil) throws -> NodeScan {
        var s = try Samples.residualScan(node: node, at: at)
        if let ddStderr { s.outputs[1].stderr = ddStderr }
        return s
    }

    /// The distinct texts of the residual capture's two outputs (stdout and stderr of each).
    static func residualTexts() throws -> Set<String> {
        Set(try Samples.residualOutputs().flatMap { [$0.stdout, $0.stderr] })
    }

    @Test func anUnchangedNodeScannedAgainPointsAtWhatIsStored() throws {
        let f = try Fresh()
        var runs: [Int64] = []
        for i in 0..<24 {
            let at = Samples.t0.addingTimeInterval(Double(i) * Self.hour)
            let run = try f.db.beginRun(kind: .scan, inventory: nil, options: [String: String](), version: "t", startedAt: at)
            try f.db.recordNode(run: run, try Self.residualScan(at: at))
            runs.append(run)
        }
        // One state (4 maps, 8 paths), one output set of 2 outputs, each text once.
        #expect(try f.int("SELECT COUNT(*) FROM node_runs") == 24)
        #expect(try f.int("SELECT COUNT(*) FROM node_states") == 1)
        #expect(try f.int("SELECT COUNT(*) FROM maps") == 4)
        #expect(try f.int("SELECT COUNT(*) FROM paths") == 8)
        #expect(try f.int("SELECT COUNT(*) FROM output_sets") == 1)
        #expect(try f.int("SELECT COUNT(*) FROM outputs") == 2)
        #expect(try f.int("SELECT COUNT(*) FROM contents") == (try Self.residualTexts()).count)
        // Yet every scan has its maps and outputs, as when each was stored in full.
        #expect(try f.int("SELECT COUNT(*) FROM map_observations") == 96)
        #expect(try f.int("SELECT COUNT(*) FROM raw_outputs") == 48)
        let times = (0..<24).map { Samples.t0.addingTimeInterval(Double($0) * Self.hour) }
        #expect(try f.db.allFailedObservations(node: "worker-1", wwid: Self.mpatha, since: nil) == times)
        #expect(try f.db.allFailedObservations(node: "worker-1", wwid: Self.mpatha, since: times[20]) == Array(times[20...]))
        let residual = try #require(try f.db.residuals().first)
        #expect(residual.runs == 24 && residual.firstSeen == times[0] && residual.lastSeen == times[23] && residual.residualNow)
        let window = try #require(try f.db.residuals(since: times[22]).first)
        #expect(window.runs == 2 && window.firstSeen == times[22] && window.lastSeen == times[23])
        let timeline = try f.db.nodeTimeline(node: "worker-1", limit: 0)
        #expect(timeline.count == 24 && timeline.allSatisfy { $0.maps.map(\.name) == ["mpatha", "mpathb", "mpathc", "mpathd"] })
        #expect(try f.db.runDetail(id: runs[5])?.verdicts == [.residual: 1, .healthy: 3])
        let original = try Self.residualScan(at: times[7])
        let back = try #require(try f.db.nodeScans(run: runs[7]).first)
        #expect(back.findings == original.findings && back.startedAt == times[7])
        #expect(back.outputs.map(\.stdout) == original.outputs.map(\.stdout))
        #expect(back.outputs.map(\.stderr) == original.outputs.map(\.stderr))
    }

    @Test func aChangedOutputStoresOnlyWhatChanged() throws {
        let f = try Fresh()
        let r1 = try f.db.beginRun(kind: .scan, inventory: nil, options: [String: String](), version: "t")
        try f.db.recordNode(run: r1, try Self.residualScan(at: Samples.t0))
        let r2 = try f.db.beginRun(kind: .scan, inventory: nil, options: [String: String](), version: "t")
        let newText = "dd: error reading '/dev/dm-0': Input/output error\n0+0 records in\n0+0 records out\n0 bytes copied, 0.000187 s, 0.0 kB/s\n"
        try f.db.recordNode(run: r2, try Self.residualScan(at: Samples.t0.addingTimeInterval(Self.hour), ddStderr: newText))
        // Same maps: one state. One more text, one more output, one more set.
        #expect(try f.int("SELECT COUNT(*) FROM node_states") == 1)
        #expect(try f.int("SELECT COUNT(*) FROM contents") == (try Self.residualTexts()).count + 1)
        #expect(try f.int("SELECT COUNT(*) FROM outputs") == 3)
        #expect(try f.int("SELECT COUNT(*) FROM output_sets") == 2)
        let dd = "SELECT r.stderr FROM raw_outputs r JOIN node_runs n ON n.id = r.node_run_id WHERE n.run_id = ? AND r.capture_name = 'dd-dm-0'"
        #expect(try f.strings(dd, [r1]) == [try Fixtures.real("residual", "dd-dm-0.stderr.txt")])
        #expect(try f.strings(dd, [r2]) == [newText])
        // multipath -ll is the same output in both runs.
        #expect(try f.int("SELECT COUNT(*) FROM outputs WHERE capture_name = 'multipath-ll'") == 1)
        #expect(try f.ints("SELECT sets FROM outputs ORDER BY id") == [2, 1, 1])
    }

    @Test func aStateThatComesBackIsFoundAgain() throws {
        let f = try Fresh()
        let times = (0..<3).map { Samples.t0.addingTimeInterval(Double($0) * Self.hour) }
        for (i, at) in times.enumerated() {
            let run = try f.db.beginRun(kind: .scan, inventory: nil, options: [String: String](), version: "t", startedAt: at)
            try f.db.recordNode(run: run, i == 1 ? try Self.residualScan(at: at) : Samples.healthyScan(at: at))
        }
        #expect(try f.int("SELECT COUNT(*) FROM node_states") == 2)
        let verdicts = try f.db.nodeTimeline(node: "worker-1").map { $0.maps.first?.verdict }
        #expect(verdicts == [.healthy, .residual, .healthy])  // newest first
        #expect(try f.db.allFailedObservations(node: "worker-1", wwid: Self.mpatha, since: nil) == [times[1]])
        #expect(try f.db.residuals().isEmpty)
        #expect(try f.db.residuals(since: times[0]).map(\.runs) == [1])
    }

    @Test func textsAreSharedBetweenNodesStatesAreNot() throws {
        let f = try Fresh()
        let run = try f.db.beginRun(kind: .scan, inventory: nil, options: [String: String](), version: "t")
        try f.db.recordNode(run: run, try Self.residualScan(node: "worker-1", at: Samples.t0))
        try f.db.recordNode(run: run, try Self.residualScan(node: "worker-2", at: Samples.t0))
        #expect(try f.int("SELECT COUNT(*) FROM output_sets") == 1)
        #expect(try f.int("SELECT COUNT(*) FROM contents") == (try Self.residualTexts()).count)
        #expect(try f.int("SELECT COUNT(*) FROM node_states") == 2)
        #expect(try f.strings("SELECT DISTINCT node FROM maps ORDER BY node") == ["worker-1", "worker-2"])
        #expect(try f.db.residuals().map(\.node) == ["worker-1", "worker-2"])
    }

    @Test func pruneDeletesWhatNoRunPointsAtAnyMore() throws {
        let f = try Fresh()
        let texts = ["dd: error reading '/dev/dm-0': Input/output error\n0 bytes copied, 0.000101 s, 0.0 kB/s\n",
                     "dd: error reading '/dev/dm-0': Input/output error\n0 bytes copied, 0.000202 s, 0.0 kB/s\n",
                     "dd: error reading '/dev/dm-0': Input/output error\n0 bytes copied, 0.000202 s, 0.0 kB/s\n"]
        let times = (0..<3).map { Samples.t0.addingTimeInterval(Double($0) * Self.hour) }
        for i in 0..<3 {
            let run = try f.db.beginRun(kind: .scan, inventory: nil, options: [String: String](), version: "t", startedAt: times[i])
            try f.db.recordNode(run: run, try Self.residualScan(at: times[i], ddStderr: texts[i]))
            try f.db.finishRun(run, status: .ok, exitCode: 1, endedAt: times[i].addingTimeInterval(60))
        }
        // Run 1 goes: its state is still used by runs 2 and 3; its dd text (and only that) is not.
        let first = try f.db.prune(olderThan: times[1])
        #expect(first.runs == 1 && first.nodeRuns == 1 && first.maps == 4 && first.paths == 8 && first.rawOutputs == 2)
        #expect(first.states == 0 && first.contents == 1)
        #expect(try f.int("SELECT COUNT(*) FROM contents WHERE body = ?", [texts[0]]) == 0)
        #expect(try f.int("SELECT COUNT(*) FROM outputs") == 2 && f.int("SELECT COUNT(*) FROM output_sets") == 1)
        #expect(try f.db.nodeScans(run: 3).first?.outputs.map(\.stderr).last == texts[2])
        #expect(try f.db.consistencyProblems() == [])
        // Everything goes: nothing stored is left behind.
        let all = try f.db.prune(olderThan: times[2].addingTimeInterval(1))
        let o = try Samples.residualOutputs()
        #expect(all.runs == 2 && all.states == 1 && all.contents == Set([o[0].stdout, o[0].stderr, o[1].stdout, texts[2]]).count)
        for t in ["node_runs", "node_states", "maps", "paths", "output_sets", "outputs", "contents"] {
            #expect(try f.int("SELECT COUNT(*) FROM \(t)") == 0, "\(t)")
        }
        #expect(try f.db.consistencyProblems() == [])
    }

    /// fixtures/history-v0001, migrated: every map observation and raw output of version 1
    /// reads back through the views, texts are stored once, and new scans are deduplicated.
    @Test func aVersion1DatabaseIsCarriedForward() throws {
        let dir = try TempDir()
        let path = dir.path + "/v1.sqlite"
        try HistoryV0001.load(into: path)
        let queue = try DatabaseQueue(path: path)
        let mapColumns = "id, node_run_id, node, seen_at, position, line, wwid, name, dm, vendor, product, size, features, hwhandler, wp, all_failed, verdict, reasons, evidence"
        let (oldMaps, oldPaths, oldRaw, oldTexts) = try queue.read { db in
            (try Row.fetchAll(db, sql: "SELECT \(mapColumns) FROM maps ORDER BY id"),
             try Row.fetchAll(db, sql: "SELECT * FROM paths ORDER BY id"),
             try Row.fetchAll(db, sql: "SELECT node_run_id, position, capture_name, command, exit_code, stdout, stderr FROM raw_outputs ORDER BY node_run_id, position"),
             try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM (SELECT stdout FROM raw_outputs UNION SELECT stderr FROM raw_outputs)") ?? 0)
        }
        try queue.close()
        #expect(oldMaps.count > 50 && oldRaw.count > 500)

        let db = try FleetDatabase(path: path)
        let (maps, paths, raw, texts) = try db.pool.read { db in
            (try Row.fetchAll(db, sql: "SELECT map_id AS id, node_run_id, node, seen_at, position, line, wwid, name, dm, vendor, product, size, features, hwhandler, wp, all_failed, verdict, reasons, evidence FROM map_observations ORDER BY map_id"),
             try Row.fetchAll(db, sql: "SELECT * FROM paths ORDER BY id"),
             try Row.fetchAll(db, sql: "SELECT * FROM raw_outputs ORDER BY node_run_id, position"),
             try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM contents") ?? 0)
        }
        #expect(maps == oldMaps)
        #expect(paths == oldPaths)
        #expect(raw == oldRaw)
        #expect(texts == oldTexts)
        #expect(try db.consistencyProblems() == [])

        // A new node scanned twice after the migration is stored once.
        for i in 0..<2 {
            let run = try db.beginRun(kind: .scan, inventory: nil, options: [String: String](), version: "t")
            try db.recordNode(run: run, try Self.residualScan(node: "worker-new", at: Date().addingTimeInterval(Double(i))))
        }
        let states = try db.pool.read { try Int.fetchOne($0, sql: "SELECT COUNT(*) FROM node_states WHERE node = 'worker-new'") }
        #expect(states == 1)
    }
}
