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
