import ArgumentParser
import FleetModel
import FleetRollout
import FleetStore
import FleetTestSupport
import Foundation
import Testing
@testable import FleetCLI

/// `fleet sweep` run in-process through its injectable context: real inventory file, real
/// SQLite history, real lock file, real metrics file; nodes answered by a ScriptedExecutor
/// with the real captures of fixtures/real.
@Suite(.serialized) struct SweepTests {
    let dir: String

    init() throws {
        dir = NSTemporaryDirectory() + "fleet-sweep-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    }

    func write(_ name: String, _ text: String) throws -> String {
        let path = dir + "/" + name
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    /// Runs `fleet sweep args` with `executor`; returns the exit status and what it wrote.
    func sweep(_ args: [String], executor: any RemoteExecutor) async throws -> (Int32, OutputCapture) {
        let (output, capture) = FleetOutput.capture()
        let ctx = FleetContext(makeExecutor: { _ in executor }, output: output, environment: [:])
        var cmd = try Sweep.parse(args)
        do {
            try await cmd.run(ctx)
            return (0, capture)
        } catch let e as ExitCode {
            return (e.rawValue, capture)
        }
    }

    /// The discovery reply of a node in capture state `state` (FleetTestSupport's frames).
    static func discovery(_ state: String) throws -> ScriptedExecutor.Reply {
        let all = try Fixtures.discoveryFrames(state)
        return .framing("discovery of \(state)", matches: { String(decoding: $0.stdin, as: UTF8.self).contains("r multipath-ll ") }) { _ in all }
    }

    static func residualProbe() throws -> ScriptedExecutor.Reply {
        let ddErr = try Fixtures.real("residual", "dd-dm-0.stderr.txt")
        return .framed(stdinContaining: "p dd-dm-0 ", [("dd-dm-0", 1, "", ddErr)])
    }

    static let inventory = """
    nodes:
      - {name: node-1, address: 127.0.9.1}
      - {name: node-2, address: 127.0.9.2}
      - {name: node-3, address: 127.0.9.3}
    """

    @Test func scansRecordsLogsAndWritesMetrics() async throws {
        let inv = try write("nodes.yaml", Self.inventory)
        let ex = ScriptedExecutor([
            // _lab-luns.txt of `residual`: mpatha (dm-0) unmapped, the other three healthy.
            // Discovery, then the probe phase: `ps` first (no dd left from an earlier probe), then the probe.
            "node-1": .replies([try Self.discovery("residual"),
                                .framed(stdinContaining: "r ps-dd-wchan ", [("ps-dd-wchan", 0, "", "")]),
                                try Self.residualProbe()]),
            "node-2": .replies([try Self.discovery("healthy")]),
            "node-3": .fails(NodeFailure(.refused, "node-3: 127.0.9.3:22: connection refused")),
        ])
        let metrics = dir + "/fleet.prom"
        let (code, out) = try await sweep(["--inventory", inv, "--db", dir + "/h.sqlite", "--log-format", "json",
                                           "--metrics-file", metrics], executor: ex)
        #expect(ex.unconsumed.isEmpty)
        #expect(code == 2)  // node-3 not scanned wins over node-1's residual map
        #expect(out.stdout == "")

        let events = try out.stderr.split(separator: "\n").map { line in
            try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
        }
        #expect(events.allSatisfy { $0["timestamp"] is String && $0["level"] is String && $0["fields"] is [String: Any] })
        let scanned = events.filter { $0["event"] as? String == "node.scanned" }
        #expect(Set(scanned.compactMap { $0["node"] as? String }) == ["node-1", "node-2", "node-3"])
        let n3 = try #require(scanned.first { $0["node"] as? String == "node-3" })
        #expect(n3["level"] as? String == "warning")
        #expect((n3["fields"] as? [String: Any])?["status"] as? String == "refused")
        let found = events.filter { $0["event"] as? String == "map.found" }
        #expect(found.count == 1)
        let f = try #require(found.first?["fields"] as? [String: Any])
        #expect(found.first?["node"] as? String == "node-1")
        #expect(f["map"] as? String == "mpatha")
        #expect(f["wwid"] as? String == "36001405ae3a4a2b307ccf2a518e52df9")
        #expect(f["verdict"] as? String == "residual")
        let finished = try #require(events.last)
        #expect(finished["event"] as? String == "sweep.finished")
        #expect((finished["fields"] as? [String: Any])?["exit_code"] as? Int == 2)

        let samples = try prometheusParse(metrics).samples
        #expect(samples["fleet_sweep_maps{node=node-1,verdict=residual}"] == 1)
        #expect(samples.keys.filter { $0.hasPrefix("fleet_sweep_maps{") }.count == 1)
        #expect(samples["fleet_sweep_nodes{status=ok}"] == 2)
        #expect(samples["fleet_sweep_nodes{status=refused}"] == 1)
        #expect(samples["fleet_sweep_maps_skipped{}"] == 1)
        #expect(samples["fleet_sweep_maps_cleaned{}"] == 0)
        #expect(samples["fleet_sweep_success{}"] == 0)
        #expect(samples["fleet_sweep_exit_code{}"] == 2)
        #expect(samples["fleet_sweep_last_success_timestamp_seconds{}"] == nil)

        // The history holds the sweep run and its three nodes.
        let db = try FleetDatabase(path: dir + "/h.sqlite")
        let runs = try db.runs(limit: 10)
        #expect(runs.count == 1)
        #expect(runs.first?.kind == .sweep)
        #expect(runs.first?.exitCode == 2)
    }

    @Test func successSetsLastSuccessAndAFailedRunKeepsIt() async throws {
        let inv = try write("nodes.yaml", "nodes:\n  - {name: node-2, address: 127.0.9.2}\n")
        let metrics = dir + "/fleet.prom"
        let args = ["--inventory", inv, "--db", dir + "/h.sqlite", "--metrics-file", metrics]
        let (code, _) = try await sweep(args, executor: ScriptedExecutor(["node-2": .replies([try Self.discovery("healthy")])]))
        #expect(code == 0)
        let first = try prometheusParse(metrics).samples
        #expect(first["fleet_sweep_success{}"] == 1)
        let lastSuccess = try #require(first["fleet_sweep_last_success_timestamp_seconds{}"])
        #expect(abs(lastSuccess - Date().timeIntervalSince1970) < 3600)

        // A broken inventory: exit 65, success 0, and the earlier success time survives.
        _ = try write("nodes.yaml", "nodes:\n  - {name: node-2, adress: 127.0.9.2}\n")
        let (code2, out2) = try await sweep(args, executor: ScriptedExecutor([:]))
        #expect(code2 == 65)
        #expect(out2.stderr.contains("inventory.invalid"))
        #expect(out2.stderr.contains("nodes.yaml:2:20: node node-2: unknown key 'adress'; did you mean 'address'?"))
        let second = try prometheusParse(metrics).samples
        #expect(second["fleet_sweep_success{}"] == 0)
        #expect(second["fleet_sweep_exit_code{}"] == 65)
        #expect(second["fleet_sweep_last_success_timestamp_seconds{}"] == lastSuccess)
    }

    /// An executor whose sessions wait until `open()`, then fail as refused: holds a sweep
    /// in the middle of its scan for as long as the test needs.
    final class GateExecutor: RemoteExecutor, @unchecked Sendable {
        // @unchecked: `isOpen` only touched under `lock`.
        let lock = NSLock()
        var isOpen = false
        func open() { lock.withLock { isOpen = true } }
        func withSession<T: Sendable>(to target: NodeTarget, _ body: @Sendable (any RemoteSession) async throws -> T) async throws -> T {
            while !lock.withLock({ isOpen }) { try await Task.sleep(for: .milliseconds(5)) }
            throw NodeFailure(.refused, "\(target.name): refused")
        }
    }

    @Test func twoSweepsAtOnceOneRunsTheOtherExits75() async throws {
        let inv = try write("nodes.yaml", "nodes:\n  - {name: node-1, address: 127.0.9.1}\n")
        let lockPath = dir + "/custom.lock"
        let metrics = dir + "/fleet.prom"
        let args = ["--inventory", inv, "--db", dir + "/h.sqlite", "--lock", lockPath, "--metrics-file", metrics]
        let gate = GateExecutor()
        let first = Task { try await sweep(args, executor: gate) }
        // Wait until the first sweep holds the lock (it writes its pid into the file).
        while ((try? String(contentsOfFile: lockPath, encoding: .utf8)) ?? "").isEmpty {
            try await Task.sleep(for: .milliseconds(5))
        }
        let (code, out) = try await sweep(args, executor: ScriptedExecutor([:]))
        #expect(code == 75)
        #expect(out.stderr.contains("sweep.locked"))
        #expect(out.stderr.contains("locked by pid \(getpid())"))
        #expect(!FileManager.default.fileExists(atPath: metrics))  // the busy sweep touched nothing

        gate.open()
        let (firstCode, firstOut) = try await first.value
        #expect(firstCode == 2)
        #expect(firstOut.stderr.contains("sweep.finished"))
        #expect(FileManager.default.fileExists(atPath: metrics))
        // Released: the next sweep runs.
        let (third, _) = try await sweep(args, executor: GateExecutor.opened())
        #expect(third == 2)
    }
}

extension SweepTests.GateExecutor {
    static func opened() -> SweepTests.GateExecutor { let g = SweepTests.GateExecutor(); g.open(); return g }
}

extension SweepTests {
    /// --report: the page is written after each sweep, replaced whole (no temporary file
    /// left), shows the sweep that just ended; a report that cannot be written is an event
    /// and leaves the exit status alone.
    @Test func reportIsRewrittenAfterEachSweep() async throws {
        let inv = try write("nodes.yaml", "nodes:\n  - {name: node-1, address: 127.0.9.1}\n")
        let page = dir + "/site/fleet.html"
        try FileManager.default.createDirectory(atPath: dir + "/site", withIntermediateDirectories: true)
        func residualNode() throws -> ScriptedExecutor {
            ScriptedExecutor(["node-1": .replies([try Self.discovery("residual"),
                                                  .framed(stdinContaining: "r ps-dd-wchan ", [("ps-dd-wchan", 0, "", "")]),
                                                  try Self.residualProbe()])])
        }
        let args = ["--inventory", inv, "--db", dir + "/h.sqlite", "--log-format", "json", "--report", page]
        for run in 1...2 {
            let (code, out) = try await sweep(args, executor: try residualNode())
            #expect(code == 1, "residual map left in place")
            #expect(out.stderr.contains(#""event":"report.written""#), "\(out.stderr)")
            let html = try String(contentsOfFile: page, encoding: .utf8)
            #expect(html.contains("Latest run · #\(run) sweep"))
            // The residual map of the `residual` capture (mpatha) on node-1, once per sweep so far.
            #expect(html.contains(#"<g class="hm-row" data-node="node-1" data-total="\#(run)""#))
            #expect(try FileManager.default.contentsOfDirectory(atPath: dir + "/site") == ["fleet.html"])
        }
        let (code, out) = try await sweep(["--inventory", inv, "--db", dir + "/h.sqlite", "--log-format", "json",
                                           "--report", dir + "/missing/fleet.html"], executor: try residualNode())
        #expect(code == 1)
        #expect(out.stderr.contains(#""event":"report.failed""#), "\(out.stderr)")
    }
}
