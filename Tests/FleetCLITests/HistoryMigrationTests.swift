import Foundation
import FleetModel
import FleetTestSupport
import GRDB
import Testing
@testable import FleetCLI
@testable import FleetStore

/// Issue 17: the history stores what changed, and every `fleet history` query answers as
/// before. The expectations are what fleet printed before the change (fixtures/history-v0001,
/// made by the v0001 binary from a farm's scans and clean), not this code's output.
@Suite struct HistoryMigrationTests {
    let dir = NSTemporaryDirectory() + "fleet-history-migration-" + UUID().uuidString

    func render(_ db: FleetDatabase, _ args: [String]) throws -> String {
        let parsed = try Fleet.parseAsRoot(["history"] + args + ["--db", db.path])
        let command = try #require(parsed as? any HistoryRendering, "\(args)")
        return try command.render(db, now: Date())
    }

    func migratedCopy() throws -> FleetDatabase {
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let path = dir + "/v1.sqlite"
        try HistoryV0001.load(into: path)
        return try FleetDatabase(path: path)  // migrates
    }

    @Test func aVersion1DatabaseMigratedAnswersEveryQueryAsBefore() throws {
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let db = try migratedCopy()
        let golden = try HistoryV0001.goldenQueries()
        #expect(golden.count == 18)
        for (args, expected) in golden {
            #expect(try render(db, args) == expected, "fleet history \(args.joined(separator: " "))")
        }
        #expect(try db.consistencyProblems() == [])
    }

    /// The same runs, node scans and actions written again through today's store (states and
    /// outputs shared where unchanged) answer the same too.
    @Test func theSameScansWrittenTheNewWayAnswerEveryQueryAsBefore() throws {
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let old = try migratedCopy()
        let fresh = try FleetDatabase(path: dir + "/v2.sqlite")
        try fresh.pool.writeWithoutTransaction { db in
            try db.execute(sql: "ATTACH DATABASE ? AS old", arguments: [old.path])
            try db.execute(sql: "INSERT INTO main.runs SELECT * FROM old.runs")
            try db.execute(sql: "DETACH DATABASE old")
        }
        // Node runs in their original order, so ids and node_latest come out the same.
        let order = try old.pool.read { try Row.fetchAll($0, sql: "SELECT run_id, node FROM node_runs ORDER BY id") }
        var scans: [Int64: [String: NodeScan]] = [:]
        for r in order {
            let run: Int64 = r["run_id"], node: String = r["node"]
            if scans[run] == nil {
                scans[run] = Dictionary(uniqueKeysWithValues: try old.nodeScans(run: run).map { ($0.node, $0) })
            }
            try fresh.recordNode(run: run, try #require(scans[run]?[node]))
        }
        try fresh.pool.writeWithoutTransaction { db in
            try db.execute(sql: "ATTACH DATABASE ? AS old", arguments: [old.path])
            try db.execute(sql: "INSERT INTO main.actions SELECT * FROM old.actions")
            try db.execute(sql: "DETACH DATABASE old")
        }
        // Scans 3, 4 and 5 saw most nodes unchanged: fewer states than node runs with maps.
        let counts = try fresh.pool.read { db in
            (try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM node_states") ?? 0,
             try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM node_runs WHERE state_id IS NOT NULL") ?? 0)
        }
        #expect(counts.0 < counts.1)
        for (args, expected) in try HistoryV0001.goldenQueries() {
            #expect(try render(fresh, args) == expected, "fleet history \(args.joined(separator: " "))")
        }
        for run in 1...5 {
            #expect(try fresh.nodeScans(run: Int64(run)) == old.nodeScans(run: Int64(run)), "run \(run)")
        }
    }
}
