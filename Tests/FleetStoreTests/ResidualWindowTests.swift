import Foundation
import FleetModel
import GRDB
import Testing
@testable import FleetStore

/// `residuals --since D` starts from the residual states scanned since D (v0007: each state's
/// `last_seen`, kept by triggers, and `residual` flag). The history: worker-1's mpatha
/// residual on days 0 and 1, healthy on days 2-4, residual again on day 5 (the same stored
/// state as days 0-1: it comes back); worker-2's residual on day 0 only; worker-3 unreachable
/// on day 3. Expectations are the days written here, and the version-1 shape of the same
/// history (`map_observations`: one row per map per scan, no state in between).
@Suite struct ResidualWindowTests {
    static func at(_ d: Int) -> Date { SmallHistory.at(d) }

    static func history() throws -> Fresh {
        let f = try Fresh()
        for d in 0..<6 {
            let run = try f.db.beginRun(kind: .sweep, inventory: "nodes.yaml", options: [String: String](), version: "t", startedAt: at(d))
            try f.db.recordNode(run: run, [0, 1, 5].contains(d) ? try Samples.residualScan(at: at(d)) : Samples.healthyScan(at: at(d)))
            try f.db.recordNode(run: run, d == 0 ? try Samples.residualScan(node: "worker-2", at: at(d))
                                                 : Samples.healthyScan(node: "worker-2", at: at(d)))
            try f.db.recordNode(run: run, d == 3 ? Samples.unreachable(node: "worker-3", at: at(d)) : Samples.healthyScan(node: "worker-3", at: at(d)))
            try f.db.finishRun(run, status: .ok, exitCode: 1, endedAt: at(d).addingTimeInterval(60))
        }
        return f
    }

    /// (node, first seen, last seen, scans) of each map residual since `since`, from the
    /// per-scan view.
    static func observed(_ f: Fresh, since: Date) throws -> [String] {
        try f.db.pool.read { db in
            try Row.fetchAll(db, sql: """
                SELECT node, wwid, MIN(seen_at) AS first, MAX(seen_at) AS last, COUNT(*) AS runs FROM map_observations
                WHERE verdict IN ('residual', 'residual-hung') AND seen_at >= ? GROUP BY node, wwid ORDER BY node, wwid
                """, arguments: [ISOTime.format(since)]).map { r in
                "\(r["node"] as String) \(r["wwid"] as String) \(r["first"] as String) \(r["last"] as String) \(r["runs"] as Int)"
            }
        }
    }

    static func answered(_ f: Fresh, since: Date) throws -> [String] {
        try f.db.residuals(since: since).map {
            "\($0.node) \($0.wwid) \(ISOTime.format($0.firstSeen)) \(ISOTime.format($0.lastSeen)) \($0.runs)"
        }
    }

    @Test func eachStateKnowsWhenItWasLastScannedAndWhetherItIsResidual() throws {
        let f = try Self.history()
        let rows = try f.db.pool.read { db in
            try Row.fetchAll(db, sql: "SELECT node, last_seen, residual FROM node_states ORDER BY node, residual")
        }
        let seen = rows.map { "\($0["node"] as String) \($0["residual"] as Int) \($0["last_seen"] as String)" }
        #expect(seen == ["worker-1 0 \(ISOTime.format(Self.at(4)))", "worker-1 1 \(ISOTime.format(Self.at(5)))",
                         "worker-2 0 \(ISOTime.format(Self.at(5)))", "worker-2 1 \(ISOTime.format(Self.at(0)))",
                         "worker-3 0 \(ISOTime.format(Self.at(5)))"], "\(seen)")
        #expect(try f.db.consistencyProblems() == [])
    }

    @Test func theWindowAnswersAsThePerScanViewForEveryBound() throws {
        let f = try Self.history()
        for d in 0...6 {
            let since = Self.at(d)
            #expect(try Self.answered(f, since: since) == Self.observed(f, since: since), "since day \(d)")
        }
        // Read from the days above: worker-2's state was last scanned on day 0.
        let w = try f.db.residuals(since: Self.at(1))
        #expect(w.map(\.node) == ["worker-1"])
        #expect(w.first?.firstSeen == Self.at(1) && w.first?.lastSeen == Self.at(5) && w.first?.runs == 2 && w.first?.residualNow == true)
        // Half a day after day 1's scan: only the state's comeback on day 5 is in the window.
        let late = try #require(try f.db.residuals(since: Self.at(1).addingTimeInterval(43_200)).first)
        #expect(late.firstSeen == Self.at(5) && late.runs == 1)
    }

    /// The bound is what the window walks: a state whose last_seen says it was not scanned
    /// since D is not looked at (here set back by hand, which fleet never does, and which the
    /// consistency check reports).
    @Test func aStateLastSeenBeforeTheBoundIsSkipped() throws {
        let f = try Self.history()
        try f.db.pool.write { db in
            try db.execute(sql: "UPDATE node_states SET last_seen = ? WHERE node = 'worker-1' AND residual = 1",
                           arguments: [ISOTime.format(Self.at(1))])
        }
        #expect(try f.db.residuals(since: Self.at(2)).isEmpty, "worker-1's day-5 scan is behind a last_seen of day 1")
        #expect(try f.db.residuals(since: Self.at(1)).first?.runs == 2, "a bound at or before last_seen still reads every scan")
        let problems = try f.db.consistencyProblems()
        #expect(problems.count == 1 && problems.first?.contains("before its scan at \(ISOTime.format(Self.at(5)))") == true, "\(problems)")
    }

    /// Pruning scans never makes a state look older than a scan of it that is left.
    @Test func pruneKeepsTheBoundsTrue() throws {
        let f = try Self.history()
        _ = try f.db.prune(olderThan: Self.at(2))
        #expect(try f.db.consistencyProblems() == [])
        for d in 0...6 {
            #expect(try Self.answered(f, since: Self.at(d)) == Self.observed(f, since: Self.at(d)), "since day \(d)")
        }
    }
}
