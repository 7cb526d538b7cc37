import Foundation
import FleetModel
import FleetStore

/// Where the cleaner writes every action before it runs and its outcome after. The
/// cleaner never sends a command whose audit row could not be written.
public protocol CleanAudit: Sendable {
    func planned(node: String, cleanup: MapCleanup, command: NodeCommand) throws -> Int64
    func started(_ id: Int64) throws
    func finished(_ id: Int64, outcome: ActionOutcome, exitCode: Int32?, stdout: String?, stderr: String?,
                  duration: Duration?, reason: String?) throws
    /// The check after a map's steps all succeeded: verified gone, or not (and why).
    func verified(node: String, cleanup: MapCleanup, ok: Bool, reason: String) throws
}

/// The audit in the SQLite history (`actions` table) for one clean run.
public struct DatabaseCleanAudit: CleanAudit {
    public let database: FleetDatabase
    public let run: Int64

    public init(database: FleetDatabase, run: Int64) {
        self.database = database; self.run = run
    }

    public func planned(node: String, cleanup: MapCleanup, command: NodeCommand) throws -> Int64 {
        try database.recordPlannedAction(run: run, node: node, wwid: cleanup.wwid.rawValue,
                                         mapName: cleanup.name.rawValue, dm: cleanup.dm.rawValue, command: command)
    }

    public func started(_ id: Int64) throws {
        try database.recordActionStarted(id: id)
    }

    public func finished(_ id: Int64, outcome: ActionOutcome, exitCode: Int32?, stdout: String?, stderr: String?,
                         duration: Duration?, reason: String?) throws {
        try database.recordActionOutcome(id: id, outcome: outcome, exitCode: exitCode, stdout: stdout, stderr: stderr,
                                         duration: duration, reason: reason)
    }

    public func verified(node: String, cleanup: MapCleanup, ok: Bool, reason: String) throws {
        try database.recordVerification(run: run, node: node, wwid: cleanup.wwid.rawValue, mapName: cleanup.name.rawValue,
                                        dm: cleanup.dm.rawValue, verified: ok, reason: reason)
    }
}
