import ArgumentParser
import FleetModel

/// The root command. One file per subcommand (Explain.swift, Scan.swift, …).
public struct Fleet: AsyncParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "fleet",
        abstract: "Find and safely remove residual dm-multipath devices across a fleet of Linux nodes.",
        version: FleetVersion.current,
        subcommands: [Explain.self, Scan.self, Clean.self, History.self, Sweep.self, BenchParse.self]
    )
    public init() {}
}

public enum FleetVersion {
    public static let current = "0.1.0"
}
