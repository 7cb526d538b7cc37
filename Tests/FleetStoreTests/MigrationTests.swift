import Foundation
import GRDB
import Testing
@testable import FleetStore

@Suite struct MigrationTests {
    @Test func freshDatabaseHasTheSchemaAndWAL() throws {
        let dir = try TempDir()
        let db = try FleetDatabase(path: dir.path + "/sub/dir/history.sqlite")
        let tables = try db.pool.read { try String.fetchAll($0, sql: "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name") }
        for t in ["actions", "maps", "node_runs", "paths", "runs", "node_states", "outputs", "output_sets", "contents"] {
            #expect(tables.contains(t), "\(t)")
        }
        let views = try db.pool.read { try String.fetchAll($0, sql: "SELECT name FROM sqlite_master WHERE type = 'view' ORDER BY name") }
        #expect(views == ["map_observations", "raw_outputs"])
        let mode = try db.pool.read { try String.fetchOne($0, sql: "PRAGMA journal_mode") }
        #expect(mode == "wal")
        let fk = try db.pool.read { try Int.fetchOne($0, sql: "PRAGMA foreign_keys") }
        #expect(fk == 1)
    }
}
