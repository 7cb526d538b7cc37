import Foundation

/// The built `fleet` executable, for tests that run it as a real process (signals, locks,
/// exit codes, closed pipes): `$FLEET_BIN`, or the `fleet` next to the test bundle, which
/// `swift build --build-tests` builds alongside it.
public enum FleetBinary {
    public static var path: String? {
        if let b = ProcessInfo.processInfo.environment["FLEET_BIN"] { return b }
        var dir = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        for _ in 0..<3 {
            let candidate = dir.appendingPathComponent("fleet").path
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
            dir = dir.deletingLastPathComponent()
        }
        return nil
    }

    /// What to say when it is missing.
    public static let missing = "fleet binary not found next to \(CommandLine.arguments[0]); build with `swift build --build-tests` or set FLEET_BIN"
}
