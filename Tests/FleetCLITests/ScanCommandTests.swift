import ArgumentParser
import Foundation
import Testing
import FleetModel
import FleetStore
import FleetTestSupport
@testable import FleetCLI

/// `fleet scan` run in-process with a ScriptedExecutor (no SSH) and a real SQLite file.
@Suite struct ScanCommandTests {
    final class Dir {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("fleet-scancmd-\(UUID().uuidString)")
        init() throws { try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true) }
        deinit { try? FileManager.default.removeItem(at: url) }
        func write(_ name: String, _ text: String) throws -> String {
            let p = url.appendingPathComponent(name).path
            try text.write(toFile: p, atomically: true, encoding: .utf8)
            return p
        }
        var db: String { url.appendingPathComponent("history.sqlite").path }
    }

    static let inventory = """
        nodes:
          - {name: node-a, address: 127.0.2.1}
          - {name: node-b, address: 127.0.2.2}
          - {name: node-c, address: 127.0.2.3}
        """

    /// The frames a node in capture state `state` sends (FleetTestSupport's reading of the captures).
    static func frames(_ state: String) throws -> [ScriptedExecutor.FrameSpec] {
        try Fixtures.discoveryFrames(state)
    }

    static func residualNode() throws -> ScriptedExecutor.Node {
        let f = try frames("residual")
        return .replies([
            .framing("discovery", matches: { String(decoding: $0.stdin, as: UTF8.self).contains("r multipath-ll ") }) { _ in f },
            .framed(stdinContaining: "r ps-dd-wchan ", [("ps-dd-wchan", 0, "", "")]),
            .framed(stdinContaining: "p dd-dm-0 ", [("dd-dm-0", 1, "", try Fixtures.real("residual", "dd-dm-0.stderr.txt"))]),
        ])
    }
    static func healthyNode() throws -> ScriptedExecutor.Node {
        let f = try frames("healthy")
        return .replies([.framing("discovery", matches: { _ in true }) { _ in f }])
    }

    func run(_ args: [String], _ executor: ScriptedExecutor, progress: Bool = false) async throws -> (code: Int32, out: String, err: String, ssh: [Int]) {
        let (output, capture) = FleetOutput.capture(progress: progress)
        let seen = SeenOptions()
        let ctx = FleetContext(makeExecutor: { o in seen.add(o.maxConcurrentSessions); return executor }, output: output)
        var cmd = try #require(try Fleet.parseAsRoot(["scan"] + args) as? Scan)
        do {
            try await cmd.run(ctx)
            return (0, capture.stdout, capture.stderr, seen.values)
        } catch let e as ExitCode {
            return (e.rawValue, capture.stdout, capture.stderr, seen.values)
        }
    }
    final class SeenOptions: @unchecked Sendable {
        let lock = NSLock(); var v: [Int] = []
        func add(_ x: Int) { lock.withLock { v.append(x) } }
        var values: [Int] { lock.withLock { v } }
    }

    /// `--print-script` needs no inventory, connects nowhere, and prints a script `sh -n`
    /// accepts that runs the read-only discovery (multipath -ll first) and nothing that
    /// changes a node (no flush, delete, message or kill), after phase 1's as comments.
    @Test func printScriptShowsTheDiscoveryScriptWithoutConnecting() async throws {
        let executor = ScriptedExecutor([:])
        let r = try await run(["--print-script"], executor)
        #expect(r.code == 0)
        #expect(r.ssh.isEmpty, "no executor may be made")
        let script = r.out
        // Phase 1 as comments (what it runs, then its script), then the full discovery, runnable.
        #expect(script.hasPrefix("# fleet scan runs up to two scripts per node"))
        #expect(script.contains("\n# _o=$(multipathd show maps json </dev/null; _c=$?; echo .; exit $_c); _m=$?; _j=${_o%.}\n"))
        #expect(script.contains("# ---- phase 2: the full discovery ----\nLC_ALL=C; export LC_ALL\n"))
        #expect(script.contains("\nr multipath-ll 'multipath -ll'"))
        for forbidden in ["multipath -f", "/device/delete", "dmsetup message", "kill -9", "flushbufs"] {
            #expect(!script.contains(forbidden), "\(forbidden)")
        }
        let f = FileManager.default.temporaryDirectory.appendingPathComponent("fleet-script-\(UUID().uuidString).sh")
        try script.write(to: f, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(at: f) }
        let sh = Process()
        sh.executableURL = URL(fileURLWithPath: "/bin/sh")
        sh.arguments = ["-n", f.path]
        try sh.run(); sh.waitUntilExit()
        #expect(sh.terminationStatus == 0, "sh -n rejects the script")
    }

    @Test func withoutInventoryOrPrintScriptIsAUsageError() {
        #expect(throws: (any Error).self) { try Fleet.parseAsRoot(["scan"]) }
    }

    @Test func unreachableNodeMakesExit2EvenWithResidualMapsAndEverythingIsListed() async throws {
        let d = try Dir()
        let inv = try d.write("nodes.yaml", Self.inventory)
        let ex = ScriptedExecutor(["node-a": try Self.residualNode(),
                                   "node-b": .fails(NodeFailure(.refused, "127.0.2.2:22: TCP connect failed: Connection refused")),
                                   "node-c": try Self.healthyNode()])
        let r = try await run(["--inventory", inv, "--db", d.db, "--forks", "7"], ex)
        #expect(r.code == 2)
        #expect(ex.unconsumed.isEmpty)
        #expect(r.ssh == [7])   // SSH sessions bounded like the forks
        let lines = r.out.split(separator: "\n").map(String.init)
        // _lab-luns.txt (residual): mpatha = dm-0, WWID 36001405ae3a…, unmapped, no_path_retry fail.
        #expect(lines.contains { $0.hasPrefix("node-a") && $0.contains("mpatha") && $0.contains("36001405ae3a4a2b307ccf2a518e52df9")
                                  && $0.contains("residual") && $0.contains("Input/output error") })
        #expect(lines.contains { $0.hasPrefix("node-b") && $0.contains("refused") && $0.contains("Connection refused") })
        #expect(!lines.contains { $0.hasPrefix("node-c") })
        #expect(r.out.contains("nodes by status: ok 2, refused 1"))
        #expect(r.out.contains("residual 1"))
        #expect(!r.err.contains("\r"))   // no progress line without a terminal

        let db = try FleetDatabase(path: d.db)
        let runs = try db.runs()
        #expect(runs.count == 1)
        #expect(runs.first?.status == .partial)
        #expect(runs.first?.exitCode == 2)
        let scans = try db.nodeScans(run: runs[0].id)
        #expect(Set(scans.map(\.node)) == ["node-a", "node-b", "node-c"])
        #expect(scans.first { $0.node == "node-a" }?.findings.first { $0.map.name == "mpatha" }?.verdict == .residual)
    }

    @Test func residualOnlyIsExit1AndJSONHasTheExplainMapShape() async throws {
        let d = try Dir()
        let inv = try d.write("nodes.yaml", Self.inventory)
        let ex = ScriptedExecutor(["node-a": try Self.residualNode(), "node-b": try Self.healthyNode(), "node-c": try Self.healthyNode()])
        let r = try await run(["--inventory", inv, "--db", d.db, "--format", "json", "--limit", "node-a,node-b"], ex)
        #expect(r.code == 1)
        #expect(ex.sessions.sorted() == ["node-a", "node-b"])   // --limit honoured
        let doc = try #require(try JSONSerialization.jsonObject(with: Data(r.out.utf8)) as? [String: Any])
        #expect(doc["exitCode"] as? Int == 1)
        let nodes = try #require(doc["nodes"] as? [[String: Any]])
        #expect(nodes.map { $0["node"] as? String } == ["node-a", "node-b"])
        #expect(nodes[0]["status"] as? String == "ok")
        #expect(nodes[0]["error"] is NSNull)
        let maps = try #require(nodes[0]["maps"] as? [[String: Any]])
        #expect(maps.count == 4)
        #expect(maps.first { $0["name"] as? String == "mpatha" }?["verdict"] as? String == "residual")
        // The explain map shape, every field present (null when missing).
        #expect(Set(maps[0].keys) == ["name", "wwid", "dm", "vendor", "product", "size", "features", "hwhandler", "wp",
                                      "pathGroups", "verdict", "reasons"])
    }

    @Test func inventoryErrorsAreExit65WithFileLineAndColumn() async throws {
        let d = try Dir()
        let inv = try d.write("nodes.yaml", "nodes:\n  - {name: node-a, address: 127.0.2.1, colour: blue}\n")
        let r = try await run(["--inventory", inv, "--db", d.db], ScriptedExecutor([:]))
        #expect(r.code == 65)
        #expect(r.err.contains("nodes.yaml:2:"))
        #expect(r.out.isEmpty)
    }

    @Test func progressLineOnlyWhenAskedFor() async throws {
        let d = try Dir()
        let inv = try d.write("nodes.yaml", "nodes:\n  - {name: node-c, address: 127.0.2.3}\n")
        let r = try await run(["--inventory", inv, "--db", d.db], ScriptedExecutor(["node-c": try Self.healthyNode()]), progress: true)
        #expect(r.code == 0)
        #expect(r.err.contains("scanning 1/1"))
        #expect(r.err.hasSuffix("\r\u{1B}[K"))   // cleared before the result is printed
    }
}
