import Foundation
import FleetModel
import FleetStore
import FleetTestSupport
@testable import FleetRollout

/// Shared pieces of the clean tests: real captures turned into node-script frames, and a
/// fresh history database per test.
enum CleanFixtures {
    /// The read-only discovery captures of a state folder under fixtures/real as
    /// node-script frames (FleetTestSupport's reading of the captures; `edit` varies one).
    static func discoveryFrames(_ state: String, edit: (String, String) -> String = { _, s in s })
        throws -> [ScriptedExecutor.FrameSpec] {
        try Fixtures.discoveryFrames(state, edit: edit)
    }

    /// The probe output of a state folder (dd-dm-N), for classifying it like a scan.
    static func probeOutput(_ state: String, dm: String) throws -> CommandOutput {
        let dir = Fixtures.realRoot.appendingPathComponent(state)
        let out = try String(contentsOf: dir.appendingPathComponent("dd-\(dm).txt"), encoding: .utf8)
        let err = (try? String(contentsOf: dir.appendingPathComponent("dd-\(dm).stderr.txt"), encoding: .utf8)) ?? ""
        let meta = try String(contentsOf: dir.appendingPathComponent("meta.tsv"), encoding: .utf8)
        let code = meta.split(separator: "\n").map { $0.split(separator: "\t") }.first { $0.first == "dd-\(dm)" }.flatMap { Int32($0[1]) }
        return CommandOutput(command: .probe(DMDeviceName(dm)!, seconds: 15), stdout: out, stderr: err, exitCode: code)
    }

    /// A scan of the state folder as the scanner would produce it (classifier included).
    static func scan(_ state: String, node: String = "node-1", probes: [String], at: Date) throws -> NodeScan {
        var outputs = try discoveryFrames(state).map {
            CommandOutput(command: NodeCommand(captureName: $0.name)!, stdout: $0.stdout, stderr: $0.stderr, exitCode: $0.exitCode)
        }
        for dm in probes { outputs.append(try probeOutput(state, dm: dm)) }
        let findings = Classifier.classify(NodeSnapshot(outputs: outputs))
        return NodeScan(node: node, address: "127.0.0.1", status: .ok, startedAt: at, duration: .seconds(1),
                        outputs: outputs, findings: findings)
    }

    static let psEmpty = "    PID    PPID STAT WCHAN                            ELAPSED CMD\n"
}

/// A fresh history database in its own temporary folder.
struct TempHistory {
    let dir: URL
    let db: FleetDatabase
    init() throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("fleet-clean-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        db = try FleetDatabase(path: dir.appendingPathComponent("history.sqlite").path)
    }
    func cleanup() { try? FileManager.default.removeItem(at: dir) }
}
