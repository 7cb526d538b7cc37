import Foundation
import FleetModel

/// Locates the shared real-kernel captures (../shared/fixtures/real from the repo root).
public enum Fixtures {
    /// The repository root, found from this source file's location.
    public static let repoRoot: URL = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// `../shared/fixtures/real`, or `FLEET_FIXTURES` when set.
    public static var realRoot: URL {
        if let env = ProcessInfo.processInfo.environment["FLEET_FIXTURES"] { return URL(fileURLWithPath: env) }
        return repoRoot.deletingLastPathComponent().appendingPathComponent("shared/fixtures/real")
    }

    /// Reads `<state>/<name>` under the real captures, byte-exact.
    public static func real(_ state: String, _ name: String) throws -> String {
        try String(contentsOf: realRoot.appendingPathComponent(state).appendingPathComponent(name), encoding: .utf8)
    }
}

extension Fixtures {
    /// The state folders under ``realRoot`` (`healthy`, `residual`, …), sorted.
    public static func realStates() throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: realRoot.path).filter { name in
            var dir: ObjCBool = false
            return FileManager.default.fileExists(atPath: realRoot.appendingPathComponent(name).path, isDirectory: &dir) && dir.boolValue
        }.sorted()
    }

    /// Every file of one state folder: file name → contents.
    public static func realFiles(_ state: String) throws -> [String: String] {
        let dir = realRoot.appendingPathComponent(state)
        var out: [String: String] = [:]
        for n in try FileManager.default.contentsOfDirectory(atPath: dir.path) {
            out[n] = try String(contentsOf: dir.appendingPathComponent(n), encoding: .utf8)
        }
        return out
    }

    /// One state folder as the command outputs a scan would have collected.
    public static func realOutputs(_ state: String) throws -> [CommandOutput] {
        NodeSnapshot.outputs(fromCaptureFiles: try realFiles(state))
    }
}

extension Fixtures {
    /// The vendor procedure, `../shared/reference/residual-drive-letters.txt` (next to the fixtures).
    public static func vendorDoc() throws -> String {
        try String(contentsOf: realRoot.deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("reference/residual-drive-letters.txt"), encoding: .utf8)
    }
}
