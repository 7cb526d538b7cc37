import ArgumentParser
import FleetModel
import FleetRollout

/// The root command. One file per subcommand (Explain.swift, Scan.swift, …).
public struct Fleet: AsyncParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "fleet",
        abstract: "Find and safely remove residual dm-multipath devices across a fleet of Linux nodes.",
        version: FleetVersion.current,
        subcommands: [Explain.self, Scan.self, Clean.self, History.self, Sweep.self, Report.self]
    )
    public init() {}
}

public enum FleetVersion {
    public static let current = "0.1.0"
}

extension Fleet {
    /// The process entry point, called by Sources/fleet/main.swift.
    ///
    /// Why not `await Fleet.main()`: from top-level code in main.swift that call resolves to
    /// ParsableCommand's synchronous `main()`, which refuses an async root command at run
    /// time ("Asynchronous root command needs availability annotation"). Parsing and running
    /// here keeps both async and sync subcommands working.
    public static func runMain(_ arguments: [String]? = nil) async -> Never {
        StandardStream.ignoreBrokenPipes()
        do {
            var command = try parseAsRoot(arguments)
            if var asyncCommand = command as? any AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
            exit()
        } catch {
            exit(withError: error)
        }
    }
}
