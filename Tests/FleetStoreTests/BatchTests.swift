import Foundation
import FleetModel
import FleetTestSupport
import GRDB
import Testing
@testable import FleetStore

/// Several nodes per transaction (`recordNodes`, `NodeRecorder`) and the hand-written JSON of
/// the maps' reasons/evidence columns.
@Suite struct BatchTests {
    @Test func recordNodesWritesEveryNodeLikeRecordNode() throws {
        let one = try Fresh(), many = try Fresh()
        let scans = [try Samples.residualScan(node: "worker-1"), Samples.healthyScan(node: "worker-2", at: Samples.t0),
                     Samples.unreachable(node: "worker-3", at: Samples.t0)]
        let r1 = try one.db.beginRun(kind: .scan, inventory: nil, options: ["forks": "1"], version: "0", startedAt: Samples.t0)
        let r2 = try many.db.beginRun(kind: .scan, inventory: nil, options: ["forks": "1"], version: "0", startedAt: Samples.t0)
        for s in scans { try one.db.recordNode(run: r1, s) }
        let ids = try many.db.recordNodes(run: r2, scans)
        #expect(ids.count == 3)
        #expect(try many.strings("SELECT node FROM node_runs ORDER BY id") == ["worker-1", "worker-2", "worker-3"])
        for table in ["node_runs", "maps", "paths", "raw_outputs", "node_latest"] {
            #expect(try one.int("SELECT COUNT(*) FROM \(table)") == many.int("SELECT COUNT(*) FROM \(table)"), "\(table)")
        }
        let cols = "node, position, wwid, name, dm, verdict, all_failed, reasons, evidence"
        #expect(try one.strings("SELECT \(cols) FROM maps ORDER BY id") == many.strings("SELECT \(cols) FROM maps ORDER BY id"))
        #expect(try many.db.nodeScans(run: r2) == one.db.nodeScans(run: r1))
    }

    /// All or none: a batch with a node that cannot be written (same node twice in a run
    /// violates UNIQUE (run_id, node)) leaves nothing of the batch.
    @Test func recordNodesIsAtomic() throws {
        let f = try Fresh()
        let run = try f.db.beginRun(kind: .scan, inventory: nil, options: ["forks": "1"], version: "0", startedAt: Samples.t0)
        #expect(throws: (any Error).self) {
            try f.db.recordNodes(run: run, [try Samples.residualScan(node: "a"), Samples.healthyScan(node: "b", at: Samples.t0),
                                            Samples.healthyScan(node: "a", at: Samples.t0)])
        }
        #expect(try f.int("SELECT COUNT(*) FROM node_runs") == 0)
        #expect(try f.int("SELECT COUNT(*) FROM maps") == 0)
        #expect(try f.int("SELECT COUNT(*) FROM raw_outputs") == 0)
    }

    /// Every `record` returns only after its node is in the database (read from another
    /// connection right after it returns), whatever batch it went in.
    @Test func recorderCommitsEachNodeBeforeReturning() async throws {
        let f = try Fresh()
        let run = try f.db.beginRun(kind: .scan, inventory: nil, options: ["forks": "1"], version: "0", startedAt: Samples.t0)
        let recorder = NodeRecorder(db: f.db, run: run, maxBatch: 7, linger: .milliseconds(20))
        let reader = try DatabaseQueue(path: f.db.path)
        try await withThrowingTaskGroup(of: Void.self) { group in
            for i in 0..<50 {
                group.addTask {
                    let name = String(format: "node-%02d", i)
                    let scan = i % 5 == 0 ? try Samples.residualScan(node: name) : Samples.healthyScan(node: name, at: Samples.t0)
                    try await recorder.record(scan)
                    let stored = try await reader.read { try Int.fetchOne($0, sql: "SELECT COUNT(*) FROM node_runs WHERE node = ?", arguments: [name]) }
                    #expect(stored == 1, "\(name) returned before it was committed")
                }
            }
            try await group.waitForAll()
        }
        #expect(try f.int("SELECT COUNT(*) FROM node_runs") == 50)
        #expect(try f.int("SELECT COUNT(*) FROM maps WHERE all_failed = 1") == 10)  // mpatha of each residual sample
    }

    /// A node that cannot be written fails alone; the others of its batch are stored.
    @Test func recorderFailsABadNodeAlone() async throws {
        let f = try Fresh()
        let run = try f.db.beginRun(kind: .scan, inventory: nil, options: ["forks": "1"], version: "0", startedAt: Samples.t0)
        try f.db.recordNode(run: run, Samples.healthyScan(node: "dup", at: Samples.t0))
        // maxBatch 3 and a long linger: the three records below go in one batch.
        let recorder = NodeRecorder(db: f.db, run: run, maxBatch: 3, linger: .seconds(60))
        let results = await withTaskGroup(of: (String, Bool).self) { group in
            for name in ["x", "dup", "y"] {
                group.addTask {
                    do { try await recorder.record(Samples.healthyScan(node: name, at: Samples.t0)); return (name, true) } catch { return (name, false) }
                }
            }
            var out: [String: Bool] = [:]
            for await (n, ok) in group { out[n] = ok }
            return out
        }
        #expect(results == ["x": true, "dup": false, "y": true])
        #expect(try f.strings("SELECT node FROM node_runs ORDER BY node") == ["dup", "x", "y"])
    }

    /// A backlog (the writer busy while more nodes finish) is written `maxBatch` nodes per
    /// transaction, not all in one: each batch's callers are released, and their outputs freed,
    /// as soon as it commits. The writer is held by another connection's transaction until
    /// all eight nodes wait, so the first flush cannot start before the backlog exists.
    @Test func recorderWritesABacklogAtMostMaxBatchPerTransaction() async throws {
        let f = try Fresh()
        let run = try f.db.beginRun(kind: .scan, inventory: nil, options: ["forks": "1"], version: "0", startedAt: Samples.t0)
        let commits = NodeRunsPerCommit()
        f.db.pool.add(transactionObserver: commits, extent: .databaseLifetime)
        var unsafe = Configuration()
        unsafe.allowsUnsafeTransactions = true  // the blocker's transaction spans two accesses
        let blocker = try DatabaseQueue(path: f.db.path, configuration: unsafe)
        try await blocker.writeWithoutTransaction { try $0.execute(sql: "BEGIN IMMEDIATE") }
        // A long linger: only a full batch (3) starts a flush.
        let recorder = NodeRecorder(db: f.db, run: run, maxBatch: 3, linger: .seconds(60))
        let names = (0..<8).map { "node-\($0)" }
        try await withThrowingTaskGroup(of: Void.self) { group in
            for name in names {
                group.addTask { try await recorder.record(Samples.healthyScan(node: name, at: Samples.t0)) }
            }
            // Test infrastructure, not an assertion on time: wait (up to a minute) for all
            // eight to be handed over while the writer is held.
            for _ in 0..<6000 where recorder.waiting < names.count { try await Task.sleep(for: .milliseconds(10)) }
            #expect(recorder.waiting == names.count)
            try await blocker.writeWithoutTransaction { try $0.execute(sql: "COMMIT") }
            try await group.waitForAll()
        }
        #expect(recorder.waiting == 0)
        #expect(try f.strings("SELECT node FROM node_runs ORDER BY node") == names)
        #expect(commits.sizes.reduce(0, +) == names.count)
        #expect(commits.sizes.allSatisfy { $0 <= 3 }, "node runs per commit: \(commits.sizes)")
    }

    // MARK: - maps.reasons / maps.evidence text

    static func encoderText(_ v: some Encodable) throws -> String {
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys]
        return String(decoding: try e.encode(v), as: UTF8.self)
    }

    @Test func evidenceTextIsJSONEncodersOnSamplesAndRealClassification() throws {
        var evidences = Samples.residualMaps().map(\.evidence)
        let snap = NodeSnapshot(outputs: try Fixtures.realOutputs("residual"))
        evidences += Classifier.classify(snap).map(\.evidence)
        evidences.append(MapEvidence())
        evidences.append(MapEvidence(queueing: "39 sec", openCount: 3, holders: ["dm-7"], slaves: ["sda", "sdb"],
                                     mountpoints: ["/var/lib/kubelet/pods/x/volumes/kubernetes.io~csi/pvc-1/mount"],
                                     sysfsStates: ["sdb": "transport-offline", "sda": "running", "sdaa": "running"],
                                     probe: ProbeResult(outcome: .hung, detail: "Killed \"dd\" \\ /", stuckPID: 4194305, stuckAfterKill: true)))
        evidences.append(MapEvidence(probe: ProbeResult(outcome: .ioError)))
        evidences.append(MapEvidence(probe: ProbeResult(outcome: .readOK, stuckAfterKill: false)))
        for e in evidences {
            #expect(StoredJSON.handEncoded(e) != nil)
            #expect(try StoredJSON.evidence(e) == Self.encoderText(e))
        }
        #expect(try StoredJSON.reasons(["all 2 paths failed: sda failed faulty running", "probe: Input/output error"])
                == Self.encoderText(["all 2 paths failed: sda failed faulty running", "probe: Input/output error"]))
        #expect(try StoredJSON.reasons([]) == "[]")
    }

    /// Every real capture's findings: the stored text is JSONEncoder's. hung-openers read
    /// /proc (as every full discovery does): its maps' openers (stuck dd readers, multipathd's
    /// checker on the path disks: fds, flags, command lines with slashes) are written by hand.
    @Test func evidenceTextIsJSONEncodersOnEveryRealCapture() throws {
        var openersByHand = 0
        for state in try Fixtures.realStates() {
            for f in Classifier.classify(NodeSnapshot(outputs: try Fixtures.realOutputs(state))) {
                #expect(try StoredJSON.evidence(f.evidence) == Self.encoderText(f.evidence), "\(state) \(f.map.name ?? "?")")
                #expect(try StoredJSON.reasons(f.reasons) == Self.encoderText(f.reasons), "\(state) \(f.map.name ?? "?")")
                if let o = f.evidence.openers, !o.isEmpty, StoredJSON.handEncoded(f.evidence) != nil { openersByHand += 1 }
            }
        }
        #expect(openersByHand > 0)
    }

    /// Random evidence with awkward text (quotes, slashes, control characters, non-ASCII,
    /// DEL, upper-case and digit keys): always JSONEncoder's exact text, by hand or by fallback;
    /// read back by StoredJSONReader (where it answers), what JSONDecoder decodes from it.
    @Test func randomEvidenceTextIsJSONEncoders() throws {
        var rng = SplitMix64(state: 0xE71D)
        let plain = ["a", "sd", "dm-", "/", "\"", "\\", " ", "~", ":", "{", "}", "Z", "9"]
        let odd = ["\n", "\t", "\u{7F}", "é", "€", "\u{1}"]
        func text() -> String {
            (0..<Int.random(in: 0...6, using: &rng)).map { _ in
                Int.random(in: 0..<20, using: &rng) == 0 ? odd.randomElement(using: &rng)! : plain.randomElement(using: &rng)!
            }.joined()
        }
        func key() -> String { Bool.random(using: &rng) ? ["sda", "sdb", "sdz", "sdaa"].randomElement(using: &rng)! : text() }
        var byHand = 0, readBack = 0
        for _ in 0..<3_000 {
            var states: [String: String] = [:]
            for _ in 0..<Int.random(in: 0...3, using: &rng) { states[key()] = text() }
            let probe: ProbeResult? = Bool.random(using: &rng) ? nil : ProbeResult(
                outcome: ProbeOutcome.allCases.randomElement(using: &rng)!, detail: Bool.random(using: &rng) ? text() : nil,
                stuckPID: Bool.random(using: &rng) ? Int32.random(in: -5...Int32.max, using: &rng) : nil,
                stuckAfterKill: [nil, true, false].randomElement(using: &rng)!)
            let e = MapEvidence(queueing: Bool.random(using: &rng) ? text() : nil,
                                openCount: Bool.random(using: &rng) ? Int.random(in: -3...Int.max, using: &rng) : nil,
                                holders: (0..<Int.random(in: 0...2, using: &rng)).map { _ in text() },
                                slaves: (0..<Int.random(in: 0...2, using: &rng)).map { _ in text() },
                                mountpoints: (0..<Int.random(in: 0...2, using: &rng)).map { _ in text() },
                                sysfsStates: states.mapValues(DeviceState.init(rawValue:)), probe: probe,
                                openers: Bool.random(using: &rng) ? nil : (0..<Int.random(in: 0...2, using: &rng)).map { _ in
                                    MapOpener(opener: Opener(pid: Int32.random(in: 1...99_999, using: &rng),
                                                             comm: Bool.random(using: &rng) ? text() : nil,
                                                             state: Bool.random(using: &rng) ? "D" : nil,
                                                             wchan: Bool.random(using: &rng) ? text() : nil,
                                                             cmdline: Bool.random(using: &rng) ? [text(), text()] : nil,
                                                             fds: [OpenFD(fd: 3, target: "/dev/" + text(),
                                                                          flags: Bool.random(using: &rng) ? 0o100000 : nil)],
                                                             probeNonce: Bool.random(using: &rng) ? text() : nil),
                                              role: MapOpener.Role.allCases.randomElement(using: &rng)!,
                                              note: Bool.random(using: &rng) ? text() : nil)
                                })
            if StoredJSON.handEncoded(e) != nil { byHand += 1 }
            #expect(try StoredJSON.evidence(e) == Self.encoderText(e))
            let reasons = (0..<Int.random(in: 0...3, using: &rng)).map { _ in text() }
            #expect(try StoredJSON.reasons(reasons) == Self.encoderText(reasons))
            let stored = try StoredJSON.evidence(e), storedReasons = try StoredJSON.reasons(reasons)
            if let read = StoredJSONReader.evidence(stored) {
                #expect(read == StoredJSONReaderTests.decoded(MapEvidence.self, stored), "\(stored)")
                readBack += 1
            }
            if let read = StoredJSONReader.strings(storedReasons) { #expect(read == reasons, "\(storedReasons)") }
        }
        #expect(byHand > 300)  // the hand path was exercised, not only the fallback
        #expect(byHand < 2_900)  // and so was the fallback
        #expect(readBack > 100)  // the reader answered for many (non-ASCII, booleans, big numbers: JSONDecoder)
    }
}

/// How many node_runs rows each committed transaction inserted.
final class NodeRunsPerCommit: TransactionObserver, @unchecked Sendable {
    // @unchecked: GRDB calls the observer on the writer's queue only; the test reads `sizes`
    // after every write has returned.
    private var current = 0
    private(set) var sizes: [Int] = []
    func observes(eventsOfKind eventKind: DatabaseEventKind) -> Bool {
        if case .insert(let table) = eventKind { return table == "node_runs" }
        return false
    }
    func databaseDidChange(with event: DatabaseEvent) { current += 1 }
    func databaseDidCommit(_ db: Database) {
        if current > 0 { sizes.append(current) }
        current = 0
    }
    func databaseDidRollback(_ db: Database) { current = 0 }
}
