import Foundation
import FleetModel
import FleetStore
import FleetTestSupport
@testable import FleetRollout

/// Shared pieces of the clean tests: real captures turned into node-script frames, and a
/// fresh history database per test.
enum CleanFixtures {
    /// The read-only discovery captures of a state folder under ../shared/fixtures/real,
    /// as (capture name, exit code, stdout, stderr), with exit codes from meta.tsv.
    /// `ps-dd-wchan`, probes and non-discovery captures are left out.
    static func discoveryFrames(_ state: String, edit: (String, String) -> String = { _, s in s })
        throws -> [ScriptedExecutor.FrameSpec] {
        let dir = Fixtures.realRoot.appendingPathComponent(state)
        var codes: [String: Int32] = [:]
        if let meta = try? String(contentsOf: dir.appendingPathComponent("meta.tsv"), encoding: .utf8) {
            for line in meta.split(separator: "\n") {
                let f = line.split(separator: "\t", omittingEmptySubsequences: false)
                if f.count >= 2, let c = Int32(f[1]) { codes[String(f[0])] = c }
            }
        }
        var frames: [ScriptedExecutor.FrameSpec] = []
        for file in try FileManager.default.contentsOfDirectory(atPath: dir.path).sorted()
        where file.hasSuffix(".txt") && !file.hasSuffix(".stderr.txt") && !file.hasPrefix("_") {
            let name = String(file.dropLast(4))
            guard let cmd = NodeCommand(captureName: name), !cmd.isAction, cmd != .stuckProbes else { continue }
            if case .probe = cmd { continue }
            let out = try String(contentsOf: dir.appendingPathComponent(file), encoding: .utf8)
            let err = (try? String(contentsOf: dir.appendingPathComponent(name + ".stderr.txt"), encoding: .utf8)) ?? ""
            frames.append(.init(name: name, exitCode: codes[name] ?? 0, stdout: edit(name, out), stderr: err))
        }
        // The lab captures have no /proc/mounts: a node with only its root file system mounted.
        frames.append(.init(name: "proc-mounts", stdout: "/dev/vda1 / ext4 rw,relatime 0 0\nproc /proc proc rw 0 0\n"))
        return frames
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
