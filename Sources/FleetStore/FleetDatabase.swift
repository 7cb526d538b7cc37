import FleetModel
import GRDB
// The SQLite history (GRDB over the system libsqlite3).
