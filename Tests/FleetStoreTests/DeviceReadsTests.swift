import Foundation
import FleetModel
import FleetTestSupport
import GRDB
import Testing
@testable import FleetStore

/// Migration v0008: a node run's per-device reads (each disk's sysfs state and wwid, each
/// map's dm name/uuid and slaves/holders) are one `device_reads` row per distinct list, and
/// `raw_outputs`, `nodeScans` and phase 1's read of the last state give back every output
/// verbatim, in the order the node printed them.
@Suite struct DeviceReadsTests {
    /// fixtures/real/residual's discovery captures (sorted by name, as the test farm frames
    /// them): dmsetup, lsblk, the listings, multipath -ll, multipathd's JSON, and 4 maps' dm
    /// name/uuid and slaves/holders and 8 disks' states.
    static func residualOutputs(edit: (String, String) -> String = { _, s in s }) throws -> [CommandOutput] {
        try Fixtures.discoveryFrames("residual", edit: edit).map { f in
            CommandOutput(command: try #require(NodeCommand(captureName: f.name)), stdout: f.stdout, stderr: f.stderr, exitCode: f.exitCode)
        }
    }

    static func scan(node: String = "worker-1", at: Date = Samples.t0, mpatha: Verdict = .residual,
                     outputs: [CommandOutput]) throws -> NodeScan {
        var s = try Samples.residualScan(node: node, at: at, mpathaVerdict: mpatha)
        s.outputs = outputs
        return s
    }

    static func isDeviceRead(_ name: String) -> Bool { name.hasPrefix("sys-block-") }

    /// raw_outputs of one node run, in position order, as (capture, command, exit, stdout, stderr).
    static func raw(_ f: Fresh, run: Int64) throws -> [[String?]] {
        try f.db.pool.read { db in
            try Row.fetchAll(db, sql: """
                SELECT r.position, r.capture_name, r.command, r.exit_code, r.stdout, r.stderr FROM raw_outputs r
                JOIN node_runs n ON n.id = r.node_run_id WHERE n.run_id = ? ORDER BY r.position
                """, arguments: [run]).map { r -> [String?] in
                let position: Int64 = r[0], exit: Int64? = r[3]
                let capture: String? = r[1], command: String? = r[2], stdout: String? = r[4], stderr: String? = r[5]
                return [String(position), capture, command, exit.map { String($0) }, stdout, stderr]
            }
        }
    }

    static func expectedRaw(_ outputs: [CommandOutput]) -> [[String?]] {
        outputs.enumerated().map { i, o -> [String?] in
            [String(i), o.command.captureName, o.command.display, o.exitCode.map { String($0) }, o.stdout, o.stderr]
        }
    }

    @Test func perDeviceReadsAreOneRowAndReadBackVerbatim() throws {
        let f = try Fresh()
        let outputs = try Self.residualOutputs()
        let reads = outputs.filter { Self.isDeviceRead($0.command.captureName) }
        #expect(reads.count == 16 && outputs.count > reads.count)  // 4 maps x 2, 8 disks
        let run = try f.db.beginRun(kind: .scan, inventory: nil, options: [String: String](), version: "t")
        // mpatha healthy in this state: only a node whose every map was healthy has its
        // phase-1 outputs read back (previousState).
        try f.db.recordNode(run: run, try Self.scan(mpatha: .healthy, outputs: outputs))

        #expect(try f.int("SELECT COUNT(*) FROM device_reads") == 1)
        #expect(try f.int("SELECT json_array_length(outputs) FROM device_reads") == reads.count)
        #expect(try f.int("SELECT COUNT(*) FROM outputs") == outputs.count - reads.count)
        #expect(try f.int("SELECT COUNT(*) FROM outputs WHERE capture_name LIKE 'sys-block-%'") == 0)
        // Every output, position for position, as the node printed it.
        #expect(try Self.raw(f, run: run) == Self.expectedRaw(outputs))
        let back = try #require(try f.db.nodeScans(run: run).first)
        #expect(back.outputs == outputs)
        // Phase 1 compares its reads with these: multipathd's JSON and the disks' states.
        let previous = try #require(try f.db.previousState(node: "worker-1"))
        #expect(previous.phase1Outputs == outputs.filter { PhaseOne.reads($0.command) })
        #expect(previous.phase1Outputs.count == 9)
        #expect(try f.db.consistencyProblems() == [])
    }

    @Test func unchangedReadsAreStoredOnceAChangedReadIsANewRow() throws {
        let f = try Fresh()
        // Scan 2: multipath -ll's stderr differs (a new output set); scan 3: sdc went offline.
        let variants: [(String, String) -> String] = [
            { _, s in s },
            { name, s in name == "multipath-ll" ? s + "Dec 03 12:00:00 | sdx: prio changed\n" : s },
            { name, s in name == "sys-block-sdc-device-state" ? "offline\n" : s },
        ]
        var runs: [Int64] = []
        for (i, edit) in variants.enumerated() {
            let at = Samples.t0.addingTimeInterval(Double(i) * 3600)
            let run = try f.db.beginRun(kind: .scan, inventory: nil, options: [String: String](), version: "t", startedAt: at)
            try f.db.recordNode(run: run, try Self.scan(at: at, outputs: try Self.residualOutputs(edit: edit)))
            runs.append(run)
        }
        #expect(try f.int("SELECT COUNT(*) FROM output_sets") == 3)
        #expect(try f.int("SELECT COUNT(*) FROM device_reads") == 2)
        #expect(try f.ints("SELECT device_reads_id FROM output_sets ORDER BY id") == [1, 1, 2])
        for (i, run) in runs.enumerated() {
            #expect(try Self.raw(f, run: run) == Self.expectedRaw(try Self.residualOutputs(edit: variants[i])), "scan \(i + 1)")
        }
        // The same scan again points at the same set.
        let again = try f.db.beginRun(kind: .scan, inventory: nil, options: [String: String](), version: "t")
        try f.db.recordNode(run: again, try Self.scan(at: Samples.t0.addingTimeInterval(4 * 3600),
                                                         outputs: try Self.residualOutputs(edit: variants[2])))
        #expect(try f.int("SELECT COUNT(*) FROM output_sets") == 3)
        #expect(try f.int("SELECT COUNT(*) FROM device_reads") == 2)
    }

    /// Texts JSON carries only through escapes (control characters, quotes, backslashes,
    /// non-ASCII) come back byte for byte.
    @Test func anyTextComesBackVerbatim() throws {
        let f = try Fresh()
        let odd = "mpath\"a\\b\u{1B}[0m\tcafé ☃ \u{7F}\r\n"
        let outputs = try Self.residualOutputs { name, s in name == "sys-block-dm-0-dm-name-uuid" ? odd : s }
        let run = try f.db.beginRun(kind: .scan, inventory: nil, options: [String: String](), version: "t")
        try f.db.recordNode(run: run, try Self.scan(outputs: outputs))
        #expect(try f.int("SELECT json_array_length(outputs) FROM device_reads") == 16)
        #expect(try Self.raw(f, run: run) == Self.expectedRaw(outputs))
        #expect(try f.db.nodeScans(run: run).first?.outputs == outputs)
        #expect(try f.strings("SELECT stdout FROM raw_outputs WHERE capture_name = 'sys-block-dm-0-dm-name-uuid'") == [odd])
    }

    /// A text with NUL, which SQLite's JSON functions cut short at `\u0000`, is stored as a
    /// row, as before v0008.
    @Test func aTextWithNULStaysARow() throws {
        let f = try Fresh()
        let outputs = try Self.residualOutputs { name, s in name == "sys-block-sda-device-state" ? "running\u{0}\n" : s }
        let run = try f.db.beginRun(kind: .scan, inventory: nil, options: [String: String](), version: "t")
        try f.db.recordNode(run: run, try Self.scan(outputs: outputs))
        #expect(try f.int("SELECT json_array_length(outputs) FROM device_reads") == 15)
        #expect(try f.strings("SELECT capture_name FROM outputs WHERE capture_name LIKE 'sys-block-%'") == ["sys-block-sda-device-state"])
        #expect(try f.strings("SELECT capture_name FROM raw_outputs ORDER BY position") == outputs.map(\.command.captureName))
    }

    /// Two nodes whose reads differ in one byte get a row each; each reads back its own.
    @Test func aNodesReadsNeverStandForAnothersText() throws {
        let f = try Fresh()
        let one = try Self.residualOutputs()
        let two = try Self.residualOutputs { name, s in name == "sys-block-sdb-device-state" ? "runninG\n" : s }
        let run = try f.db.beginRun(kind: .scan, inventory: nil, options: [String: String](), version: "t")
        try f.db.recordNode(run: run, try Self.scan(node: "worker-1", outputs: one))
        try f.db.recordNode(run: run, try Self.scan(node: "worker-2", outputs: two))
        #expect(try f.int("SELECT COUNT(*) FROM device_reads") == 2)
        let scans = try f.db.nodeScans(run: run)
        #expect(scans.map(\.node) == ["worker-1", "worker-2"])
        #expect(scans.map(\.outputs) == [one, two])
        // The same reads on a third node share the first node's row.
        try f.db.recordNode(run: run, try Self.scan(node: "worker-3", outputs: one))
        #expect(try f.int("SELECT COUNT(*) FROM device_reads") == 2)
    }

    @Test func pruneDeletesReadsNoSetUsesAnyMore() throws {
        let f = try Fresh()
        let times = (0..<2).map { Samples.t0.addingTimeInterval(Double($0) * 3600) }
        let variants: [(String, String) -> String] = [{ _, s in s }, { name, s in name == "sys-block-sdc-device-state" ? "offline\n" : s }]
        for i in 0..<2 {
            let run = try f.db.beginRun(kind: .scan, inventory: nil, options: [String: String](), version: "t", startedAt: times[i])
            try f.db.recordNode(run: run, try Self.scan(at: times[i], outputs: try Self.residualOutputs(edit: variants[i])))
            try f.db.finishRun(run, status: .ok, exitCode: 1, endedAt: times[i].addingTimeInterval(60))
        }
        let outputs = try Self.residualOutputs()
        let first = try f.db.prune(olderThan: times[1])
        #expect(first.runs == 1 && first.rawOutputs == outputs.count)
        #expect(try f.ints("SELECT id FROM device_reads") == [2])
        #expect(try f.db.consistencyProblems() == [])
        _ = try f.db.prune(olderThan: times[1].addingTimeInterval(1))
        for t in ["output_sets", "outputs", "contents", "device_reads"] {
            #expect(try f.int("SELECT COUNT(*) FROM \(t)") == 0, "\(t)")
        }
        #expect(try f.db.consistencyProblems() == [])
    }

    /// An output set may only name reads its device_reads row has (the trigger refuses others).
    @Test func aSetNamingAMissingReadIsRefused() throws {
        let f = try Fresh()
        let run = try f.db.beginRun(kind: .scan, inventory: nil, options: [String: String](), version: "t")
        try f.db.recordNode(run: run, try Self.scan(outputs: try Self.residualOutputs()))
        for list in ["[-17]", "[0]", "[-1,-2,999999]"] {
            #expect(throws: (any Error).self, "\(list)") {
                try f.db.pool.write { db in
                    try db.execute(sql: "INSERT INTO output_sets (digest, outputs, device_reads_id) VALUES (randomblob(32), ?, 1)", arguments: [list])
                }
            }
        }
        #expect(throws: (any Error).self) {
            try f.db.pool.write { db in
                try db.execute(sql: "INSERT INTO output_sets (digest, outputs) VALUES (randomblob(32), '[-1]')")
            }
        }
        try f.db.pool.write { db in
            try db.execute(sql: "INSERT INTO output_sets (digest, outputs, device_reads_id) VALUES (randomblob(32), '[-16,-1]', 1)")
        }
    }

    /// StoredOutput's JSON text: EncoderJSON writes JSONEncoder's bytes or leaves the text to
    /// it, and StoredJSONReader reads what JSONDecoder decodes, for texts of every kind.
    @Test func storedOutputsTextIsJSONEncodersAndReadsBack() throws {
        var rng = SystemRandomNumberGenerator()
        let alphabet: [Character] = ["a", "Z", "0", " ", "\n", "\t", "\r", "\"", "\\", "/", "\u{1}", "\u{1F}", "\u{7F}", "é", "☃", "𝄞", "$", "<"]
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.withoutEscapingSlashes]
        for _ in 0..<500 {
            func text() -> String { String((0..<Int.random(in: 0...12, using: &rng)).map { _ in alphabet.randomElement(using: &rng)! }) }
            let values = (0..<Int.random(in: 0...4, using: &rng)).map { _ in
                StoredOutput(captureName: text(), command: text(), exitCode: Bool.random(using: &rng) ? nil : Int32.random(in: -2...255, using: &rng),
                             stdout: text(), stderr: text())
            }
            let stored = try StoredJSON.outputs(values)
            #expect(stored == String(decoding: try encoder.encode(values), as: UTF8.self), "\(values)")
            #expect(StoredJSON.decodedOutputs(stored) == values, "\(stored)")
            if let mine = StoredJSONReader.outputs(stored) { #expect(mine == values, "\(stored)") }
        }
        #expect(StoredJSONReader.outputs(#"[["a","b",0,"c"]]"#) == nil)  // four values
        #expect(StoredJSONReader.outputs(#"[["a","b",true,"c","d"]]"#) == nil)
        #expect(StoredJSONReader.integers("[1,-2,30]") == [1, -2, 30])
        #expect(StoredJSONReader.integers(#"[1,"2"]"#) == nil)
    }
}
