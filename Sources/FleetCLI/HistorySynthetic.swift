import ArgumentParser
import Foundation
import FleetModel
import FleetRollout
import FleetStore

/// Hidden: writes a scan run of synthetic nodes through the real store API, one
/// transaction per node, printing `committed NODE` after each commit. The kill-safety test
/// SIGKILLs it midway and checks the reopened database; not for users.
struct HistorySyntheticWriter: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "synthetic-writer",
        abstract: "Test helper: write synthetic node results until killed.",
        shouldDisplay: false)
    @OptionGroup var database: DatabaseOptions
    @Option var nodes: Int = 1_000_000
    @Option(help: "Pause after each node, in milliseconds.")
    var pauseMS: Int = 0

    func run() async throws {
        let db = try database.open()
        let run = try db.beginRun(kind: .scan, inventory: "synthetic", options: ["writer": "synthetic"], version: FleetVersion.current)
        // Unbuffered: the test reads each line as soon as its node is committed.
        StandardStream.out("run \(run)\n")
        for i in 0..<nodes {
            try db.recordNode(run: run, Self.scan(index: i))
            StandardStream.out("committed node-\(i)\n")
            if pauseMS > 0 { try await Task.sleep(for: .milliseconds(pauseMS)) }
        }
        try db.finishRun(run, status: .ok, exitCode: 0)
    }

    /// One node with one residual map of two failed paths and its raw output.
    static func scan(index i: Int) -> NodeScan {
        let wwid = "3600a0980383030523424457a4a6f\(String(format: "%04x", i % 65536))"
        let map = MultipathMap(name: "mpatha", wwid: wwid, dm: "dm-0", vendor: "NETAPP", product: "LUN C-Mode",
                               size: "10G", features: "3 queue_if_no_path pg_init_retries 50", hwhandler: "1 alua", wp: "rw",
                               pathGroups: [PathGroup(policy: "service-time 0", prio: 0, status: "enabled", paths: [
                                   Path(hctl: "2:0:0:1", dev: "sdb", majorMinor: "8:16", dmState: .failed, checkerState: .faulty, deviceState: .running),
                                   Path(hctl: "3:0:0:1", dev: "sdc", majorMinor: "8:32", dmState: .failed, checkerState: .faulty, deviceState: .running),
                               ])], line: 1)
        return NodeScan(node: "node-\(i)", address: "127.0.0.1", status: .ok, startedAt: Date(), duration: .milliseconds(120),
                        outputs: [CommandOutput(command: .multipathList, stdout: "synthetic \(i)\n")],
                        findings: [MapFinding(map: map, verdict: .residual, reasons: ["all 2 paths failed faulty"])])
    }
}
