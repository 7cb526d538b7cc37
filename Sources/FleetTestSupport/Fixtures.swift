import Foundation
import FleetModel

/// Locates the real-kernel captures and the vendor's samples, both inside the repository
/// (`fixtures/real`, `fixtures/vendor`), so a clone alone runs every test.
public enum Fixtures {
    /// The repository root, found from this source file's location.
    public static let repoRoot: URL = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// `fixtures/real` in the repository, or `FLEET_FIXTURES` when set (to try new captures
    /// before they are copied in).
    public static var realRoot: URL {
        if let env = ProcessInfo.processInfo.environment["FLEET_FIXTURES"] { return URL(fileURLWithPath: env) }
        return repoRoot.appendingPathComponent("fixtures/real")
    }

    /// `fixtures/vendor`: the vendor procedure's sample outputs, one file per sample.
    public static var vendorRoot: URL { repoRoot.appendingPathComponent("fixtures/vendor") }

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
    /// One of the vendor procedure's sample outputs (`fixtures/vendor/README.md` lists them).
    public static func vendor(_ name: String) throws -> String {
        try String(contentsOf: vendorRoot.appendingPathComponent(name), encoding: .utf8)
    }
}
