import Foundation
import GRDB
import Testing
import FleetMigrations
import FleetModel
@testable import FleetStore

@Suite struct MigrationTests {
    @Test func freshDatabaseHasTheSchemaAndWAL() throws {
        let dir = try TempDir()
        let db = try FleetDatabase(path: dir.path + "/sub/dir/history.sqlite")
        let tables = try db.pool.read { try String.fetchAll($0, sql: "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name") }
        for t in ["actions", "maps", "node_runs", "paths", "runs", "node_states", "outputs", "output_sets", "contents", "device_reads"] {
            #expect(tables.contains(t), "\(t)")
        }
        let views = try db.pool.read { try String.fetchAll($0, sql: "SELECT name FROM sqlite_master WHERE type = 'view' ORDER BY name") }
        #expect(views == ["map_observations", "raw_outputs"])
        let mode = try db.pool.read { try String.fetchOne($0, sql: "PRAGMA journal_mode") }
        #expect(mode == "wal")
        let fk = try db.pool.read { try Int.fetchOne($0, sql: "PRAGMA foreign_keys") }
        #expect(fk == 1)
    }

    /// v0003 rebuilds node_runs for two new statuses: a history written by v0001 keeps every
    /// row, id and reference (maps, node_latest), the trigger still keeps node_latest, and the
    /// new statuses can be recorded.
    @Test func v0003KeepsAnOlderHistoryAndAcceptsTheNewStatuses() throws {
        let dir2 = try TempDir()
        let path2 = dir2.path + "/old.sqlite"
        var ids: [Int64] = []
        do {
            let pool = try DatabasePool(path: path2)
            var old = DatabaseMigrator()
            let first = FleetMigrations.all[0]
            #expect(first.id == "v0001_initial")
            old.registerMigration(first.id) { db in try db.execute(sql: first.sql) }
            try old.migrate(pool)
            try pool.write { db in
                try db.execute(sql: "INSERT INTO runs (kind, started_at, status, options, fleet_version) VALUES ('scan', '2026-12-01T00:00:00.000Z', 'running', '{}', 'old')")
                let run = db.lastInsertedRowID
                for (i, status) in ["ok", "connect-timeout"].enumerated() {
                    try db.execute(sql: "INSERT INTO node_runs (run_id, node, address, status, started_at, duration_ms) VALUES (?, ?, '10.0.0.1', ?, '2026-12-01T00:00:0\(i).000Z', 5)",
                                   arguments: [run, "worker-\(i)", status])
                    ids.append(db.lastInsertedRowID)
                }
            }
        }
        let db = try FleetDatabase(path: path2)
        let rows = try db.pool.read { try Row.fetchAll($0, sql: "SELECT id, node, status FROM node_runs ORDER BY id") }
        #expect(rows.map { $0["id"] as Int64 } == ids)
        #expect(rows.map { $0["status"] as String } == ["ok", "connect-timeout"])
        let latest = try db.pool.read { try Int64.fetchAll($0, sql: "SELECT node_run_id FROM node_latest") }
        #expect(latest == [ids[0]])
        let fk = try db.pool.read { try Row.fetchAll($0, sql: "PRAGMA foreign_key_check") }
        #expect(fk.isEmpty)
        let triggers = try db.pool.read { try String.fetchAll($0, sql: "SELECT name FROM sqlite_master WHERE type = 'trigger'") }
        #expect(triggers.contains("node_runs_latest"))
        let run = try db.beginRun(kind: .scan, inventory: nil, options: ["t": "v0003"], version: "test")
        for status in [NodeStatus.keepaliveTimeout, .noExitStatus] {
            _ = try db.recordNode(run: run, NodeScan(node: "n-\(status.rawValue)", address: "10.0.0.2", status: status,
                                                     error: "why", startedAt: Date(), duration: .milliseconds(1)))
        }
        let back = try db.nodeScans(run: run).map(\.status)
        #expect(Set(back) == [.keepaliveTimeout, .noExitStatus])
    }
}
