import Foundation
import FleetModel

extension Fixtures {
    /// The frames a node in capture state `state` sends for fleet's discovery script: every
    /// capture under fixtures/real/<state> whose name is a read-only discovery
    /// command, with its stderr and its exit code from meta.tsv. `ps-dd-wchan`, probes and
    /// action captures are left out (they answer other scripts). `edit(name, stdout)` may
    /// change a capture (a test's variation of the real output).
    ///
    /// The lab captures have no /proc/mounts, which a node's discovery always sends: one
    /// is added with only the root file system (nothing on those lab guests mounted the maps).
    public static func discoveryFrames(_ state: String, edit: (String, String) -> String = { _, s in s })
        throws -> [ScriptedExecutor.FrameSpec] {
        let dir = realRoot.appendingPathComponent(state)
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
            let err = (try? real(state, name + ".stderr.txt")) ?? ""
            frames.append(.init(name: name, exitCode: codes[name] ?? 0, stdout: edit(name, try real(state, file)), stderr: err))
        }
        if !frames.contains(where: { $0.name == "proc-mounts" }) {
            frames.append(.init(name: "proc-mounts", stdout: "/dev/vda1 / ext4 rw,relatime 0 0\nproc /proc proc rw 0 0\n"))
        }
        return frames
    }
}
