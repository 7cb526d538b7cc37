import Foundation
import FleetModel
import FleetTestSupport
import GRDB
import Testing
@testable import FleetStore

/// A fresh database in its own folder per test.
struct Fresh {
    let dir: TempDir
    let db: FleetDatabase
    init() throws {
        dir = try TempDir()
        db = try FleetDatabase(path: dir.path + "/history.sqlite")
    }
    func ints(_ sql: String, _ args: StatementArguments = []) throws -> [Int] {
        try db.pool.read { try Int.fetchAll($0, sql: sql, arguments: args) }
    }
    func int(_ sql: String, _ args: StatementArguments = []) throws -> Int { try ints(sql, args).first ?? -1 }
    func strings(_ sql: String, _ args: StatementArguments = []) throws -> [String?] {
        try db.pool.read { try Optional<String>.fetchAll($0, sql: sql, arguments: args) }
    }
}

@Suite struct RecordTests {
    @Test func recordNodeWritesEveryTableAndReadsBack() throws {
        let f = try Fresh()
        let run = try f.db.beginRun(kind: .scan, inventory: "nodes.yaml", options: ["forks": "64"], version: "0.1.0", startedAt: Samples.t0)
        let scan = try Samples.residualScan()
        try f.db.recordNode(run: run, scan)

        #expect(try f.strings("SELECT status FROM node_runs WHERE run_id = ?", [run]) == ["ok"])
        #expect(try f.int("SELECT duration_ms FROM node_runs") == 1234)
        // residual/multipath-ll.txt: 4 maps of 2 paths each; only mpatha has every path failed.
        #expect(try f.int("SELECT COUNT(*) FROM maps") == 4)
        #expect(try f.int("SELECT COUNT(*) FROM paths") == 8)
        #expect(try f.strings("SELECT name FROM maps WHERE all_failed = 1") == ["mpatha"])
        #expect(try f.strings("SELECT verdict FROM maps WHERE wwid = '36001405ae3a4a2b307ccf2a518e52df9'") == ["residual"])
        #expect(try f.strings("SELECT dev FROM paths JOIN maps ON maps.id = paths.map_id WHERE maps.name = 'mpatha' ORDER BY paths.position") == ["sdg", "sdh"])
        #expect(try f.strings("SELECT sysfs_state FROM paths WHERE dev = 'sdg'") == ["running"])
        #expect(try f.strings("SELECT json_extract(evidence, '$.probe.outcome') FROM maps WHERE name = 'mpatha'") == ["io-error"])
        #expect(try f.strings("SELECT json_extract(reasons, '$[1]') FROM maps WHERE name = 'mpatha'") == ["probe: Input/output error"])
        #expect(try f.strings("SELECT options FROM runs") == ["{\"forks\":\"64\"}"])
        // Raw outputs come back byte-exact (trailing spaces of the real capture included).
        let ll = try Fixtures.real("residual", "multipath-ll.txt")
        #expect(try f.strings("SELECT stdout FROM raw_outputs WHERE capture_name = 'multipath-ll'") == [ll])
        #expect(try f.strings("SELECT command FROM raw_outputs WHERE capture_name = 'dd-dm-0'")
                == ["timeout -s KILL 15 dd if=/dev/dm-0 of=/dev/null count=1 bs=1M iflag=direct"])
        #expect(try f.ints("SELECT exit_code FROM raw_outputs ORDER BY position") == [0, 1])

        let back = try f.db.nodeScans(run: run)
        #expect(back.count == 1)
        let b = try #require(back.first)
        #expect(b.findings == scan.findings)
        #expect(b.warnings == scan.warnings)
        #expect(b.startedAt == scan.startedAt)
        #expect(b.duration == scan.duration)
        #expect(b.status == .ok && b.address == "10.0.0.1" && b.node == "worker-1")
        #expect(b.outputs.map(\.command.captureName) == ["multipath-ll", "dd-dm-0"])
        #expect(b.outputs.map(\.stdout) == scan.outputs.map(\.stdout))
        #expect(b.outputs.map(\.stderr) == scan.outputs.map(\.stderr))
    }

    @Test func failedNodeIsOneRowWithItsError() throws {
        let f = try Fresh()
        let run = try f.db.beginRun(kind: .scan, inventory: nil, options: [String: String](), version: "t")
        try f.db.recordNode(run: run, Samples.unreachable(node: "worker-9", at: Samples.t0))
        #expect(try f.strings("SELECT status FROM node_runs") == ["connect-timeout"])
        #expect(try f.strings("SELECT error FROM node_runs") == ["worker-9: connect timed out after 10s"])
        #expect(try f.int("SELECT COUNT(*) FROM maps") == 0)
    }

    @Test func recordNodeIsAtomic() throws {
        let f = try Fresh()
        let run = try f.db.beginRun(kind: .scan, inventory: nil, options: [String: String](), version: "t")
        try f.db.recordNode(run: run, try Samples.residualScan(node: "worker-1"))
        // Make the LAST insert of a node (its node_run) fail, after its state, maps, paths and
        // outputs were written in the same transaction.
        try f.db.pool.write { db in
            try db.execute(sql: """
                CREATE TEMP TRIGGER boom BEFORE INSERT ON node_runs WHEN NEW.node = 'worker-2'
                BEGIN SELECT RAISE(ABORT, 'forced failure'); END
                """)
        }
        // TEMP triggers live on one connection; the pool has one writer connection, so it applies.
        #expect(throws: (any Error).self) { try f.db.recordNode(run: run, try Samples.residualScan(node: "worker-2")) }
        #expect(try f.strings("SELECT node FROM node_runs") == ["worker-1"])
        #expect(try f.int("SELECT COUNT(*) FROM maps WHERE node = 'worker-2'") == 0)
        #expect(try f.int("SELECT COUNT(*) FROM node_states") == 1)
        #expect(try f.int("SELECT COUNT(*) FROM maps") == 4)
        #expect(try f.int("SELECT COUNT(*) FROM paths") == 8)
        #expect(try f.int("SELECT COUNT(*) FROM raw_outputs") == 2)
        // The store still works after the failed transaction.
        try f.db.recordNode(run: run, try Samples.residualScan(node: "worker-3"))
        #expect(try f.strings("SELECT node FROM node_runs ORDER BY node") == ["worker-1", "worker-3"])
    }

    @Test func duplicateNodeInOneRunIsRejected() throws {
        let f = try Fresh()
        let run = try f.db.beginRun(kind: .scan, inventory: nil, options: [String: String](), version: "t")
        try f.db.recordNode(run: run, try Samples.residualScan())
        #expect(throws: (any Error).self) { try f.db.recordNode(run: run, try Samples.residualScan()) }
        #expect(try f.int("SELECT COUNT(*) FROM maps") == 4)
    }

    @Test func finishRunSetsStatusAndEnd() throws {
        let f = try Fresh()
        let run = try f.db.beginRun(kind: .sweep, inventory: nil, options: [String: String](), version: "t", startedAt: Samples.t0)
        #expect(try f.strings("SELECT status FROM runs") == ["running"])
        #expect(try f.strings("SELECT ended_at FROM runs") == [nil])
        try f.db.finishRun(run, status: .partial, exitCode: 2, endedAt: Samples.t0.addingTimeInterval(61))
        #expect(try f.strings("SELECT status FROM runs") == ["partial"])
        #expect(try f.strings("SELECT ended_at FROM runs") == ["2026-11-18T11:07:41.250Z"])
        #expect(try f.ints("SELECT exit_code FROM runs") == [2])
        #expect(throws: (any Error).self) { try f.db.finishRun(run + 1, status: .ok, exitCode: 0) }
    }

    @Test func allFailedObservationsAreTheTimesEveryPathFailed() throws {
        let f = try Fresh()
        let run = try f.db.beginRun(kind: .sweep, inventory: nil, options: [String: String](), version: "t")
        let day: TimeInterval = 86_400
        try f.db.recordNode(run: run, Samples.healthyScan(at: Samples.t0))
        let run2 = try f.db.beginRun(kind: .sweep, inventory: nil, options: [String: String](), version: "t")
        try f.db.recordNode(run: run2, try Samples.residualScan(at: Samples.t0.addingTimeInterval(day)))
        try f.db.recordNode(run: run2, try Samples.residualScan(node: "worker-2", at: Samples.t0.addingTimeInterval(day)))
        let run3 = try f.db.beginRun(kind: .sweep, inventory: nil, options: [String: String](), version: "t")
        // Still all-failed but the classifier said in-use: it is an observation all the same.
        try f.db.recordNode(run: run3, try Samples.residualScan(at: Samples.t0.addingTimeInterval(2 * day), mpathaVerdict: .inUse))
        let wwid = "36001405ae3a4a2b307ccf2a518e52df9"
        #expect(try f.db.allFailedObservations(node: "worker-1", wwid: wwid, since: nil)
                == [Samples.t0.addingTimeInterval(day), Samples.t0.addingTimeInterval(2 * day)])
        #expect(try f.db.allFailedObservations(node: "worker-1", wwid: wwid, since: Samples.t0.addingTimeInterval(1.5 * day))
                == [Samples.t0.addingTimeInterval(2 * day)])
        #expect(try f.db.allFailedObservations(node: "worker-1", wwid: "36001405066467663edf050e13a29b6dd", since: nil) == [])
        #expect(try f.db.allFailedObservations(node: "worker-3", wwid: wwid, since: nil) == [])
    }

    @Test func latestScanIsTheNewestThatReachedTheNode() throws {
        let f = try Fresh()
        let r1 = try f.db.beginRun(kind: .scan, inventory: nil, options: [String: String](), version: "t")
        try f.db.recordNode(run: r1, try Samples.residualScan(at: Samples.t0))
        let r2 = try f.db.beginRun(kind: .scan, inventory: nil, options: [String: String](), version: "t")
        try f.db.recordNode(run: r2, Samples.unreachable(node: "worker-1", at: Samples.t0.addingTimeInterval(3600)))
        let latest = try #require(try f.db.latestScan(node: "worker-1"))
        #expect(latest.startedAt == Samples.t0)
        #expect(latest.findings.first?.verdict == .residual)
        #expect(try f.db.latestScanRun(node: "worker-1") == r1)
        #expect(try f.db.latestScan(node: "nobody") == nil)
    }

    @Test func actionLifecycleAndUnfinished() throws {
        let f = try Fresh()
        let run = try f.db.beginRun(kind: .clean, inventory: nil, options: [String: String](), version: "t")
        let flush = try f.db.recordPlannedAction(run: run, node: "worker-1", wwid: "36001405ae3a4a2b307ccf2a518e52df9",
                                                 mapName: "mpatha", dm: "dm-0", command: .flushMap(MapName("mpatha")!))
        let del = try f.db.recordPlannedAction(run: run, node: "worker-1", wwid: "36001405ae3a4a2b307ccf2a518e52df9",
                                               mapName: "mpatha", dm: "dm-0", command: .deleteSCSIDevice(BlockDeviceName("sdg")!))
        #expect(try f.strings("SELECT command FROM actions ORDER BY id") == ["multipath -f mpatha", "echo 1 > /sys/block/sdg/device/delete"])
        #expect(try f.strings("SELECT kind FROM actions ORDER BY id") == ["flush-map", "delete-device"])
        // A read is not an action: the audit refuses it and writes nothing.
        #expect(throws: StoreError.self) {
            try f.db.recordPlannedAction(run: run, node: "worker-1", wwid: "36001405ae3a4a2b307ccf2a518e52df9",
                                         mapName: "mpatha", dm: "dm-0", command: .multipathList)
        }
        #expect(try f.strings("SELECT kind FROM actions ORDER BY id") == ["flush-map", "delete-device"])
        #expect(try f.db.unfinishedActions(node: "worker-1").map(\.id) == [flush, del])

        try f.db.recordActionStarted(id: flush)
        #expect(throws: (any Error).self) { try f.db.recordActionStarted(id: flush) }
        #expect(try f.db.unfinishedActions(node: nil).map(\.outcome) == [.started, .planned])

        try f.db.recordActionOutcome(id: flush, outcome: .ok, exitCode: 0, stdout: "", stderr: "", duration: .milliseconds(250), reason: nil)
        try f.db.recordActionOutcome(id: del, outcome: .skipped, exitCode: nil, stdout: nil, stderr: nil, duration: nil,
                                     reason: "flush failed on another map")
        #expect(try f.db.unfinishedActions(node: "worker-1").isEmpty)
        #expect(try f.strings("SELECT outcome FROM actions ORDER BY id") == ["ok", "skipped"])
        #expect(try f.ints("SELECT duration_ms FROM actions WHERE id = ?", [flush]) == [250])
        #expect(try f.strings("SELECT reason FROM actions WHERE id = ?", [del]) == ["flush failed on another map"])
        #expect(throws: (any Error).self) {
            try f.db.recordActionOutcome(id: del, outcome: .started, exitCode: nil, stdout: nil, stderr: nil, duration: nil, reason: nil)
        }
        #expect(try f.db.unfinishedActions(node: "worker-2").isEmpty)
    }

    /// `--full-after` reads the time of the full discovery a carried state comes from: a
    /// phase-1 node run carries that time forward, it never renews it; a later full
    /// discovery does. Through the real store, with the times the test writes.
    @Test func previousStateCarriesTheTimeOfItsFullDiscovery() throws {
        let f = try Fresh()
        let hour: TimeInterval = 3600
        func scan(_ kind: RunKind, at: Date, _ node: NodeScan) throws {
            let run = try f.db.beginRun(kind: kind, inventory: "n.yaml", options: [String: String](), version: "t", startedAt: at)
            try f.db.recordNode(run: run, node)
        }
        func phase1(at: Date) throws -> NodeScan {
            let prev = try #require(try f.db.previousState(node: "worker-1"))
            var s = NodeScan(node: "worker-1", address: "10.0.0.1", status: .ok, startedAt: at, duration: .milliseconds(40),
                             findings: prev.findings)
            s.phase = .phase1; s.carried = prev.rows
            return s
        }
        let t0 = Samples.t0
        // What phase 1 compares with: the real `healthy` capture's phase-1 reads.
        var first = Samples.healthyScan(at: t0)
        first.outputs = try Fixtures.realOutputs("healthy").filter { PhaseOne.reads($0.command) }
        try scan(.scan, at: t0, first)
        #expect(try f.db.previousState(node: "worker-1")?.fullDiscoveryAt == t0)
        try scan(.sweep, at: t0 + hour, try phase1(at: t0 + hour))
        try scan(.sweep, at: t0 + 2 * hour, try phase1(at: t0 + 2 * hour))
        // A node unreachable since counts for nothing.
        try scan(.sweep, at: t0 + 3 * hour, Samples.unreachable(node: "worker-1", at: t0 + 3 * hour))
        let carried = try #require(try f.db.previousState(node: "worker-1"))
        #expect(carried.fullDiscoveryAt == t0, "two phase-1 runs later, still the full discovery's time")
        #expect(try f.strings("SELECT phase FROM node_runs ORDER BY id") == ["full", "phase1", "phase1", "full"])
        // What phase 1 decides from it: carried 2 h on, the full discovery again 25 h on.
        #expect(PhaseOne.precheck(previous: carried, kubernetes: nil, now: t0 + 2 * hour, fullAfter: .seconds(86400)) == .carry)
        let late = PhaseOne.precheck(previous: carried, kubernetes: nil, now: t0 + 25 * hour, fullAfter: .seconds(86400))
        #expect(late == .full("the last full discovery was 1d1h ago, more than --full-after 1d"), "\(late)")

        let t1 = t0 + 26 * hour
        try scan(.sweep, at: t1, Samples.healthyScan(at: t1))
        #expect(try f.db.previousState(node: "worker-1")?.fullDiscoveryAt == t1)
    }

    /// A node whose last scan had a map that was not healthy gets the full discovery whatever
    /// phase 1 would say, so only those maps' verdicts are read back, not its maps (which it
    /// would hold, decoded, through that discovery) nor its phase-1 outputs; the phase note
    /// says what it said from the maps. `residual/multipath-ll.txt`: mpatha residual,
    /// mpathb/c/d healthy; here mpathc is also called in use.
    @Test func previousStateOfANodeWithMapsNotHealthyIsTheirVerdictsOnly() throws {
        let f = try Fresh()
        let run = try f.db.beginRun(kind: .scan, inventory: "n.yaml", options: [String: String](), version: "t", startedAt: Samples.t0)
        var residual = try Samples.residualScan()
        residual.findings[2].verdict = .inUse
        residual.outputs += try Fixtures.realOutputs("residual").filter { PhaseOne.reads($0.command) }
        try f.db.recordNode(run: run, residual)
        let prev = try #require(try f.db.previousState(node: "worker-1"))
        #expect(prev.notHealthy == [.residual, .inUse])
        #expect(prev.findings.isEmpty)
        #expect(prev.phase1Outputs.isEmpty)
        #expect(prev.fullDiscoveryAt == Samples.t0)
        #expect(PhaseOne.precheck(previous: prev, kubernetes: nil, now: Samples.t0, fullAfter: nil)
                == .full("the last scan found 2 maps not healthy (in-use, residual)"))

        // The same node with every map healthy: its four maps and its phase-1 reads.
        let later = Samples.t0 + 3600
        let run2 = try f.db.beginRun(kind: .scan, inventory: "n.yaml", options: [String: String](), version: "t", startedAt: later)
        var healthy = Samples.healthyScan(at: later)
        healthy.outputs = try Fixtures.realOutputs("healthy").filter { PhaseOne.reads($0.command) }
        try f.db.recordNode(run: run2, healthy)
        let again = try #require(try f.db.previousState(node: "worker-1"))
        #expect(again.notHealthy.isEmpty)
        #expect(again.findings.map(\.map.name) == ["mpatha", "mpathb", "mpathc", "mpathd"])
        #expect(again.phase1Outputs.count == healthy.outputs.count)
        #expect(PhaseOne.precheck(previous: again, kubernetes: nil, now: later, fullAfter: nil) == .carry)
    }
}
