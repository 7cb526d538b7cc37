import ArgumentParser
import Foundation
import Testing
import FleetModel
import FleetTestSupport
@testable import FleetCLI

/// `fleet scan` over real SSH against the simulated farm (tools/farm/farm, real sshd on
/// 127.0.2.x–127.0.3.x). Serialized: the suites share the addresses. Ground truth is the
/// farm's farm.json (expected verdict per WWID, faults per node), written by the farm.
enum ScanFarmAvailability {
    static let farm = Fixtures.repoRoot.appendingPathComponent("tools/farm/farm").path
    static var available: Bool {
        FileManager.default.isExecutableFile(atPath: farm) && FileManager.default.isExecutableFile(atPath: "/usr/sbin/sshd")
    }
}

@Suite(.serialized, .enabled(if: ScanFarmAvailability.available))
struct ScanFarmTests {
    static let farm = ScanFarmAvailability.farm

    /// What a node with this fault must end as. Every one ends by itself within its deadlines.
    static let statusForFault: [String: NodeStatus] = [
        "down": .refused, "silent": .handshakeTimeout, "hung": .commandTimeout, "wrong-hostkey": .hostKeyChanged,
    ]

    struct Farm {
        let dir: String
        let json: [String: Any]
        var nodes: [[String: Any]] { json["nodes"] as! [[String: Any]] }
        var inventory: String { dir + "/inventory.yaml" }
    }

    @discardableResult
    static func sh(_ args: [String], env: [String: String] = [:]) throws -> (Int32, String) {
        let p = Process()
        // Through python3 with the signal mask cleared: a child of the test process inherits
        // its blocked signals, and `farm up` (multiprocessing) was seen to hang with them.
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["python3", "-c",
                       "import os, signal, sys; signal.pthread_sigmask(signal.SIG_SETMASK, []); os.execvp(sys.argv[1], sys.argv[1:])"] + args
        p.environment = ProcessInfo.processInfo.environment.merging(env) { $1 }
        // Output to a file, not a pipe: daemons that `farm up` starts could inherit a pipe
        // and keep it open, so reading to EOF would never end.
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("fleet-scanfarm-out-\(UUID().uuidString)")
        FileManager.default.createFile(atPath: file.path, contents: nil)
        defer { try? FileManager.default.removeItem(at: file) }
        let handle = try FileHandle(forWritingTo: file)
        p.standardOutput = handle; p.standardError = handle
        p.standardInput = FileHandle.nullDevice
        try p.run()
        p.waitUntilExit()
        try handle.close()
        let data = try Data(contentsOf: file)
        return (p.terminationStatus, String(decoding: data, as: UTF8.self))
    }

    static func up(_ n: Int, mix: String, seed: Int) throws -> Farm {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("fleet-scanfarm-\(UUID().uuidString.prefix(8))").path
        let (rc, out) = try sh(["python3", farm, "up", String(n), "--dir", dir, "--base", "127.0.2.1",
                                "--seed", String(seed), "--mix", mix])
        guard rc == 0 else {
            _ = try? sh(["python3", farm, "down", "--dir", dir])
            throw FarmError(text: "farm up failed: \(out)")
        }
        let data = try Data(contentsOf: URL(fileURLWithPath: dir + "/farm.json"))
        return Farm(dir: dir, json: try JSONSerialization.jsonObject(with: data) as! [String: Any])
    }
    static func down(_ f: Farm) {
        _ = try? sh(["python3", farm, "down", "--dir", f.dir])
        try? FileManager.default.removeItem(atPath: f.dir)
    }
    struct FarmError: Error, CustomStringConvertible { var text: String; var description: String { text } }

    static func scan(_ args: [String]) async throws -> (code: Int32, out: String, err: String) {
        let (output, capture) = FleetOutput.capture()
        let ctx = FleetContext(makeExecutor: FleetContext.live().makeExecutor, output: output)
        var cmd = try #require(try Fleet.parseAsRoot(["scan"] + args) as? Scan)
        do {
            try await cmd.run(ctx)
            return (0, capture.stdout, capture.stderr)
        } catch let e as ExitCode {
            return (e.rawValue, capture.stdout, capture.stderr)
        }
    }

    static func sqlite(_ db: String, _ sql: String) throws -> [[String]] {
        let (rc, out) = try sh(["sqlite3", "-cmd", ".timeout 10000", "-separator", "|", db, sql])
        guard rc == 0 else { throw FarmError(text: "sqlite3: \(out)") }
        return out.split(separator: "\n").map { $0.split(separator: "|", omittingEmptySubsequences: false).map(String.init) }
    }

    @Test func twoHundredNodesGetTheRightVerdictAndStatusAndTheHistoryHoldsIt() async throws {
        let f = try Self.up(200, mix: "residual=0.15,hung=0.06,degraded=0.1,inuse=0.06,pathloss=0.04,down=0.02,silent=0.02,hungcmd=0.02,hostkey=0.02",
                            seed: 42)
        defer { Self.down(f) }
        let db = f.dir + "/history.sqlite"
        let r = try await Self.scan(["--inventory", f.inventory, "--db", db, "--format", "json", "--forks", "64",
                                     "--connect-timeout", "3s", "--command-timeout", "8s", "--probe-timeout", "2s"])
        let doc = try #require(try JSONSerialization.jsonObject(with: Data(r.out.utf8)) as? [String: Any])
        let nodes = try #require(doc["nodes"] as? [[String: Any]])
        #expect(nodes.count == 200)
        let byName = Dictionary(uniqueKeysWithValues: nodes.map { ($0["node"] as! String, $0) })

        var faulty = 0, residual = 0, checkedMaps = 0
        for spec in f.nodes {
            let name = spec["name"] as! String
            let got = try #require(byName[name])
            let faults = (spec["faults"] as? [String]) ?? []
            if let fault = faults.first(where: { Self.statusForFault[$0] != nil }) {
                faulty += 1
                #expect(got["status"] as? String == Self.statusForFault[fault]!.rawValue, "\(name) \(fault): \(got["error"] ?? "")")
                continue
            }
            #expect(got["status"] as? String == "ok", "\(name): \(got["error"] ?? "")")
            let expected = spec["expected"] as! [String: String]
            let maps = got["maps"] as! [[String: Any]]
            #expect(maps.count == expected.count, "\(name)")
            for m in maps {
                let wwid = m["wwid"] as! String
                #expect(m["verdict"] as? String == expected[wwid], "\(name) \(wwid): \(m["reasons"] ?? "")")
                checkedMaps += 1
                if (m["verdict"] as? String)?.hasPrefix("residual") == true { residual += 1 }
            }
        }
        #expect(faulty > 0 && residual > 0 && checkedMaps > 200)
        #expect(r.code == 2)   // some nodes could not be scanned: 2 wins over 1

        // The history, read with sqlite3: one run, 200 node rows with the same statuses, the same verdicts.
        let runs = try Self.sqlite(db, "SELECT id, kind, status, exit_code FROM runs")
        #expect(runs.count == 1)
        #expect(runs.first.map { Array($0[1...]) } == ["scan", "partial", "2"])
        let rows = try Self.sqlite(db, "SELECT node, status FROM node_runs ORDER BY node")
        #expect(rows.count == 200)
        for row in rows { #expect(byName[row[0]]?["status"] as? String == row[1], "\(row[0])") }
        let stored = try Self.sqlite(db, "SELECT node, wwid, verdict FROM maps")
        #expect(stored.count == checkedMaps)
        let expectedByWWID = Dictionary(f.nodes.flatMap { s in
            ((s["expected"] as? [String: String]) ?? [:]).map { ("\(s["name"]!)/\($0.key)", $0.value) } }, uniquingKeysWith: { a, _ in a })
        for row in stored { #expect(expectedByWWID["\(row[0])/\(row[1])"] == row[2], "\(row)") }
        let outputs = try Self.sqlite(db, "SELECT count(*) FROM node_runs WHERE status = 'ok'")
        #expect(outputs.first?.first == String(200 - faulty))
    }

    @Test func sigkillMidwayLeavesFinishedNodesAndTheRunMarkedInterrupted() async throws {
        let fleet = try #require(FleetBinary.path, "\(FleetBinary.missing)")
        // Many hung commands: the run cannot finish before the kill.
        let f = try Self.up(120, mix: "residual=0.2,hungcmd=0.3", seed: 7)
        defer { Self.down(f) }
        let db = f.dir + "/history.sqlite"
        let p = Process()
        p.executableURL = URL(fileURLWithPath: fleet)
        p.arguments = ["scan", "--inventory", f.inventory, "--db", db, "--forks", "16", "--command-timeout", "30s"]
        p.standardOutput = FileHandle.nullDevice; p.standardError = FileHandle.nullDevice
        try p.run()
        // Wait (no time assertion) until some nodes are stored, then SIGKILL.
        var stored = 0
        for _ in 0..<600 where stored < 20 {
            try await Task.sleep(for: .milliseconds(100))
            stored = Int((try? Self.sqlite(db, "SELECT count(*) FROM node_runs"))?.first?.first ?? "0") ?? 0
        }
        kill(p.processIdentifier, SIGKILL)
        p.waitUntilExit()
        #expect(stored >= 20)
        #expect(try Self.sqlite(db, "SELECT status FROM runs") == [["running"]])
        let before = try Self.sqlite(db, "SELECT count(*) FROM node_runs").first?.first

        // The next start marks it interrupted and keeps every finished node, maps included.
        let next = try await Self.scan(["--inventory", f.inventory, "--db", db, "--limit", "node-0001", "--format", "json"])
        #expect(next.code <= 2)
        let runs = try Self.sqlite(db, "SELECT id, status FROM runs ORDER BY id")
        #expect(runs.first?[1] == "interrupted")
        #expect(try Self.sqlite(db, "SELECT count(*) FROM node_runs WHERE run_id = \(runs[0][0])").first?.first == before)
        let orphanMaps = try Self.sqlite(db, "SELECT count(*) FROM node_runs n WHERE n.run_id = \(runs[0][0]) AND n.status = 'ok' AND NOT EXISTS (SELECT 1 FROM maps m WHERE m.state_id = n.state_id)")
        #expect(orphanMaps == [["0"]])
        #expect(try Self.sqlite(db, "PRAGMA integrity_check") == [["ok"]])
    }
}
